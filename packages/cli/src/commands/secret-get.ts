import { SCOPE_ORDER, type Scope } from "@lockbox/core";
import type { LockboxClient } from "@lockbox/sdk";
import { type Command, Option } from "commander";
import { parseEnvOption, parseSiteArg } from "../arguments.js";
import { parseOrgArg, withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { CliError } from "../errors.js";

/** The `--scope` of get and diff: which consumer's resolution (SPEC §2.4) to read. */
export function consumerScopeOption(): Option {
  return new Option(
    "--scope <scope>",
    "the consumer whose value to read: web (the application), ic (builds) or user (people)",
  )
    .choices(["web", "ic", "user"] as const)
    .default("web");
}

/** `my-site.live`, or `my-site (base values)` for a bare site. */
export function describeSide(site: string, env: string | undefined): string {
  return env === undefined ? `${site} (base values)` : `${site}.${env}`;
}

/** Registers `secret:site:get` and `secret:org:get`. */
export function registerSecretGetCommands(program: Command, context: CliContext): void {
  program.commandsGroup("Read one value, compare environments:");

  withExamples(
    program
      .command("secret:site:get")
      .description(
        "Print one resolved value exactly (no newline added unless stdout is a terminal); exit 1 when absent or redacted.",
      )
      .argument("<site>", "site name or UUID, optionally .<env> (without it, the base value)")
      .argument("<name>", "secret name")
      .addOption(consumerScopeOption())
      .action(async (target: string, name: string, options: { readonly scope: Scope }) => {
        const { site, env } = parseSiteArg(target, "optional");
        const client = await context.client();
        const row = (await client.resolve(site, env, options.scope)).find((r) => r.name === name);
        const where = describeSide(site, env);
        if (row === undefined) throw await absentError(client, site, env, name, options.scope);
        if (row.value === null) {
          const orgOwned = row.source === "org" || row.source === "org-override";
          throw new CliError(
            redactedMessage(name, where, row.source, row.scopes, orgOwned ? "secret:org" : "secret:site"),
          );
        }
        writeValue(context, row.value);
      }),
    [
      "lockbox secret:site:get my-site.live API_KEY",
      'API_KEY="$(lockbox secret:site:get my-site.live API_KEY)"',
      "lockbox secret:site:get my-site.live TLS_KEY > key.pem",
      "lockbox secret:site:get my-site.dev COMPOSER_AUTH --scope=ic",
    ],
  );

  withExamples(
    program
      .command("secret:org:get")
      .description(
        "Print an organization's own value exactly (its override for --env, else its base value); exit 1 when absent or redacted.",
      )
      .argument("<org>", "organization name or UUID")
      .argument("<name>", "secret name")
      .addOption(new Option("--env <env>", "read the override for this environment, else the base value"))
      .action(async (orgArg: string, name: string, options: { readonly env?: string }) => {
        const org = parseOrgArg(orgArg);
        const env = options.env === undefined ? undefined : parseEnvOption(options.env);
        const client = await context.client();
        const row = (await client.listOrgSecrets(org)).find((r) => r.name === name);
        if (row === undefined) {
          throw new CliError(`Secret '${name}' does not exist in organization '${org}'.`);
        }
        const overridden = env !== undefined && Object.hasOwn(row.envValues, env);
        const value = overridden ? (row.envValues[env] ?? null) : row.value;
        if (value === null) {
          const where = env === undefined ? `organization '${org}'` : `organization '${org}' (${env})`;
          throw new CliError(
            redactedMessage(name, where, overridden ? "org-override" : "org", row.scopes, "secret:org"),
          );
        }
        writeValue(context, value);
      }),
    ["lockbox secret:org:get acme API_KEY", "lockbox secret:org:get acme API_KEY --env=live"],
  );
}

/**
 * Writes the value byte for byte, so that `> file` and `$(…)` get exactly it; a terminal also gets a
 * newline when the value has none, so that the prompt does not follow on the same line.
 */
function writeValue(context: CliContext, value: string): void {
  const stdout = context.io.stdout;
  stdout.write(stdout.isTTY === true && !value.endsWith("\n") ? `${value}\n` : value);
}

function redactedMessage(
  name: string,
  where: string,
  source: string,
  scopes: readonly string[],
  commands: "secret:site" | "secret:org",
): string {
  const owner = commands === "secret:org" ? "the organization's" : "the site's";
  return (
    `Secret '${name}' in ${where} is redacted: ${owner} secret (source ${source}, scopes ${scopes.join(", ")}) ` +
    "lacks the user scope, so no person may read it. Scopes cannot be changed: delete the secret " +
    `(${commands}:delete) and create it again with --scope=${[...scopes, "user"].join(",")}.`
  );
}

/**
 * Absent for this consumer: says whether another consumer sees the name, so that "absent" is not
 * mistaken for "does not exist" (a build-only secret has no web scope).
 */
async function absentError(
  client: LockboxClient,
  site: string,
  env: string | undefined,
  name: string,
  scope: Scope,
): Promise<CliError> {
  const others: Scope[] = [];
  for (const other of SCOPE_ORDER) {
    if (other === scope) continue;
    if ((await client.resolve(site, env, other)).some((r) => r.name === name)) others.push(other);
  }
  const where = describeSide(site, env);
  const hint =
    others.length === 0
      ? ""
      : ` It reaches the ${others.join(" and ")} scope${others.length > 1 ? "s" : ""}: add --scope=${others[0]}.`;
  return new CliError(`Secret '${name}' does not exist in ${where} for the ${scope} scope.${hint}`);
}
