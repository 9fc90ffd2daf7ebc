import {
  buildOverrideWarning,
  emailSchema,
  isUuid,
  LockboxError,
  noWebScopeNote,
  orgNameSchema,
  SECRET_TYPES,
  type SecretType,
  validateSecretName,
} from "@lockbox/core";
import type { LockboxClient, SecretInput, SetSecretResult } from "@lockbox/sdk";
import { type Command, Option } from "commander";
import { EMAIL_IN_PLACE_OF_NAME, parseScopeOption } from "./arguments.js";
import type { CliContext } from "./context.js";
import { CliError, UsageError } from "./errors.js";
import { confirm, readSecretValue } from "./input.js";
import { type FieldSet, LIST_FORMATS, type ListFormat } from "./output.js";

/** Appends an `Examples:` section to a command's `--help`. */
export function withExamples(command: Command, examples: readonly string[]): Command {
  return command.addHelpText("after", `\nExamples:\n${examples.map((line) => `  $ ${line}`).join("\n")}\n`);
}

/** `--format`, limited to `formats`, default `table`. */
export function formatOption(formats: readonly ListFormat[] = LIST_FORMATS): Option {
  return new Option("--format <format>", "output format").choices(formats).default("table");
}

/** `--fields=a,b` or `--fields='*'`, listing the fields in the help. */
export function fieldsOption(fields: FieldSet): Option {
  return new Option(
    "--fields <fields>",
    `comma-separated fields to show, or '*' for all: ${fields.all.join(", ")} (table default: ${fields.tableDefault.join(",")})`,
  );
}

/** `--type`: runtime, env or composer. */
export function typeOption(): Option {
  return new Option("--type <type>", "secret type, for a new secret (default: runtime)").choices(
    SECRET_TYPES,
  );
}

/**
 * `--scope`: a comma list of ic, web, user. Given more than once, the lists add up
 * (`--scope=web --scope=user` is `web,user`): scopes cannot be changed later, so none is dropped.
 */
export function scopeOption(): Option {
  return new Option(
    "--scope <scopes>",
    "comma-separated scopes for a new secret: ic, web, user (default: user); repeated, they add up",
  ).argParser((value: string, previous: string | undefined) =>
    previous === undefined ? value : `${previous},${value}`,
  );
}

/** `--value-file`: read the value from a file, byte for byte. */
export function valueFileOption(): Option {
  return new Option(
    "--value-file <path>",
    "read the value from this file, byte for byte (a final newline is kept: use it for PEM keys)",
  );
}

/** The help of the `[value]` argument of `secret:site:set` and `secret:org:set`. */
export const VALUE_ARGUMENT_HELP =
  "the value ('' for an empty one); '-' or omitted reads stdin, dropping one final newline (\\n or \\r\\n) as $(…) does; on a terminal, a prompt without echo. Empty stdin is refused.";

/**
 * Says in a command's `--help` how `--` works for it: options go before it, and after it comes
 * `what`, never read as options.
 */
export function withDoubleDashHelp(command: Command, what: string): Command {
  return command.addHelpText(
    "after",
    `\nOptions go before '--': everything after '--' is ${what}, never an option of lockbox.`,
  );
}

/**
 * Checks an organization argument: a name or a UUID.
 *
 * @throws {UsageError} with the naming rule.
 */
export function parseOrgArg(org: string, options: { readonly envOption?: boolean } = {}): string {
  if (isUuid(org)) return org.toLowerCase();
  const result = orgNameSchema.safeParse(org);
  if (result.success) return result.data;
  const message = result.error.issues[0]?.message ?? `Invalid organization name '${org}'.`;
  if (emailSchema.safeParse(org).success) throw new UsageError(`${message} ${EMAIL_IN_PLACE_OF_NAME}`);
  // `my-org.live`, as a site command would take it: org secret commands take --env.
  const dot = org.lastIndexOf(".");
  if (options.envOption && dot > 0 && orgNameSchema.safeParse(org.slice(0, dot)).success) {
    throw new UsageError(
      `${message} An org command takes the environment as --env, not after the name: ${org.slice(0, dot)} --env=${org.slice(dot + 1)}.`,
    );
  }
  throw new UsageError(message);
}

/** The options `secret:site:set` and `secret:org:set` share. */
export interface SetSecretOptions {
  readonly type?: SecretType;
  readonly scope?: string;
  readonly valueFile?: string;
}

/**
 * The body of `secret:site:set` and `secret:org:set`: checks the scopes, reads the value (argument,
 * `--value-file`, stdin or a prompt), lets `write` set the secret or its override, and reports.
 */
export async function setSecretCommand(
  context: CliContext,
  secret: { readonly name: string; readonly value: string | undefined; readonly env: string | undefined },
  options: SetSecretOptions,
  write: (client: LockboxClient, input: SecretInput) => Promise<SetSecretResult>,
): Promise<void> {
  const scopes = options.scope === undefined ? undefined : parseScopeOption(options.scope);
  checkNameBeforeValue(secret.name, options.type);
  const client = await context.client();
  const value = await readSecretValue(context.io, {
    arg: secret.value,
    valueFile: options.valueFile,
    name: secret.name,
  });
  reportSet(context, await write(client, { value, type: options.type, scopes }), secret.env);
}

/**
 * Refuses, before a value is read or anything is sent, a name that cannot be one: `NAME=VALUE` in
 * one argument (the value would be sent as part of the name, into the server's request log), and
 * with `--type` any name the type does not allow. Without `--type` the secret's own type decides,
 * which only the server knows, so other names are left to it.
 */
function checkNameBeforeValue(name: string, type: SecretType | undefined): void {
  const equals = name.indexOf("=");
  if (equals > 0) {
    // Only what comes before the '=': the rest is likely the value.
    const given = name.slice(0, equals);
    throw new UsageError(
      `'${given}=…' is not a secret name: give the name and the value as two arguments (${given} <value>), or the value on stdin.`,
    );
  }
  if (type === undefined) return;
  try {
    validateSecretName(type, name);
  } catch (error) {
    if (error instanceof LockboxError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * Tells the user how a set went: the server's message, then each note once (no web scope, an
 * override builds never read). Without notes from the server, the same notes are derived here.
 */
export function reportSet(context: CliContext, result: SetSecretResult, env: string | undefined): void {
  context.info(result.message || "Secret successfully set.");
  let notes: readonly string[];
  if (Array.isArray(result.notes)) {
    notes = result.notes;
  } else {
    const local: string[] = [];
    const secret = result.secret;
    if (result.created && !secret.scopes.includes("web")) local.push(noWebScopeNote(secret.name, secret));
    const warning = env === undefined ? undefined : buildOverrideWarning(secret, env);
    if (warning !== undefined) local.push(warning);
    notes = local;
  }
  for (const note of new Set(notes)) context.info(note);
}

/**
 * Asks before a destructive command on a terminal, unless `--yes`; a script (no terminal on stdin)
 * has already decided.
 *
 * @throws {CliError} when the user declines.
 */
export async function confirmDestructive(
  context: CliContext,
  yes: boolean | undefined,
  question: string,
): Promise<void> {
  if (yes === true || !context.io.stdin.isTTY) return;
  if (!(await confirm(context.io, question))) throw new CliError("Cancelled: nothing was changed.");
}

/**
 * A readable cell from a loosely typed server object: the first of `keys` that holds a string or
 * number; an object holding `name` or `email` gives that.
 */
export function pick(
  item: Readonly<Record<string, unknown>>,
  ...keys: readonly string[]
): string | undefined {
  for (const key of keys) {
    const label = labelOf(item[key]);
    if (label !== undefined) return label;
  }
  return undefined;
}

/** The names (or emails) of a list of server objects or strings. */
export function labels(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((entry) => labelOf(entry)).filter((label): label is string => label !== undefined);
}

function labelOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  if (typeof value === "object" && value !== null) {
    const { name, email } = value as { name?: unknown; email?: unknown };
    if (typeof name === "string") return name;
    if (typeof email === "string") return email;
  }
  return undefined;
}
