import { MAX_IMPORT_ENTRIES } from "@lockbox/core";
import type { ImportInput, ImportResult, LockboxClient } from "@lockbox/sdk";
import { type Command, Option } from "commander";
import { parse as parseDotenv } from "dotenv";
import { parseEnvOption, parseScopeOption, parseSiteArg } from "../arguments.js";
import { parseOrgArg, scopeOption, typeOption, withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { ENV_FORMATS, type EnvFormat, exactDotenvQuote, formatEnv } from "../env-format.js";
import { CliError, UsageError } from "../errors.js";
import { decodeUtf8, MAX_STDIN_BYTES, readFileBytes, readStdinBytes } from "../input.js";

/** The server refuses a larger body (413); the CLI says so first, with the fix. */
const MAX_IMPORT_BODY_BYTES = 128 * 1024;

/** A name a shell and a dotenv file can hold. */
const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface ImportOptions {
  readonly type?: ImportInput["type"];
  readonly scope?: string;
  readonly dryRun?: boolean;
  readonly env?: string;
}

/** Registers `secret:site:import`, `secret:org:import` and `secret:site:export`. */
export function registerSecretTransferCommands(program: Command, context: CliContext): void {
  program.commandsGroup("Import and export:");
  const importHelp =
    "a .env file (dotenv syntax: quotes, multiline values, `export` prefixes, comments) or a JSON object of names to values (.json, or content starting with '{'); - reads it from stdin";

  withExamples(
    program
      .command("secret:site:import")
      .description(
        "Set every secret of a .env or JSON file on a site (with <site>.<env>, as overrides there): all of them, or none when one is refused.",
      )
      .argument("<site>", "site name or UUID; <site>.<env> imports overrides for that environment")
      .argument("<file>", importHelp)
      .addOption(typeOption())
      .addOption(scopeOption())
      .option("--dry-run", "print the plan without changing anything")
      .action(async (target: string, file: string, options: ImportOptions) => {
        const { site, env } = parseSiteArg(target, "optional");
        await importCommand(context, file, env, options, (client, input) =>
          client.importSiteSecrets(site, input),
        );
      }),
    [
      "lockbox secret:site:import my-site .env --scope=web,user",
      "lockbox secret:site:import my-site.live .env.live --dry-run",
      "lockbox secret:site:import my-site secrets.json",
    ],
  );

  withExamples(
    program
      .command("secret:org:import")
      .description(
        "Set every secret of a .env or JSON file on an organization (with --env, as overrides there): all of them, or none.",
      )
      .argument("<org>", "organization name or UUID")
      .argument("<file>", importHelp)
      .addOption(new Option("--env <env>", "import overrides for this environment instead of default values"))
      .addOption(typeOption())
      .addOption(scopeOption())
      .option("--dry-run", "print the plan without changing anything")
      .action(async (orgArg: string, file: string, options: ImportOptions) => {
        const org = parseOrgArg(orgArg);
        const env = options.env === undefined ? undefined : parseEnvOption(options.env);
        await importCommand(context, file, env, options, (client, input) =>
          client.importOrgSecrets(org, input),
        );
      }),
    [
      "lockbox secret:org:import my-org .env --scope=web,user",
      "lockbox secret:org:import my-org .env.live --env=live",
    ],
  );

  withExamples(
    program
      .command("secret:site:export")
      .description(
        "Write the values you may read (user scope) as a .env file, JSON or shell exports: with <site>.<env> as resolved for that environment, else the default values. Skipped secrets are named on stderr.",
      )
      .argument("<site>", "site name or UUID, optionally .<env>")
      .addOption(new Option("--format <format>", "output format").choices(ENV_FORMATS).default("dotenv"))
      .action(async (target: string, options: { readonly format: EnvFormat }) => {
        const { site, env } = parseSiteArg(target, "optional");
        await exportCommand(context, site, env, options.format);
      }),
    [
      "lockbox secret:site:export my-site.dev > .env",
      "lockbox secret:site:export my-site.live --format=json",
      'lockbox_env="$(lockbox secret:site:export my-site.dev --format=shell)" || exit; eval "$lockbox_env"',
    ],
  );
}

async function importCommand(
  context: CliContext,
  file: string,
  env: string | undefined,
  options: ImportOptions,
  send: (client: LockboxClient, input: ImportInput) => Promise<ImportResult>,
): Promise<void> {
  const scopes = options.scope === undefined ? undefined : parseScopeOption(options.scope);
  const secrets =
    file === "-"
      ? parseImportText(
          decodeUtf8(await readStdinBytes(context.io.stdin, "file to import"), "stdin"),
          "stdin",
        )
      : await readImportFile(file);
  const count = Object.keys(secrets).length;
  if (count === 0)
    throw new CliError(`${file === "-" ? "stdin" : file} holds no secrets: nothing to import.`);
  if (count > MAX_IMPORT_ENTRIES) {
    throw new CliError(
      `${file} holds ${count} secrets, more than ${MAX_IMPORT_ENTRIES}: split it and import each part.`,
    );
  }
  const input: ImportInput = { secrets, env, type: options.type, scopes, dryRun: options.dryRun === true };
  if (Buffer.byteLength(JSON.stringify(input), "utf8") > MAX_IMPORT_BODY_BYTES) {
    throw new CliError(
      `${file} is larger than the server takes at once (128 KiB): split it and import each part.`,
    );
  }
  const client = await context.client();
  const result = await send(client, input);
  const width = Math.max(...result.plan.map((entry) => entry.action.length));
  for (const entry of result.plan) {
    const reason = entry.reason === undefined ? "" : `  ${entry.reason}`;
    context.data(`${entry.action.padEnd(width)}  ${entry.name}${reason}`);
  }
  const refused = result.plan.filter((entry) => entry.action === "refused").length;
  if (refused > 0) {
    throw new CliError(
      `Nothing was imported: ${result.plan.length === 1 ? "the entry was" : `${refused} of the ${result.plan.length} entries ${refused === 1 ? "was" : "were"}`} refused (see above). Fix them and import again.`,
    );
  }
  const counts = (["create", "update", "unchanged"] as const).map(
    (action) => `${result.plan.filter((entry) => entry.action === action).length} ${action}`,
  );
  context.info(
    result.applied
      ? `Imported: ${counts.join(", ")}.`
      : `Dry run, nothing was changed: ${counts.join(", ")}.`,
  );
  for (const note of result.notes) context.info(note);
}

/**
 * The secrets of an import file: JSON when it is named `.json` or starts with `{` (an object of
 * names to string values), otherwise dotenv as the `dotenv` package reads it. A leading byte-order
 * mark is dropped (the parser would otherwise miss the first line).
 */
export async function readImportFile(file: string): Promise<Record<string, string>> {
  const bytes = await readFileBytes(
    file,
    (code) => new UsageError(`Cannot read ${file} (${code}): check the path of the file to import.`),
    `The file ${file} is longer than an import can be (${MAX_STDIN_BYTES} bytes): check the path of the file to import.`,
  );
  return parseImportText(decodeUtf8(bytes, `The file ${file}`), file);
}

/** {@link readImportFile}'s parsing of the text of `file` (`stdin` for `-`). */
function parseImportText(raw: string, file: string): Record<string, string> {
  const text = raw.replace(/^\uFEFF/, "");
  if (!file.toLowerCase().endsWith(".json") && !text.trimStart().startsWith("{")) {
    return { ...parseDotenv(text) };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliError(
      `${file} is not valid JSON (${(error as Error).message}): it must be an object of names to values.`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new CliError(`${file} must hold a JSON object of names to values, e.g. {"API_KEY": "value"}.`);
  }
  if (isSecretsFile(parsed)) {
    throw new CliError(
      `Nothing was imported: ${file} is a secrets file (as secret:site:local-generate writes, {"Secrets": {NAME: {"Value": …}}}), not an object of names to values. To move a site's secrets, write them with lockbox secret:site:export <site> --format=json > secrets-export.json and import that file.`,
    );
  }
  const problems = Object.entries(parsed)
    .filter(([, value]) => typeof value !== "string")
    .map(([name, value]) => `${name} (${value === null ? "null" : typeof value})`);
  if (problems.length > 0) {
    throw new CliError(
      `Nothing was imported: every value in ${file} must be a string, and these are not: ${problems.join(", ")}. Quote them.`,
    );
  }
  return parsed as Record<string, string>;
}

/**
 * Whether `parsed` is a `local-generate` file or the seed product's fake file
 * (`{"Secrets": {name: {"Value": …}}}`), which a user may take for an import file.
 */
function isSecretsFile(parsed: object): boolean {
  const secrets = (parsed as Record<string, unknown>).Secrets;
  return (
    typeof secrets === "object" &&
    secrets !== null &&
    !Array.isArray(secrets) &&
    Object.values(secrets).every((row) => typeof row === "object" && row !== null && "Value" in row)
  );
}

async function exportCommand(
  context: CliContext,
  site: string,
  env: string | undefined,
  format: EnvFormat,
): Promise<void> {
  const client = await context.client();
  const readable = new Map<string, string>();
  const redacted = new Set<string>();
  if (env === undefined) {
    for (const row of await client.listSiteSecrets(site)) {
      if (row.value === null) redacted.add(row.name);
      else readable.set(row.name, row.value);
    }
  } else {
    // People resolve with the user scope (SPEC §2.4); what the application and builds receive
    // besides is named as skipped, since the caller may not read it.
    for (const row of await client.resolve(site, env, "user")) {
      if (row.value !== null) readable.set(row.name, row.value);
    }
    for (const scope of ["web", "ic"] as const) {
      for (const row of await client.resolve(site, env, scope)) {
        if (!readable.has(row.name)) redacted.add(row.name);
      }
    }
  }
  const variables: Record<string, string> = Object.create(null);
  const unnamed: string[] = [];
  const unquotable: string[] = [];
  for (const [name, value] of readable) {
    if (format !== "json" && !ENV_VAR_NAME.test(name)) unnamed.push(name);
    else if (format === "dotenv" && exactDotenvQuote(value) === undefined) unquotable.push(name);
    // A shell variable ends at a NUL byte (bash drops it): the value would change unnoticed.
    else if (format === "shell" && value.includes("\0")) unquotable.push(name);
    else variables[name] = value;
  }
  context.io.stdout.write(format === "dotenv" ? formatDotenv(variables) : formatEnv(variables, format));
  const list = (names: Iterable<string>) => [...names].sort().join(", ");
  if (redacted.size > 0) {
    context.info(`Skipped (you may not read them: no user scope): ${list(redacted)}`);
  }
  if (unnamed.length > 0) {
    context.info(
      `Skipped (not valid environment variable names; --format=json keeps them): ${list(unnamed)}`,
    );
  }
  if (unquotable.length > 0) {
    context.info(
      `Skipped (values ${format === "shell" ? "a shell variable" : "a .env file"} cannot hold exactly; --format=json keeps them): ${list(unquotable)}`,
    );
  }
}

/** `NAME='value'` lines in name order, quoted so that the import parser reads each value back exactly. */
function formatDotenv(variables: Readonly<Record<string, string>>): string {
  const names = Object.keys(variables).sort();
  return names.map((name) => `${name}=${exactDotenvQuote(variables[name] as string)}\n`).join("");
}
