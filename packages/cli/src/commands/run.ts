import type { ChildProcess } from "node:child_process";
import { quoteIdentifier } from "@lockbox/core";
import type { RuntimeClient } from "@lockbox/sdk";
import type { Command } from "commander";
import {
  childEnvironment,
  commandOf,
  exitCodeOf,
  exitOf,
  FORWARDED_SIGNALS_TEXT,
  forwardSignals,
  secretVariables,
  skippedMessage,
  spawnCommand,
} from "../child-process.js";
import { withDoubleDashHelp, withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { CliError, UsageError } from "../errors.js";
import { cliRuntimeClient, isLocalMode, runtimeFailure } from "./runtime.js";

/**
 * `--watch` defaults, in seconds: the server's fallback poll (changes arrive by blocking reads in
 * between), a stat of a local file, the wait before SIGKILL.
 */
const DEFAULT_SERVER_INTERVAL = 30;
const DEFAULT_FILE_INTERVAL = 2;
const DEFAULT_GRACE = 10;

interface RunOptions {
  readonly watch?: boolean;
  readonly interval?: string;
  readonly grace?: string;
}

/** Registers `run`: a command started with the application's secrets as environment variables. */
export function registerRunCommand(program: Command, context: CliContext): void {
  program.commandsGroup("Applications (with LOCKBOX_RUNTIME_TOKEN or LOCKBOX_SECRETS_FILE):");
  withExamples(
    withDoubleDashHelp(
      program
        .command("run")
        .description(
          `Run a command with the application's secrets (what GET /site/secrets gives LOCKBOX_RUNTIME_TOKEN, from LOCKBOX_URL or the server of lockbox auth:login; or LOCKBOX_SECRETS_FILE with LOCKBOX_ENV) as environment variables, and exit with its exit code (128 + n when signal n killed it). Secrets whose names cannot be environment variables are skipped, named on stderr. ${FORWARDED_SIGNALS_TEXT} are passed on; Lockbox's own credentials (LOCKBOX_RUNTIME_TOKEN, LOCKBOX_TOKEN, master keys…) are not. With --watch the command is restarted when the secrets change: within about a second of the change on the server (blocking reads, GET /site/secrets?wait=; --interval is the fallback poll), or at the next check of a local file (every --interval seconds).`,
        )
        .argument("<command...>", "the command and its arguments, after --")
        .option(
          "--watch",
          "restart the command when the secrets change (SIGTERM, then SIGKILL after --grace)",
        )
        .option(
          "--interval <seconds>",
          `with --watch: how often to check a local file for a change (default: ${DEFAULT_FILE_INTERVAL}); with a server, how often to ask it besides the blocking reads that bring a change at once (default: ${DEFAULT_SERVER_INTERVAL})`,
        )
        .option(
          "--grace <seconds>",
          `with --watch: how long a restart waits for the command to exit after SIGTERM before SIGKILL (default: ${DEFAULT_GRACE})`,
        )
        .passThroughOptions()
        .action(async (command: string[], options: RunOptions) => {
          context.exitCode = await runWithSecrets(context, command, options);
        }),
      "the command to run and its arguments",
    ),
    [
      "lockbox run -- node server.js      (with LOCKBOX_URL and LOCKBOX_RUNTIME_TOKEN set)",
      "lockbox run --watch --interval=10 -- npm start",
      "LOCKBOX_SECRETS_FILE=./secrets.json LOCKBOX_ENV=dev lockbox run --watch -- node server.js",
    ],
  );
}

/** A `--interval` or `--grace` value, at most a day. */
function seconds(text: string | undefined, option: string, fallback: number, allowZero: boolean): number {
  if (text === undefined) return fallback;
  const value = text.trim() === "" ? Number.NaN : Number(text);
  if (!(Number.isFinite(value) && (allowZero ? value >= 0 : value > 0) && value <= 86_400)) {
    throw new UsageError(
      `${option} must be a number of seconds ${allowZero ? "from 0" : "above 0"} up to 86400, for example ${option}=${fallback}; got ${quoteIdentifier(text)}.`,
    );
  }
  return value;
}

async function runWithSecrets(context: CliContext, command: string[], options: RunOptions): Promise<number> {
  const [file, args] = commandOf(command, "run");
  if (!options.watch && (options.interval !== undefined || options.grace !== undefined)) {
    throw new UsageError(
      "--interval and --grace only apply with --watch: lockbox run --watch --interval=10 -- <command>",
    );
  }
  const local = isLocalMode(context.io.env);
  const intervalMs =
    seconds(options.interval, "--interval", local ? DEFAULT_FILE_INTERVAL : DEFAULT_SERVER_INTERVAL, false) *
    1000;
  const graceMs = seconds(options.grace, "--grace", DEFAULT_GRACE, true) * 1000;
  const supervisor = new Supervisor(context, file, args);
  let client: RuntimeClient;
  let secrets: Readonly<Record<string, string>>;
  try {
    // TTL 0: each look for a change revalidates (a conditional GET, or a stat of the file). With a
    // server, a watch (blocking reads) says when to look at once.
    client = await cliRuntimeClient(context, {
      ttlSeconds: 0,
      ...(options.watch && !local ? { onChange: () => supervisor.changed() } : {}),
    });
    secrets = await client.getSecrets();
  } catch (error) {
    const failure = runtimeFailure(error);
    if (failure instanceof CliError && !(failure instanceof UsageError)) {
      throw new CliError(`${failure.message} ${file} was not started.`);
    }
    throw failure;
  }
  try {
    return await supervisor.run(client, secrets, options.watch ? { intervalMs, graceMs } : undefined);
  } finally {
    client.close();
  }
}

/** One started command and how it ended. */
interface Running {
  readonly child: ChildProcess;
  readonly exit: Promise<number>;
  /** The environment it got from Lockbox, as a comparable key. */
  readonly key: string;
  /** Its exit code, once it exited. */
  code: number | undefined;
}

/** Starts the command, passes signals on, and (with --watch) restarts it when the secrets change. */
class Supervisor {
  #current: Running | undefined;
  /** The signal passed on: the command is being stopped from outside, so it is not restarted. */
  #signal: NodeJS.Signals | undefined;
  /** The last failure to look for a change, told once until a look succeeds. */
  #problem: string | undefined;
  /** The watch reported a change not yet looked at, and how to end the wait for the next look. */
  #changed = false;
  #wake: (() => void) | undefined;

  constructor(
    private readonly context: CliContext,
    private readonly file: string,
    private readonly args: string[],
  ) {}

  /** The watch saw the set change: look now rather than at the next --interval. */
  changed(): void {
    this.#changed = true;
    this.#wake?.();
  }

  async run(
    client: RuntimeClient,
    secrets: Readonly<Record<string, string>>,
    watch: { intervalMs: number; graceMs: number } | undefined,
  ): Promise<number> {
    const stopForwarding = forwardSignals((signal) => {
      this.#signal = signal;
      this.#current?.child.kill(signal);
    });
    try {
      let current = this.#start(secrets);
      if (watch === undefined) return await current.exit;
      for (;;) {
        const timer = delay(watch.intervalMs);
        const woken = new Promise<boolean>((resolve) => {
          this.#wake = () => resolve(false);
          if (this.#changed) resolve(false);
        });
        let ended: boolean;
        try {
          ended = await Promise.race([current.exit.then(() => true), timer.promise.then(() => false), woken]);
        } finally {
          // Also when the command could not be started: a pending timer would keep lockbox alive.
          timer.cancel();
          this.#wake = undefined;
          this.#changed = false;
        }
        if (ended || this.#signal !== undefined) return await current.exit;
        const next = await this.#look(client);
        if (this.#signal !== undefined) return await current.exit;
        if (next === undefined || secretVariablesKey(next) === current.key) continue;
        // Exited while we looked: its exit, not a restart.
        if (current.code !== undefined) return current.code;
        this.context.info(
          `lockbox run: the secrets changed; restarting ${this.file} (SIGTERM, then SIGKILL after ${watch.graceMs / 1000} s).`,
        );
        await stop(current, watch.graceMs);
        if (this.#signal !== undefined) return exitCodeOf(null, this.#signal);
        current = this.#start(next);
      }
    } finally {
      stopForwarding();
    }
  }

  async #look(client: RuntimeClient): Promise<Readonly<Record<string, string>> | undefined> {
    try {
      const secrets = await client.getSecrets();
      this.#problem = undefined;
      return secrets;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (this.#problem !== message) {
        this.#problem = message;
        this.context.warn(
          `lockbox run: cannot look for a change of the secrets; ${this.file} keeps running with the ones it has. ${message}`,
        );
      }
      return undefined;
    }
  }

  #start(secrets: Readonly<Record<string, string>>): Running {
    const { variables, skipped } = secretVariables(secrets);
    if (skipped.length > 0) this.context.warn(skippedMessage(skipped));
    const { io } = this.context;
    // The real terminal goes to the command as it is (colours, prompts); captured output (tests,
    // programs driving run() in-process) is copied over.
    const inherit = io.stdout === process.stdout && io.stderr === process.stderr;
    const child = spawnCommand(this.file, this.args, {
      env: childEnvironment(io.env, variables),
      stdio: inherit ? "inherit" : ["inherit", "pipe", "pipe"],
    });
    if (!inherit) {
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => io.stdout.write(chunk));
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => io.stderr.write(chunk));
    }
    const running: Running = {
      child,
      exit: exitOf(child, this.file, inherit ? "exit" : "close"),
      key: secretVariablesKey(secrets),
      code: undefined,
    };
    running.exit.then(
      (code) => {
        running.code = code;
      },
      () => undefined,
    );
    this.#current = running;
    return running;
  }
}

/** What decides a restart: the variables the command would get, in a stable order. */
function secretVariablesKey(secrets: Readonly<Record<string, string>>): string {
  const { variables } = secretVariables(secrets);
  return JSON.stringify(Object.entries(variables).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the command has exited. */
async function stop(running: Running, graceMs: number): Promise<void> {
  if (running.code !== undefined) return;
  running.child.kill("SIGTERM");
  const timer = setTimeout(() => running.child.kill("SIGKILL"), graceMs);
  try {
    await running.exit.catch(() => undefined);
  } finally {
    clearTimeout(timer);
  }
}

function delay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}
