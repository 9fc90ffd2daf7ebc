import { readFileSync } from "node:fs";
import { isLockboxError } from "@lockbox/core";
import { LockboxApiError, LockboxConnectionError } from "@lockbox/sdk";
import { Command, CommanderError } from "commander";
import { withExamples } from "./command-helpers.js";
import { registerAuditCommands } from "./commands/audit.js";
import { registerAuthCommands } from "./commands/auth.js";
import { registerBuildCommands } from "./commands/build.js";
import { registerLocalGenerateCommand } from "./commands/local-generate.js";
import { registerMultidevCommands } from "./commands/multidev.js";
import { registerOrgCommands } from "./commands/orgs.js";
import { registerRunCommand } from "./commands/run.js";
import { registerRuntimeCommand } from "./commands/runtime.js";
import { registerSecretDiffCommand } from "./commands/secret-diff.js";
import { registerSecretGetCommands } from "./commands/secret-get.js";
import { registerSecretHistoryCommands } from "./commands/secret-history.js";
import { registerSecretRestoreCommands } from "./commands/secret-restore.js";
import { registerOrgSecretCommands } from "./commands/secrets-org.js";
import { registerSiteSecretCommands } from "./commands/secrets-site.js";
import { registerSecretTransferCommands } from "./commands/secrets-transfer.js";
import { registerServerCommands } from "./commands/server.js";
import { registerSiteCommands } from "./commands/sites.js";
import { registerStoreCommands } from "./commands/store.js";
import { registerTokenCommands } from "./commands/tokens.js";
import { registerUiCommand } from "./commands/ui.js";
import { registerUserCommands } from "./commands/users.js";
import { CliContext, type CliIo } from "./context.js";
import { CliError } from "./errors.js";

const VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** Exit code of a failed operation (an API error, an unreachable server). */
export const EXIT_FAILURE = 1;
/** Exit code of a usage error (unknown command or option, bad argument). */
export const EXIT_USAGE = 2;

/** Adds one group of commands to the program. */
type CommandRegistrar = (program: Command, context: CliContext) => void;

/** The command groups, in the order `--help` lists them. */
const COMMANDS: readonly CommandRegistrar[] = [
  registerSiteSecretCommands,
  registerLocalGenerateCommand,
  registerOrgSecretCommands,
  registerSecretGetCommands,
  registerSecretDiffCommand,
  registerSecretTransferCommands,
  registerSecretHistoryCommands,
  registerSecretRestoreCommands,
  registerAuthCommands,
  registerUiCommand,
  registerUserCommands,
  registerOrgCommands,
  registerSiteCommands,
  registerMultidevCommands,
  registerTokenCommands,
  registerAuditCommands,
  registerBuildCommands,
  registerRunCommand,
  registerRuntimeCommand,
  registerServerCommands,
  registerStoreCommands,
];

const TOKEN_PATTERN = /\blb[xrb]_[A-Za-z0-9_-]{20,}/g;

/** Hides anything shaped like a Lockbox token, in case one was typed where it does not belong. */
function hideTokens(text: string): string {
  return text.replace(TOKEN_PATTERN, (token) => `${token.slice(0, 4)}…(hidden)`);
}

/**
 * Commander's error text, made safe to print: an unknown "option" may be a secret value that starts
 * with `-` typed without `--` before it, so only option-shaped flags are echoed, with a hint.
 */
function safeCommanderError(text: string): string {
  const safe = text.replace(/unknown option '([^']*)'/, (_match, flag: string) => {
    const name = flag.split("=", 1)[0] ?? "";
    const longOption = /^--[A-Za-z][A-Za-z0-9-]{0,40}$/.test(name);
    if (name === "--env") {
      // Only the org commands take --env: a site command names the environment with the site.
      return "unknown option '--env': a site command takes the environment with the site, as <site>.<env> (my-site.live)";
    }
    if (longOption) return `unknown option '${name}${flag.includes("=") ? "=…" : ""}'`;
    const shown = /^-[A-Za-z]$/.test(flag) ? `'${flag}'` : "(not shown, in case it is a value)";
    return `unknown option ${shown}. A value that starts with '-' goes after '--', e.g. lockbox secret:site:set my-site NAME -- -value`;
  });
  return hideTokens(safe);
}

/** commander's own handling of an unknown option, which {@link LockboxCommand} calls. */
const commanderUnknownOption = (
  Command.prototype as unknown as { unknownOption(this: Command, flag: string): never }
).unknownOption;

/** commander's `Command`, suggesting the closest option for an unknown `--name=value` too. */
class LockboxCommand extends Command {
  override createCommand(name?: string): Command {
    return new LockboxCommand(name);
  }

  /**
   * commander's handler of an unknown option (undocumented: its parser calls it), given only the
   * name of an unknown `--name=value`. commander compares the whole `--name=value` with the options'
   * names, which is seldom within the 3 edits it allows, so it suggested nothing (`--scopes=web`, not
   * `--scope`); and the value, which can be a secret, goes no further. Should a commander release
   * stop calling this, {@link safeCommanderError} still hides the value; only the suggestion is lost.
   */
  unknownOption(flag: string): never {
    const name = /^(--[^=]+)=/.exec(flag)?.[1];
    return commanderUnknownOption.call(this, name ?? flag);
  }
}

function buildProgram(context: CliContext): Command {
  const { io } = context;
  const program = new LockboxCommand("lockbox")
    .description("Manage Lockbox secrets, organizations, sites, environments, tokens and the audit log.")
    .version(VERSION, "-V, --version", "print the version")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(safeCommanderError(text)),
    })
    // Every alias in the command list (commander shows the first only): users of the seed
    // product's CLI type secret-set and secrets.
    .configureHelp({
      subcommandTerm: (command) => {
        const args = command.registeredArguments
          .map((argument) => {
            const name = `${argument.name()}${argument.variadic ? "..." : ""}`;
            return argument.required ? `<${name}>` : `[${name}]`;
          })
          .join(" ");
        return `${[command.name(), ...command.aliases()].join("|")}${command.options.length > 0 ? " [options]" : ""}${args ? ` ${args}` : ""}`;
      },
    })
    .showHelpAfterError("(add --help for usage and examples)")
    .showSuggestionAfterError(true)
    .allowExcessArguments(false)
    // build:run and run pass everything after their arguments through to the command they run.
    .enablePositionalOptions();
  withExamples(program, [
    "lockbox auth:login --url=https://lockbox.example.com",
    "lockbox secret:site:set my-site API_KEY --scope=web,user < key.txt",
    "lockbox secret:site:list my-site --fields='*'",
    "lockbox secret:site:resolve my-site.live",
  ]);
  program.addHelpText(
    "after",
    "The server and token come from lockbox auth:login, or LOCKBOX_URL and LOCKBOX_TOKEN.\n" +
      "Options go before '--': everything after '--' is an argument, never an option (a value that starts with '-', or the command of build:run).\n" +
      "Exit codes: 0 success, 1 failed operation, 2 usage error.\n",
  );
  for (const register of COMMANDS) register(program, context);
  for (const command of program.commands) {
    // The command list shows the first sentence; the command's own --help shows all of it.
    if (command.summary() === "") command.summary(firstSentence(command.description()));
  }
  return program;
}

function firstSentence(text: string): string {
  const end = text.search(/\.(\s|$)/);
  return end === -1 ? text : text.slice(0, end + 1);
}

/**
 * The `lockbox` program for `io`. Errors in commands reject `parseAsync`; commander's own usage
 * errors throw a `CommanderError` (`exitOverride`).
 */
export function createProgram(io: CliIo): Command {
  return buildProgram(new CliContext(io));
}

/**
 * Runs `lockbox` with `argv` (the arguments after the program name) in-process and answers the
 * exit code: 0 on success (or what a command set), 1 on a failed operation, 2 on a usage error.
 * Messages go to `io.stderr`, data to `io.stdout`; nothing here calls `process.exit`.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const context = new CliContext(io);
  const program = buildProgram(context);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return context.exitCode;
  } catch (error) {
    return reportError(context, error);
  }
}

function reportError(context: CliContext, error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed its message (or the help) already.
    return error.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  if (error instanceof CliError) {
    context.info(`Error: ${hideTokens(error.message)}`);
    return error.exitCode === EXIT_FAILURE ? context.failureExitCode : error.exitCode;
  }
  if (error instanceof LockboxApiError) {
    context.info(`Error: ${hideTokens(describeApiError(error))}`);
    return context.failureExitCode;
  }
  if (error instanceof LockboxConnectionError) {
    context.info(`Error: ${error.message}`);
    return context.failureExitCode;
  }
  if (isLockboxError(error, "VALIDATION_FAILED", "BAD_REQUEST")) {
    context.info(`Error: ${hideTokens(error.message)}`);
    return EXIT_USAGE;
  }
  const message = error instanceof Error ? error.message : String(error);
  context.info(`Error: ${hideTokens(message)}`);
  return context.failureExitCode;
}

function describeApiError(error: LockboxApiError): string {
  let message = error.message;
  if (error.status === 401 && !message.includes("auth:login")) {
    message += " Log in again with lockbox auth:login (or check LOCKBOX_TOKEN).";
  }
  if (error.status >= 500 && error.requestId !== undefined) message += ` (request ID ${error.requestId})`;
  return message;
}

/**
 * The process entry point (`bin/lockbox.js`): runs with the real stdin, stdout, stderr and
 * environment and sets `process.exitCode`.
 */
export async function main(): Promise<void> {
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    // `lockbox secret:site:list x | head -1`: the reader left; there is nobody to tell.
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    // A full disk, a closed file: say so in one line (the error names no data), not with a stack.
    process.stderr.write(
      `Error: cannot write the output (${error.code ?? error.message}): nothing more was written. Check where stdout goes (a full disk?).\n`,
    );
    process.exit(EXIT_FAILURE);
  });
  process.exitCode = await run(process.argv.slice(2), {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  });
}
