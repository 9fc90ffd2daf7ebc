import { createReadStream } from "node:fs";
import { MAX_VALUE_BYTES, quoteIdentifier } from "@lockbox/core";
import type { CliInput, CliIo } from "./context.js";
import { CliError, UsageError } from "./errors.js";

/**
 * The most read from stdin, or from a file given for a value or an import: no secret value, token or
 * import is anywhere near it (a value holds at most 16 KiB).
 */
export const MAX_STDIN_BYTES = 1024 * 1024;

/** Where a secret value comes from: the argument (`-` or absent means stdin) or `--value-file`. */
export interface ValueSource {
  /** The value argument as typed; `undefined` when omitted. */
  readonly arg: string | undefined;
  /** `--value-file=PATH`. */
  readonly valueFile: string | undefined;
  /** The secret's name, for the prompt. */
  readonly name: string;
}

/**
 * Reads a secret value: from the argument, exactly; from `--value-file`, byte for byte; from stdin
 * when the argument is `-` or omitted (read to its end as UTF-8, one trailing newline — `\n` or
 * `\r\n` — dropped as a shell's `$(…)` does, since `echo value |` adds it); on a terminal, from a
 * prompt without echo. Only the argument may give an empty value (`''`): an empty stdin, file or
 * prompt is what a script that forgot the value sends, and would wipe the secret.
 *
 * @throws {UsageError} when both an argument (`-` included) and `--value-file` are given, when no
 *   value is given (empty stdin, file or prompt), or when the value file cannot be read.
 * @throws {CliError} when stdin cannot be read, the input is not UTF-8 or is longer than a value may be.
 */
export async function readSecretValue(io: CliIo, source: ValueSource): Promise<string> {
  const fromArgument = source.arg !== undefined && source.arg !== "-";
  if (source.valueFile !== undefined && source.arg !== undefined) {
    throw new UsageError(
      source.arg === "-"
        ? "Give the value either on stdin ('-') or with --value-file, not both."
        : "Give the value either as an argument or with --value-file, not both.",
    );
  }
  if (fromArgument) {
    const value = source.arg as string;
    checkSize(Buffer.byteLength(value, "utf8"));
    return value;
  }
  let value: string;
  let from: string;
  if (source.valueFile !== undefined) {
    const bytes = await readFileBytes(
      source.valueFile,
      (code) =>
        new UsageError(
          `Cannot read the value file ${source.valueFile} (${code}): check the path given to --value-file.`,
        ),
      `The value file ${source.valueFile} is longer than ${MAX_STDIN_BYTES} bytes: check the path given to --value-file.`,
    );
    value = decodeUtf8(bytes, `The value file ${source.valueFile}`);
    from = `the value file ${source.valueFile} is empty`;
  } else if (io.stdin.isTTY) {
    value = await promptLine(io, `Value of ${source.name} (input is hidden): `, { echo: false });
    from = "nothing was typed";
  } else {
    const read = decodeUtf8(await readStdinBytes(io.stdin, "value"), "The value read from stdin");
    value = withoutFinalNewline(read);
    from = read === "" ? "stdin is empty" : "stdin held only a newline";
  }
  if (value === "") {
    throw new UsageError(
      `No value given for ${quoteIdentifier(source.name)} (${from}): nothing was changed. Give the value as an argument, on stdin or with --value-file; an empty value only as an explicit '' argument.`,
    );
  }
  checkSize(Buffer.byteLength(value, "utf8"));
  return value;
}

/** `text` without one final `\n` or `\r\n`, if it has one. */
export function withoutFinalNewline(text: string): string {
  if (text.endsWith("\r\n")) return text.slice(0, -2);
  if (text.endsWith("\n")) return text.slice(0, -1);
  return text;
}

function checkSize(bytes: number): void {
  if (bytes > MAX_VALUE_BYTES) {
    throw new CliError(
      `Secret values can be at most ${MAX_VALUE_BYTES} bytes; this value has ${bytes} bytes.`,
    );
  }
}

/**
 * Reads a file to its end as raw bytes, at most 1 MiB as from stdin (`/dev/zero` or a huge file is
 * refused once 1 MiB is read, not read into memory).
 *
 * @throws the error `unreadable` makes of the system error code, or a {@link CliError} saying
 *   `tooLong` when the file is longer.
 */
export async function readFileBytes(
  path: string,
  unreadable: (code: string) => Error,
  tooLong: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const stream = createReadStream(path, { highWaterMark: 64 * 1024 });
  try {
    for await (const chunk of stream) {
      const bytes = chunk as Buffer;
      total += bytes.length;
      if (total > MAX_STDIN_BYTES) throw new CliError(tooLong);
      chunks.push(bytes);
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw unreadable((error as NodeJS.ErrnoException).code ?? (error as Error).message);
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

/**
 * Reads stdin to its end as raw bytes, at most 1 MiB.
 *
 * @throws {CliError} when stdin is longer, naming `what` was being read.
 */
export async function readStdinBytes(stdin: CliInput, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk as Uint8Array);
    total += bytes.length;
    if (total > MAX_STDIN_BYTES) {
      throw new CliError(
        `The ${what} on stdin is longer than ${MAX_STDIN_BYTES} bytes: check what is piped in.`,
      );
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

/**
 * Decodes UTF-8 exactly: a byte-order mark is kept as a character, invalid bytes are refused (a
 * replacement character would silently change the value).
 */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new CliError(
      `${what} is not valid UTF-8: secret values are UTF-8 text (encode binary data, e.g. with base64, first).`,
    );
  }
}

/**
 * Reads one line typed at the terminal, writing `question` to stderr. With `echo: false` nothing
 * typed is shown (for values and tokens). Backspace edits; Ctrl-C cancels (exit 130).
 *
 * @throws {CliError} when stdin is not a terminal that can turn off echo, or on Ctrl-C.
 */
export function promptLine(
  io: CliIo,
  question: string,
  options: { readonly echo: boolean },
): Promise<string> {
  const stdin = io.stdin;
  if (!stdin.isTTY || typeof stdin.setRawMode !== "function") {
    return Promise.reject(
      new CliError(
        "Cannot prompt on this input: pipe the input on stdin instead (for values, or use --value-file).",
      ),
    );
  }
  const setRawMode = stdin.setRawMode.bind(stdin);
  io.stderr.write(question);
  setRawMode(true);
  stdin.setEncoding("utf8");
  stdin.resume();
  return new Promise<string>((resolve, reject) => {
    let line = "";
    const finish = (error?: CliError) => {
      stdin.removeListener("data", onData);
      setRawMode(false);
      stdin.pause();
      io.stderr.write("\n");
      if (error) reject(error);
      else resolve(line);
    };
    const onData = (chunk: string | Buffer) => {
      for (const char of typeof chunk === "string" ? chunk : chunk.toString("utf8")) {
        if (char === "\r" || char === "\n" || char === "\u0004") return finish();
        if (char === "\u0003") return finish(new CliError("Cancelled.", 130));
        if (char === "\u007f" || char === "\b") {
          if (line.length > 0) {
            line = Array.from(line).slice(0, -1).join("");
            if (options.echo) io.stderr.write("\b \b");
          }
          continue;
        }
        line += char;
        if (options.echo) io.stderr.write(char);
      }
    };
    stdin.on("data", onData);
  });
}

/**
 * Asks a yes/no question on the terminal; true only for `y` or `yes`. Call it only when stdin is a
 * terminal: a script piping into the CLI has already decided.
 */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  const answer = await promptLine(io, `${question} [y/N] `, { echo: true });
  return /^y(es)?$/i.test(answer.trim());
}
