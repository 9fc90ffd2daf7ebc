import type { Readable } from "node:stream";
import { buildEnvironmentError, isBuildEnvironment, isUuid } from "@lockbox/core";
import { type BuildSecrets, BuildSecretsError, fetchBuildSecrets } from "@lockbox/sdk";
import { type Command, Option } from "commander";
import { parseSiteArg } from "../arguments.js";
import {
  childEnvironment,
  commandOf,
  exitOf,
  FORWARDED_SIGNALS_TEXT,
  forwardSignals,
  LOCKBOX_CREDENTIALS,
  secretVariables,
  skippedMessage,
  spawnCommand,
} from "../child-process.js";
import { withDoubleDashHelp, withExamples } from "../command-helpers.js";
import { readConfig } from "../config.js";
import type { CliContext } from "../context.js";
import { ENV_FORMATS, type EnvFormat, formatEnv } from "../env-format.js";
import { CliError, UsageError } from "../errors.js";
import { Masker, maskNeedles } from "../masking.js";

/** Registers `build:env` and `build:run` (SPEC §4), which read with a build token. */
export function registerBuildCommands(program: Command, context: CliContext): void {
  program.commandsGroup("Builds (with LOCKBOX_BUILD_TOKEN):");

  withExamples(
    program
      .command("build:env")
      .description(
        "Print the build's environment variables (env secrets and COMPOSER_AUTH) for <site>.<env>, read with the build token in LOCKBOX_BUILD_TOKEN. Shell output is quoted safely for any value.",
      )
      .argument("<site.env>", "the site environment the build token is bound to (dev or a multidev)")
      .addOption(new Option("--format <format>", "output format").choices(ENV_FORMATS).default("shell"))
      .action(async (target: string, options: { format: EnvFormat }) => {
        const secrets = await buildSecrets(context, target);
        context.io.stdout.write(
          formatEnv(
            buildVariables(secrets, (m) => context.warn(m)),
            options.format,
          ),
        );
      }),
    [
      'lockbox_env="$(lockbox build:env my-site.dev)" || exit; eval "$lockbox_env"',
      "lockbox build:env my-site.dev --format=dotenv > .env",
      "lockbox build:env my-site.feature --format=json",
    ],
  );

  withExamples(
    withDoubleDashHelp(
      program
        .command("build:run")
        .description(
          `Run a command with the build's environment variables and COMPOSER_AUTH set, masking every value of 4 or more characters as *** in its output, and exit with its exit code (128 + n when signal n killed it). ${FORWARDED_SIGNALS_TEXT} are passed on to the command, which decides how to stop.`,
        )
        .argument("<site.env>", "the site environment the build token is bound to (dev or a multidev)")
        .argument("<command...>", "the command and its arguments, after --")
        .passThroughOptions()
        .action(async (target: string, command: string[]) => {
          const secrets = await buildSecrets(context, target);
          const variables = buildVariables(secrets, (m) => context.warn(m));
          context.exitCode = await runMasked(
            context,
            command,
            variables,
            maskNeedles([...Object.values(variables), ...composerCredentials(secrets.composerAuth)]),
          );
        }),
      "the command to run and its arguments",
    ),
    [
      "lockbox build:run my-site.dev -- composer install --no-interaction",
      "lockbox build:run my-site.feature -- npm run build",
    ],
  );
}

/**
 * Lockbox's own variables: a build secret of one of these names is left out of the build, as
 * `run` leaves it out of the application's. `LOCKBOX_URL` too: a build that evaluates
 * `build:env` would otherwise send its build token, on its next `lockbox build:*`, wherever the
 * secret points.
 */
const LOCKBOX_VARIABLES: ReadonlySet<string> = new Set([...LOCKBOX_CREDENTIALS, "LOCKBOX_URL"]);

/**
 * The variables a build gets: its `env` secrets (with `run`'s rule: names checked again, Lockbox's
 * own variables left out, the skipped ones named through `warn`, never their values), and
 * `COMPOSER_AUTH` when there are credentials.
 */
export function buildVariables(
  secrets: BuildSecrets,
  warn: (message: string) => void = () => {},
): Record<string, string> {
  const { variables, skipped } = secretVariables(secrets.env, LOCKBOX_VARIABLES);
  if (skipped.length > 0) warn(skippedMessage(skipped));
  if (Object.keys(secrets.composerAuth).length > 0)
    variables.COMPOSER_AUTH = JSON.stringify(secrets.composerAuth);
  return variables;
}

/**
 * The credentials inside `COMPOSER_AUTH`, each on its own, for masking: Composer prints them one by
 * one (`composer config --list`), where the whole JSON value never appears. Every string in the
 * object but a `username`, and each `http-basic` pair as `USER:PASSWORD` and in base64, the form an
 * `Authorization: Basic` header shows.
 */
export function composerCredentials(composerAuth: Readonly<Record<string, unknown>>): string[] {
  const credentials: string[] = [];
  const walk = (value: unknown, key: string | undefined) => {
    if (typeof value === "string") {
      if (key !== "username") credentials.push(value);
    } else if (typeof value === "object" && value !== null) {
      for (const [childKey, child] of Object.entries(value)) walk(child, childKey);
    }
  };
  walk(composerAuth, undefined);
  const httpBasic = composerAuth["http-basic"];
  if (typeof httpBasic === "object" && httpBasic !== null) {
    for (const entry of Object.values(httpBasic)) {
      const { username, password } = (entry ?? {}) as { username?: unknown; password?: unknown };
      if (typeof username !== "string" || typeof password !== "string") continue;
      credentials.push(`${username}:${password}`, Buffer.from(`${username}:${password}`).toString("base64"));
    }
  }
  return credentials;
}

async function buildSecrets(context: CliContext, target: string): Promise<BuildSecrets> {
  const { site, env } = parseSiteArg(target, "required");
  // No build token can be bound to test or live (SPEC §4): say so rather than ask for one.
  if (env !== undefined && !isBuildEnvironment(env)) {
    throw new UsageError(
      `${buildEnvironmentError(env).message} No build token exists for ${site}.${env}: run the build in ${site}.dev or a multidev, with its build token (lockbox token:build:create ${site}.dev).`,
    );
  }
  const { env: vars } = context.io;
  const token = vars.LOCKBOX_BUILD_TOKEN?.trim();
  if (!token) {
    throw new UsageError(
      `Builds read secrets with a build token: set LOCKBOX_BUILD_TOKEN (mint one with: lockbox token:build:create ${site}.${env}).`,
    );
  }
  if (!token.startsWith("lbb_")) {
    throw new UsageError(
      `LOCKBOX_BUILD_TOKEN holds a ${token.startsWith("lbx_") ? "user" : token.startsWith("lbr_") ? "runtime" : "malformed"} token; builds need a build token (lbb_…): lockbox token:build:create ${site}.${env}`,
    );
  }
  const url = vars.LOCKBOX_URL?.trim() || (await readConfig(context.configDir, (m) => context.warn(m)))?.url;
  if (!url)
    throw new CliError("No Lockbox server is configured: set LOCKBOX_URL (or run lockbox auth:login).");
  let secrets: BuildSecrets;
  try {
    secrets = await fetchBuildSecrets({
      url,
      token,
      ...(context.io.fetch ? { fetch: context.io.fetch } : {}),
    });
  } catch (error) {
    if (error instanceof BuildSecretsError && error.status === 401) {
      throw new CliError(
        `${url} refused LOCKBOX_BUILD_TOKEN: ${error.message} Mint a new build token with: lockbox token:build:create ${site}.${env}`,
      );
    }
    if (error instanceof BuildSecretsError) throw new CliError(error.message);
    throw error;
  }
  // The token decides what is read; a mismatch means the wrong token for this build.
  if ((site !== secrets.site && !isUuid(site)) || env !== secrets.environment) {
    throw new CliError(
      `LOCKBOX_BUILD_TOKEN is bound to ${secrets.site}.${secrets.environment}, not ${site}.${env}: use the build token of ${site}.${env}.`,
    );
  }
  return secrets;
}

/** Runs `command` with `variables` added to the environment; its output is masked line by line. */
async function runMasked(
  context: CliContext,
  command: string[],
  variables: Record<string, string>,
  needles: string[],
): Promise<number> {
  const [file, args] = commandOf(command, "build:run");
  const env = childEnvironment(context.io.env, variables);
  const child = spawnCommand(file, args, { env, stdio: ["inherit", "pipe", "pipe"] });
  // Both are pipes (stdio above).
  const pipes = [
    { from: child.stdout as Readable, to: context.io.stdout, masker: new Masker(needles) },
    { from: child.stderr as Readable, to: context.io.stderr, masker: new Masker(needles) },
  ];
  // Should masking ever fail, nothing unmasked is written: the command is stopped instead.
  let maskingFailed = false;
  const pass = (to: { write(text: string): unknown }, mask: () => string) => {
    if (maskingFailed) return;
    let text: string;
    try {
      text = mask();
    } catch {
      maskingFailed = true;
      child.kill("SIGKILL");
      return;
    }
    to.write(text);
  };
  for (const { from, to, masker } of pipes) {
    from.setEncoding("utf8");
    from.on("data", (chunk: string) => pass(to, () => masker.push(chunk)));
    from.on("end", () => pass(to, () => masker.end()));
  }
  const stopForwarding = forwardSignals((signal) => child.kill(signal));
  let code: number;
  try {
    code = await exitOf(child, file, "close");
  } finally {
    stopForwarding();
  }
  if (maskingFailed) {
    throw new CliError(
      "The command's output could not be masked, so the command was stopped and the rest of its output withheld.",
    );
  }
  return code;
}

/** The variables `build:run` keeps from the command it runs. */
export { LOCKBOX_CREDENTIALS } from "../child-process.js";
