import { createRuntimeClient, LockboxRuntimeError } from "@lockbox/sdk";
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
        // Like every command: LOCKBOX_URL, else the server saved by auth:login (not needed, so not
        // read, in local mode).
        const { env } = context.io;
        const localMode = Boolean(env.LOCKBOX_SECRETS_FILE?.trim() || env.CUSTOMER_SECRETS_FAKE_FILE?.trim());
        const url =
          env.LOCKBOX_URL?.trim() ||
          (localMode
            ? undefined
            : (await readConfig(context.configDir, (message) => context.warn(message)))?.url);
        try {
          const client = createRuntimeClient({
            processEnv: context.io.env,
            url,
            logger: { warn: (message) => context.warn(message) },
            ...(context.io.fetch ? { fetch: context.io.fetch } : {}),
          });
          value = await client.getSecret(name);
        } catch (error) {
          if (error instanceof LockboxRuntimeError) {
            if (error.code === "NOT_CONFIGURED") throw new UsageError(error.message);
            throw new CliError(error.message);
          }
          throw error;
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
