import { SECRET_ROLLED_BACK_MESSAGE } from "@lockbox/core";
import type { LockboxClient, RollbackResult, SecretOwner, SecretVersion } from "@lockbox/sdk";
import { type Command, Option } from "commander";
import { parseEnvOption, parsePositiveInteger, parseSiteArg } from "../arguments.js";
import { formatOption, parseOrgArg, withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { type Column, type ListFormat, printList, REDACTED } from "../output.js";

/** The largest version number a rollback names (the server's bound). */
const MAX_VERSION = 2 ** 31 - 1;

interface HistoryOptions {
  readonly format: ListFormat;
  readonly showValues?: boolean;
}

/** Registers `secret:site:history`, `secret:site:rollback`, `secret:org:history` and `secret:org:rollback`. */
export function registerSecretHistoryCommands(program: Command, context: CliContext): void {
  program.commandsGroup("Secret history:");

  withExamples(
    historyOptions(
      program
        .command("secret:site:history")
        .description(
          "List every version of a site secret's value (with <site>.<env>, of its override there), newest first: when, by whom, and what was done.",
        )
        .argument("<site>", "site name or UUID; <site>.<env> for the override in that environment")
        .argument("<name>", "secret name"),
    ).action(async (target: string, name: string, options: HistoryOptions) => {
      const { site, env } = parseSiteArg(target, "optional");
      await printHistory(context, { site }, name, env, options);
    }),
    [
      "lockbox secret:site:history my-site API_KEY",
      "lockbox secret:site:history my-site.live API_KEY --show-values",
      "lockbox secret:site:history my-site API_KEY --format=json",
    ],
  );

  withExamples(
    program
      .command("secret:site:rollback")
      .description(
        "Make an earlier version of a site secret's value (with <site>.<env>, of its override) current again, as a new version.",
      )
      .argument("<site>", "site name or UUID; <site>.<env> for the override in that environment")
      .argument("<name>", "secret name")
      .addOption(toOption())
      .action(async (target: string, name: string, options: { readonly to: string }) => {
        const { site, env } = parseSiteArg(target, "optional");
        await rollback(context, { site }, name, env, options.to);
      }),
    [
      "lockbox secret:site:rollback my-site API_KEY --to=1",
      "lockbox secret:site:rollback my-site.live API_KEY --to=3",
    ],
  );

  withExamples(
    historyOptions(
      program
        .command("secret:org:history")
        .description(
          "List every version of an organization secret's value (with --env, of its override there), newest first.",
        )
        .argument("<org>", "organization name or UUID")
        .argument("<name>", "secret name")
        .addOption(new Option("--env <env>", "the override in this environment instead of the base value")),
    ).action(async (org: string, name: string, options: HistoryOptions & { readonly env?: string }) => {
      const env = options.env === undefined ? undefined : parseEnvOption(options.env);
      await printHistory(context, { org: parseOrgArg(org) }, name, env, options);
    }),
    [
      "lockbox secret:org:history my-org API_KEY",
      "lockbox secret:org:history my-org API_KEY --env=live --show-values",
    ],
  );

  withExamples(
    program
      .command("secret:org:rollback")
      .description(
        "Make an earlier version of an organization secret's value (with --env, of its override) current again, as a new version (org admins).",
      )
      .argument("<org>", "organization name or UUID")
      .argument("<name>", "secret name")
      .addOption(new Option("--env <env>", "the override in this environment instead of the base value"))
      .addOption(toOption())
      .action(async (org: string, name: string, options: { readonly to: string; readonly env?: string }) => {
        const env = options.env === undefined ? undefined : parseEnvOption(options.env);
        await rollback(context, { org: parseOrgArg(org) }, name, env, options.to);
      }),
    [
      "lockbox secret:org:rollback my-org API_KEY --to=2",
      "lockbox secret:org:rollback my-org API_KEY --env=live --to=1",
    ],
  );
}

function historyOptions(command: Command): Command {
  return command
    .addOption(formatOption())
    .addOption(
      new Option(
        "--show-values",
        "include the values you may read (secrets with the user scope; others show [REDACTED]); audited",
      ),
    );
}

function toOption(): Option {
  return new Option(
    "--to <version>",
    "the version to make current (see the history command)",
  ).makeOptionMandatory();
}

async function printHistory(
  context: CliContext,
  owner: SecretOwner,
  name: string,
  env: string | undefined,
  options: HistoryOptions,
): Promise<void> {
  const client: LockboxClient = await context.client();
  const versions = await client.secretVersions(owner, name, { env, values: options.showValues === true });
  const columns: Column<SecretVersion>[] = [
    { header: "version", get: (v) => v.version },
    { header: "at", get: (v) => v.at },
    { header: "actor", get: (v) => v.actor },
    { header: "action", get: (v) => v.action },
  ];
  // A delete version holds no value: its cell stays empty rather than [REDACTED].
  if (options.showValues) {
    columns.push({
      header: "value",
      get: (v) => (v.action === "delete" ? "" : (v.value ?? REDACTED)),
      table: "shrink",
    });
  }
  printList(context, versions, columns, options.format, `Secret '${name}' has no versions here.`);
}

async function rollback(
  context: CliContext,
  owner: SecretOwner,
  name: string,
  env: string | undefined,
  to: string,
): Promise<void> {
  const version = parsePositiveInteger(to, "--to", MAX_VERSION);
  const client = await context.client();
  const result: RollbackResult = await client.rollbackSecret(owner, name, { to: version, env });
  const where = result.env === null ? "" : ` in ${result.env}`;
  context.info(
    `${result.message || SECRET_ROLLED_BACK_MESSAGE} '${result.name}'${where} is now version ${result.version}, with the value of version ${result.from}.`,
  );
}
