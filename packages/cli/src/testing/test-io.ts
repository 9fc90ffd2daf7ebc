import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import type { CliInput, CliIo } from "../context.js";
import { run } from "../main.js";

/** A captured output stream. */
export class CapturedOutput {
  text = "";
  readonly isTTY = false;

  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

/** A fake terminal on stdin: raw mode is recorded, and `type()` sends keystrokes. */
export class FakeTerminal extends PassThrough implements CliInput {
  readonly isTTY = true;
  rawMode = false;
  rawModeChanges: boolean[] = [];

  setRawMode(mode: boolean): this {
    this.rawMode = mode;
    this.rawModeChanges.push(mode);
    return this;
  }

  /** Sends `text` once the prompt is listening. */
  type(text: string): void {
    setImmediate(() => this.write(text));
  }
}

/** Options of {@link runCli}. */
export interface RunOptions {
  /** Bytes on a non-terminal stdin (default: none), or a fake terminal. */
  readonly stdin?: string | Buffer | FakeTerminal;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The config directory. Without it (and without `XDG_CONFIG_HOME` in `env`) a directory that
   * does not exist is used, so a test never reads or writes the real user's config.
   */
  readonly configDir?: string;
}

/** What a run produced. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process with captured output. */
export async function runCli(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const stdout = new CapturedOutput();
  const stderr = new CapturedOutput();
  const stdin =
    options.stdin instanceof FakeTerminal
      ? options.stdin
      : Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]);
  const io: CliIo = {
    stdin: stdin as CliInput,
    stdout,
    stderr,
    env: options.env ?? {},
    configDir:
      options.configDir ??
      (options.env?.XDG_CONFIG_HOME === undefined ? join(tmpdir(), "lockbox-cli-test-no-config") : undefined),
  };
  const code = await run(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** A fresh temporary directory, and a function that deletes it. */
export async function temporaryDirectory(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "lockbox-cli-test-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
