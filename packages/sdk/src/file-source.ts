/**
 * The runtime client's local mode: the file written by `lockbox secret:site:local-generate`,
 * re-read when it changes.
 */
import { readFile, stat } from "node:fs/promises";
import { clearTimeout, setTimeout } from "node:timers";
import { parseLocalSecrets, resolveLocalSecrets } from "./local-secrets.js";
import { LOCAL_GENERATE_HINT, LockboxRuntimeError } from "./runtime-errors.js";
import type { WatchAnswer } from "./runtime-watch.js";
import { type SecretSet, type SecretSource, secretSet } from "./secret-source.js";

export class FileSource implements SecretSource {
  readonly #path: string;
  readonly #origin: string;
  readonly #env: string | undefined;
  #loaded: { readonly key: string; readonly set: SecretSet } | undefined;
  #inflight: Promise<SecretSet> | undefined;

  constructor(path: string, origin: string, env: string | undefined) {
    this.#path = path;
    this.#origin = origin;
    this.#env = env;
  }

  current(): Promise<SecretSet> {
    this.#inflight ??= this.#load().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async refresh(): Promise<void> {
    await this.#inflight?.catch(() => undefined);
    this.#loaded = undefined;
    await this.current();
  }

  latest(): SecretSet | undefined {
    return this.#loaded?.set;
  }

  close(): void {}

  /** A look at the file a second from now: a changed file is a new set. */
  async watchOnce(_waitSeconds: number, signal: AbortSignal): Promise<WatchAnswer> {
    const before = this.#loaded?.set;
    await new Promise<void>((resolve) => {
      // The watch loop passes one signal to every look: the listener goes with its look, or
      // a long watch would pile one up each second.
      const onAbort = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(
        () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
        before === undefined ? 0 : 1000,
      );
      timer.unref();
      signal.addEventListener("abort", onAbort, { once: true });
    });
    if (signal.aborted) return { changed: false, retryAfterMs: undefined };
    const after = await this.current();
    return { changed: after !== before, retryAfterMs: undefined };
  }

  async #load(): Promise<SecretSet> {
    let key: string;
    let text: string;
    try {
      // Stat first: a write after it changes the stat, so the next read picks the file up again.
      const stats = await stat(this.#path);
      key = `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
      if (this.#loaded?.key === key) return this.#loaded.set;
      text = await readFile(this.#path, "utf8");
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const reason =
        code === "ENOENT"
          ? "it does not exist"
          : code === "EACCES" || code === "EPERM"
            ? "permission denied"
            : code === "EISDIR"
              ? "it is a directory"
              : `${typeof code === "string" ? code : "read failed"}`;
      throw new LockboxRuntimeError(
        "SECRETS_FILE_UNREADABLE",
        `Cannot read the Lockbox secrets file '${this.#path}' (named by ${this.#origin}): ${reason}. Write it with ${LOCAL_GENERATE_HINT} --filepath=${this.#path}, or unset ${this.#origin} to use the server.`,
        { cause: error },
      );
    }
    const parsed = parseLocalSecrets(text);
    if (!parsed.ok) {
      throw new LockboxRuntimeError(
        "SECRETS_FILE_INVALID",
        `The Lockbox secrets file '${this.#path}' (named by ${this.#origin}) is not usable: ${parsed.problem}. Fix it, or write it again with ${LOCAL_GENERATE_HINT} --filepath=${this.#path}.`,
      );
    }
    const set = secretSet(resolveLocalSecrets(parsed.file, this.#env));
    this.#loaded = { key, set };
    return set;
  }
}
