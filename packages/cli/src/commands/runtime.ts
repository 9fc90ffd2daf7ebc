import { createRuntimeClient, LockboxRuntimeError, type RuntimeClient } from "@lockbox/sdk";
import type { Command } from "commander";
import { withExamples } from "../command-helpers.js";
import { readConfig } from "../config.js";
import type { CliContext } from "../context.js";
import { CliError, UsageError } from "../errors.js";

/** Registers `runtime:get`: one secret as the application reads it, with its runtime token. */
export function registerRuntimeCommand(program: Command, context: CliContext): void {
  withExamples(
    program
      .command("runtime:get")
      .description(
        "Print one secret as the application receives it (LOCKBOX_RUNTIME_TOKEN, from LOCKBOX_URL or the server of lockbox auth:login; or LOCKBOX_SECRETS_FILE). Exit 1 when the application does not receive it.",
      )
      .argument("<name>", "the secret's name")
      .action(async (name: string) => {
        let value: string | null;
        try {
          value = await (await cliRuntimeClient(context)).getSecret(name);
        } catch (error) {
          throw runtimeFailure(error);
        }
        if (value === null) {
          throw new CliError(
            `Secret '${name}' is not available to this runtime: it does not exist for this site environment, or it has no web scope.`,
          );
        }
        // The value exactly; a newline only for a person at a terminal.
        context.io.stdout.write(context.io.stdout.isTTY ? `${value}\n` : value);
      }),
    [
      "lockbox runtime:get API_KEY      (with LOCKBOX_URL and LOCKBOX_RUNTIME_TOKEN set)",
      'export DB_PASSWORD="$(lockbox runtime:get DB_PASSWORD)"',
      "LOCKBOX_SECRETS_FILE=./secrets.json LOCKBOX_ENV=dev lockbox runtime:get API_KEY",
    ],
  );
}

/**
 * The runtime client of `runtime:get` and `run`: `LOCKBOX_SECRETS_FILE` (local mode), else
 * `LOCKBOX_RUNTIME_TOKEN` against `LOCKBOX_URL` or, like every command, the server saved by
 * `auth:login` (not needed, so not read, in local mode).
 *
 * @throws {LockboxRuntimeError} `NOT_CONFIGURED`; see {@link runtimeFailure}.
 */
export async function cliRuntimeClient(
  context: CliContext,
  options: { readonly ttlSeconds?: number; readonly onChange?: () => void } = {},
): Promise<RuntimeClient> {
  const { env } = context.io;
  const url =
    env.LOCKBOX_URL?.trim() ||
    (isLocalMode(env) ? undefined : (await readConfig(context.configDir, (m) => context.warn(m)))?.url);
  return createRuntimeClient({
    processEnv: env,
    url,
    logger: { warn: (message) => context.warn(message) },
    ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }),
    // A watch (blocking reads) that says when the set changed.
    ...(options.onChange ? { watch: true, onChange: options.onChange } : {}),
    ...(context.io.fetch ? { fetch: context.io.fetch } : {}),
  });
}

/** True when the runtime client reads a local file rather than the server. */
export function isLocalMode(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(env.LOCKBOX_SECRETS_FILE?.trim() || env.CUSTOMER_SECRETS_FAKE_FILE?.trim());
}

/** A runtime read's failure as the CLI reports it: not configured is a usage error (exit 2), the rest exit 1. */
export function runtimeFailure(error: unknown): unknown {
  if (error instanceof LockboxRuntimeError) {
    return error.code === "NOT_CONFIGURED" ? new UsageError(error.message) : new CliError(error.message);
  }
  return error;
}
