import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { constants } from "node:os";
import { quoteIdentifier, RESERVED_ENV_NAMES, validateSecretName } from "@lockbox/core";
import { CliError, UsageError } from "./errors.js";

/**
 * The variables that hold Lockbox's own credentials: `build:run` and `run` keep them from the
 * command they start. They are for reading secrets, not for the command's code (a Composer plugin,
 * an npm script or the application could print or send them); the command gets only its secrets.
 * `LOCKBOX_DB` can hold a database password.
 */
export const LOCKBOX_CREDENTIALS = [
  "LOCKBOX_TOKEN",
  "LOCKBOX_RUNTIME_TOKEN",
  "LOCKBOX_BUILD_TOKEN",
  "LOCKBOX_BOOTSTRAP_TOKEN",
  "LOCKBOX_MASTER_KEY",
  "LOCKBOX_PREVIOUS_MASTER_KEYS",
  "LOCKBOX_DB",
] as const;

/** The environment of a started command: `parent` with `variables` added, minus Lockbox's credentials. */
export function childEnvironment(
  parent: Readonly<Record<string, string | undefined>>,
  variables: Readonly<Record<string, string>>,
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...parent, ...variables };
  for (const name of LOCKBOX_CREDENTIALS) delete env[name];
  return env;
}

/** A secret left out of a command's environment, and why (never its value). */
export interface SkippedSecret {
  readonly name: string;
  readonly reason: string;
}

/**
 * The variables a command gets from `secrets`, and the secrets left out: names that are not
 * environment variable names or are reserved (the rule of `env` secrets, SPEC §2), the names of
 * Lockbox's own variables (`lockboxNames`: its credentials by default), which the command never
 * gets, and values holding a NUL byte, which no environment variable can (a `runtime` secret may:
 * SPEC §2 forbids NUL in `env` values only). The server applies the same rule to `env` secrets, but
 * the names arrive from the network: `run`, `build:env` and `build:run` check them again, so that
 * a server (or a store) that is not what it should be cannot reach the shell that evaluates
 * `build:env`, nor set `PATH` or `LD_PRELOAD` for a build.
 */
export function secretVariables(
  secrets: Readonly<Record<string, string>>,
  lockboxNames: ReadonlySet<string> = CREDENTIALS,
): { variables: Record<string, string>; skipped: SkippedSecret[] } {
  const variables: Record<string, string> = {};
  const skipped: SkippedSecret[] = [];
  for (const [name, value] of Object.entries(secrets)) {
    let reason: string | undefined;
    try {
      validateSecretName("env", name);
      if (lockboxNames.has(name)) reason = LOCKBOX_NAME;
      else if (value.includes("\0")) reason = NUL_VALUE;
    } catch {
      reason = RESERVED_NAMES.has(name) ? RESERVED : INVALID;
    }
    if (reason === undefined) variables[name] = value;
    else skipped.push({ name, reason });
  }
  return { variables, skipped };
}

const CREDENTIALS: ReadonlySet<string> = new Set(LOCKBOX_CREDENTIALS);
const RESERVED_NAMES: ReadonlySet<string> = new Set(RESERVED_ENV_NAMES);
const RESERVED = "reserved: it would hijack the command's shell, loader or runtime";
const LOCKBOX_NAME = "the name of a variable of Lockbox itself, never passed on";
const INVALID = "only letters, digits and _, not starting with a digit";
const NUL_VALUE = "its value holds a NUL byte, which an environment variable cannot";

/** The one stderr line naming the skipped secrets (names and reasons only, never values). */
export function skippedMessage(skipped: readonly SkippedSecret[]): string {
  const listed = skipped.map(({ name, reason }) => `${quoteIdentifier(name)} (${reason})`);
  return `skipped, as they cannot be environment variables: ${listed.join(", ")}.`;
}

/**
 * The command and its arguments of `build:run` or `run`. With pass-through options commander may
 * hand over the `--` that ended lockbox's own options.
 *
 * @throws {UsageError} when no command is given.
 */
export function commandOf(command: readonly string[], name: string): [string, string[]] {
  const [file, ...args] = command[0] === "--" ? command.slice(1) : command;
  if (file === undefined) throw new UsageError(`${name} needs a command after --.`);
  return [file, args];
}

/** A command's exit code; killed by a signal, 128 + its number, as a shell reports it (SIGSEGV gives 139). */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  return code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1);
}

/**
 * The error for a command that could not be started, with a shell's exit codes: 127 when it does
 * not exist, 126 when it cannot be run (not executable), so that neither is mistaken for a command
 * that ran and failed.
 */
export function spawnError(file: string, error: NodeJS.ErrnoException): CliError {
  if (error.code === "ENOENT") return new CliError(`Command not found: ${file}`, 127);
  if (error.code === "E2BIG") {
    return new CliError(
      `Cannot run ${file}: its environment is larger than the system allows (E2BIG), so the secrets cannot all be environment variables. Keep large values out of the environment: read them from a file (lockbox build:env --format=json > secrets.json, or lockbox secret:site:get).`,
      126,
    );
  }
  return new CliError(`Cannot run ${file}: ${error.message}`, 126);
}

/** `spawn`, with a start the system refuses at once (E2BIG) said as {@link spawnError} says it. */
export function spawnCommand(file: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  try {
    return spawn(file, args, options);
  } catch (error) {
    throw spawnError(file, error as NodeJS.ErrnoException);
  }
}

/** The signals `run` and `build:run` pass on to their command: those a supervisor, a terminal or an operator sends. */
export const FORWARDED_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const;

/** {@link FORWARDED_SIGNALS} as help texts name them: "SIGTERM, SIGINT, … and SIGUSR2". */
export const FORWARDED_SIGNALS_TEXT = `${FORWARDED_SIGNALS.slice(0, -1).join(", ")} and ${FORWARDED_SIGNALS.at(-1)}`;

/**
 * Hands each of {@link FORWARDED_SIGNALS} that lockbox receives to `forward` (which passes it on to
 * the command) instead of letting it end lockbox: lockbox then waits for the command, which decides
 * how to stop, and exits with its code. Otherwise lockbox would die at once and leave the command
 * running, orphaned, with the secrets in its environment. Answers the function that removes the
 * handlers (call it once the command has exited).
 */
export function forwardSignals(forward: (signal: NodeJS.Signals) => void): () => void {
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  return () => {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
  };
}

/**
 * Resolves with the exit code of `child` (see {@link exitCodeOf}), or rejects with
 * {@link spawnError} when it could not be started. `event` is `close` when its output is piped
 * (all of it has then arrived), `exit` otherwise.
 */
export function exitOf(child: ChildProcess, file: string, event: "exit" | "close"): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once("error", (error: NodeJS.ErrnoException) => reject(spawnError(file, error)));
    child.once(event, (code: number | null, signal: NodeJS.Signals | null) =>
      resolve(exitCodeOf(code, signal)),
    );
  });
}
