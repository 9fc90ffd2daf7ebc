import { LockboxClient } from "@lockbox/sdk";
import { configDirectory, readConfig, resolveCredentials } from "./config.js";
import { UsageError } from "./errors.js";
import { visibleText } from "./output.js";

/** The standard input the CLI reads values and tokens from. */
export interface CliInput extends NodeJS.ReadableStream {
  /** True on a terminal: values and tokens are then prompted for without echo. */
  readonly isTTY?: boolean | undefined;
  setRawMode?(mode: boolean): unknown;
}

/** An output stream: stdout for data, stderr for messages. */
export interface CliOutput {
  write(chunk: string): unknown;
  readonly isTTY?: boolean | undefined;
}

/**
 * Everything the CLI touches outside itself, so that `run()` can be driven in-process by tests
 * and by other programs. `process` supplies the real ones (see `main()`).
 */
export interface CliIo {
  readonly stdin: CliInput;
  readonly stdout: CliOutput;
  readonly stderr: CliOutput;
  /** The environment: `LOCKBOX_URL`, `LOCKBOX_TOKEN`, `XDG_CONFIG_HOME`, `HOME`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The directory of `config.json`; defaults to `$XDG_CONFIG_HOME/lockbox` or `~/.config/lockbox`. */
  readonly configDir?: string | undefined;
  /** The `fetch` the API client uses; defaults to the global one. */
  readonly fetch?: typeof globalThis.fetch | undefined;
}

const USER_AGENT = "lockbox-cli";

/**
 * What commands share during one run: the I/O, message helpers (stderr) and data output
 * (stdout), and a lazily created API client configured from the environment or the config file.
 */
export class CliContext {
  /** The exit code of a successful run; a command may set it (e.g. to pass on a child's code). */
  exitCode = 0;
  /** The exit code of a failed operation: 1, or 2 where 1 means something else (`diff`). */
  failureExitCode = 1;
  #rateLimitNoticeShown = false;

  constructor(readonly io: CliIo) {}

  /** The directory holding `config.json`. */
  get configDir(): string {
    return configDirectory(this.io);
  }

  /**
   * Writes a message line to stderr. Messages quote what servers send (errors, notes, names), so
   * control characters are shown (`\x1b`), never passed to the terminal.
   */
  info(message: string): void {
    this.io.stderr.write(`${visibleText(message)}\n`);
  }

  /** Writes a warning line to stderr, as {@link info} does. */
  warn(message: string): void {
    this.io.stderr.write(`Warning: ${visibleText(message)}\n`);
  }

  /** Writes data to stdout, ending it with a newline when it has none. */
  data(text: string): void {
    this.io.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  /**
   * An API client for the configured server: `LOCKBOX_URL`/`LOCKBOX_TOKEN` override the saved
   * login. Tells the user once per run when the server rate-limits it.
   *
   * @throws {CliError} when no server or token is configured, naming `lockbox auth:login`.
   */
  async client(): Promise<LockboxClient> {
    const saved = await readConfig(this.configDir, (message) => this.warn(message));
    const credentials = resolveCredentials(this.io.env, saved);
    return this.clientFor(credentials.url, credentials.token);
  }

  /** An API client for an explicit server and token (used by `auth:login` before saving). */
  clientFor(url: string, token: string): LockboxClient {
    try {
      return new LockboxClient({
        url,
        token,
        fetch: this.io.fetch,
        userAgent: USER_AGENT,
        onRateLimited: (seconds) => {
          if (this.#rateLimitNoticeShown) return;
          this.#rateLimitNoticeShown = true;
          this.info(`Rate limited by the server; retrying in ${seconds} s…`);
        },
      });
    } catch (error) {
      // A malformed URL or token (LOCKBOX_URL, --url, LOCKBOX_TOKEN): the user's to fix, exit 2.
      if (error instanceof TypeError) throw new UsageError(error.message);
      throw error;
    }
  }
}
