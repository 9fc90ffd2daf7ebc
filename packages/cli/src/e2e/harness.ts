import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The built CLI binary, as `npx lockbox` runs it (and `npm start`, as `lockbox server:start`). */
export const CLI_BIN = fileURLToPath(new URL("../../bin/lockbox.js", import.meta.url));

/** A real server process on a free port, and what it printed. */
export interface ServerProcess {
  readonly url: string;
  /** The admin token printed on first start (undefined on later starts). */
  readonly adminToken: string | undefined;
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Sends SIGTERM and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** How the tests run `lockbox`: this checkout's built binary, with the running Node. */
const CHECKOUT_LOCKBOX: readonly string[] = [process.execPath, CLI_BIN];

/**
 * Starts `lockbox server:start` (what `npm start` runs) in `cwd` with `args` (port 0 unless given) and waits
 * for its banner. Rejects with what it printed if it exits first. `command` replaces the
 * `lockbox server:start` that is run (an installed binary, or `npm start --`).
 */
export function startServerProcess(options: {
  cwd: string;
  args?: string[];
  env?: Record<string, string>;
  command?: readonly string[];
  /** How long to wait for the banner (default 20 s). */
  startTimeoutMs?: number;
}): Promise<ServerProcess> {
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const args = options.args ?? [];
  const [file, ...prefix] = options.command ?? [...CHECKOUT_LOCKBOX, "server:start"];
  const hasPort = args.some((arg) => arg === "--port" || arg.startsWith("--port="));
  const { child, stdout, stderr } = spawnCollecting(
    [file as string, ...prefix, ...(hasPort ? [] : ["--port", "0"]), ...args],
    options.cwd,
    options.env,
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running behind a failed test.
      child.kill();
      reject(new Error(`server did not start in ${startTimeoutMs / 1000} s:\n${stdout()}\n${stderr()}`));
    }, startTimeoutMs);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${stdout()}\n${stderr()}`));
    });
    const check = () => {
      const match = /listening on (https?:\/\/\S+?) \(/.exec(stdout());
      if (!match?.[1]) return;
      child.stdout?.off("data", check);
      // The banner is written in one piece; give the rest of it a moment to arrive.
      setTimeout(() => {
        clearTimeout(timer);
        resolve({
          url: match[1] as string,
          adminToken: /\b(lbx_[A-Za-z0-9_-]{43})\b/.exec(stdout())?.[1],
          process: child,
          stdout,
          stderr,
          stop: (signal = "SIGTERM") => {
            if (child.exitCode === null) child.kill(signal);
            return exited;
          },
        });
      }, 50);
    };
    child.stdout?.on("data", check);
  });
}

/**
 * Spawns `command` (file and arguments) in `cwd` with only PATH, HOME=`cwd` and `env`, collecting
 * what it prints: for long-running processes (a server, `lockbox run`) that tests watch as they go.
 */
export function spawnCollecting(command: readonly string[], cwd: string, env: Record<string, string> = {}) {
  const [file, ...args] = command;
  const child = spawn(file as string, args, {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: cwd, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (chunk) => {
    out += String(chunk);
  });
  child.stderr?.on("data", (chunk) => {
    err += String(chunk);
  });
  return { child, stdout: () => out, stderr: () => err };
}

/** A `lockbox` process the test can signal, with what it printed so far (see {@link startCli}). */
export interface LiveCli {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout holds `text`; rejects after 15 s. */
  waitFor(text: string): Promise<void>;
  /** The exit code once its output is closed, or "still running" after 10 s. */
  exited(): Promise<number | null | "still running">;
  /** Kills it and any child it left behind. */
  kill(): void;
}

/**
 * Starts this checkout's `lockbox` with `args` in `cwd` (see {@link spawnCollecting}) for a test to
 * watch and signal as it runs (`run`, `build:run`). A command it starts that prints `pid N` lines
 * on stderr is killed by `kill()` too, should lockbox have left it behind.
 */
export function startCli(args: string[], env: Record<string, string>, cwd: string): LiveCli {
  const { child, stdout, stderr } = spawnCollecting([...CHECKOUT_LOCKBOX, ...args], cwd, env);
  const exit = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return {
    child,
    stdout,
    stderr,
    exited: () =>
      Promise.race([
        exit,
        new Promise<"still running">((resolve) => setTimeout(resolve, 10_000, "still running")),
      ]),
    kill: () => {
      child.kill("SIGKILL");
      for (const match of stderr().matchAll(/^pid (\d+)$/gm)) {
        try {
          process.kill(Number(match[1]), "SIGKILL");
        } catch {
          // Gone already.
        }
      }
    },
    waitFor: (text) =>
      new Promise((resolve, reject) => {
        const started = Date.now();
        const check = () => {
          if (stdout().includes(text)) return resolve();
          if (child.exitCode !== null || Date.now() - started > 15_000) {
            return reject(new Error(`no '${text}' on stdout; stdout:\n${stdout()}\nstderr:\n${stderr()}`));
          }
          setTimeout(check, 50);
        };
        check();
      }),
  };
}

/** What a CLI run printed and how it exited. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the real `lockbox` binary with `args`, feeding `input` on stdin through a pipe, or with the
 * file `stdinFrom` (e.g. `/dev/null`) as its stdin; `command` runs another one (an installed
 * `lockbox`) instead of this checkout's.
 */
export function runCli(
  args: string[],
  options: {
    env?: Record<string, string>;
    input?: string | Buffer;
    stdinFrom?: string;
    cwd?: string;
    command?: readonly string[];
  } = {},
): Promise<CliResult> {
  const [file, ...prefix] = options.command ?? CHECKOUT_LOCKBOX;
  return new Promise((resolve, reject) => {
    const stdinFile = options.stdinFrom === undefined ? undefined : openSync(options.stdinFrom, "r");
    const child = spawn(file as string, [...prefix, ...args], {
      cwd: options.cwd ?? process.cwd(),
      env: { PATH: process.env.PATH ?? "", ...options.env },
      stdio: [stdinFile ?? "pipe", "pipe", "pipe"],
    });
    // The child holds its own copy of the descriptor.
    if (stdinFile !== undefined) closeSync(stdinFile);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.once("error", reject);
    child.once("close", (code) =>
      resolve({
        code,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
      }),
    );
    child.stdin?.end(options.input ?? "");
  });
}

/** A temporary folder removed by `cleanup()`. */
export function tempDir(prefix = "lockbox-e2e-"): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A fresh master key, base64, as `LOCKBOX_MASTER_KEY` takes it. */
export function newMasterKey(): string {
  return randomBytes(32).toString("base64");
}
