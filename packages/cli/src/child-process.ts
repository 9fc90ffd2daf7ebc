import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { constants } from "node:os";
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
