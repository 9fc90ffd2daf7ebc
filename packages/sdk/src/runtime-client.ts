/**
 * The runtime client: what an application calls to read its secrets (SPEC §3), the analogue of the
 * seed product's `pantheon_get_secret()`. One `GET /site/secrets` fetches the whole resolved set;
 * the set is cached for a TTL and revalidated with `If-None-Match`; the last good set keeps being
 * served while the server is unreachable (stale-if-error). In local development it reads the file
 * written by `lockbox secret:site:local-generate` instead. Zero dependencies: global `fetch` and
 * `node:` modules only.
 */
import { readFile, stat } from "node:fs/promises";
import { resolve as resolvePath } from "node:path";
import { clearTimeout, setTimeout } from "node:timers";
import { parseLocalSecrets, resolveLocalSecrets } from "./local-secrets.js";
import { parseRetryAfter } from "./management-client.js";
import { type WatchAnswer, WatchLoop } from "./runtime-watch.js";
import { unrefFetch } from "./unref-fetch.js";

/**
 * Why a runtime read failed:
 * - `NOT_CONFIGURED`: no `LOCKBOX_URL`/`LOCKBOX_RUNTIME_TOKEN` (and no secrets file), or an unusable one.
 * - `UNREACHABLE`: no HTTP answer (refused, unknown host, reset, TLS failure, timeout).
 * - `SERVER_ERROR`: an HTTP 5xx answer.
 * - `UNEXPECTED_RESPONSE`: an answer that is not a Lockbox secrets set (another status, a redirect,
 *   a body that is not the wire shape): usually `LOCKBOX_URL` points at something else.
 * - `UNAUTHENTICATED` (401): the token is unknown, expired or revoked.
 * - `FORBIDDEN` (403): the token is not a runtime token.
 * - `SECRETS_FILE_UNREADABLE`, `SECRETS_FILE_INVALID`: local mode, the file is missing or malformed.
 */
export type RuntimeErrorCode =
  | "NOT_CONFIGURED"
  | "UNREACHABLE"
  | "SERVER_ERROR"
  | "UNEXPECTED_RESPONSE"
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "SECRETS_FILE_UNREADABLE"
  | "SECRETS_FILE_INVALID";

/**
 * A failed runtime read. The message says what failed, names the server URL or file and the fix;
 * it never holds a secret value or the token.
 *
 * @example
 * ```ts
 * try {
 *   await getSecret("DB_PASSWORD");
 * } catch (error) {
 *   if (error instanceof LockboxRuntimeError && error.code === "UNAUTHENTICATED") alertOps(error.message);
 *   throw error;
 * }
 * ```
 */
export class LockboxRuntimeError extends Error {
  override readonly name = "LockboxRuntimeError";
  /** What kind of failure this is; see {@link RuntimeErrorCode}. */
  readonly code: RuntimeErrorCode;
  /** The HTTP status, when the server answered. */
  readonly status: number | undefined;
  /** The server's request id, for its log, when the answer carried one. */
  readonly requestId: string | undefined;

  constructor(
    code: RuntimeErrorCode,
    message: string,
    init: { status?: number | undefined; requestId?: string | undefined; cause?: unknown } = {},
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.status = init.status;
    this.requestId = init.requestId;
  }
}

/** Where the client writes its one warning per outage. */
export interface RuntimeLogger {
  /** Called with a message that never holds a value or the token. */
  warn(message: string): void;
}

/** Options of {@link createRuntimeClient}; every one is optional. */
export interface RuntimeClientOptions {
  /** The server's base URL (a path prefix is kept); defaults to `LOCKBOX_URL`. */
  readonly url?: string | undefined;
  /** A runtime token (`lbr_…`); defaults to `LOCKBOX_RUNTIME_TOKEN`. Only ever sent in `Authorization`. */
  readonly token?: string | undefined;
  /** How long a fetched set is served before it is revalidated (default 300; 0 revalidates every read). */
  readonly ttlSeconds?: number | undefined;
  /** How long one request, body included, may take before it counts as unreachable (default 5000). */
  readonly timeoutMs?: number | undefined;
  /** The `fetch` to use; defaults to the global one. */
  readonly fetch?: typeof globalThis.fetch | undefined;
  /** A clock in milliseconds from any fixed origin, for the TTL; defaults to `performance.now()`. */
  readonly now?: (() => number) | undefined;
  /** Receives the one warning per outage; defaults to `console`. */
  readonly logger?: RuntimeLogger | undefined;
  /**
   * Local mode: read this file (written by `lockbox secret:site:local-generate`) instead of the
   * server. Defaults to `LOCKBOX_SECRETS_FILE`, then the seed product's `CUSTOMER_SECRETS_FAKE_FILE`.
   */
  readonly secretsFile?: string | undefined;
  /** Local mode: the environment whose overrides apply; defaults to `LOCKBOX_ENV`. */
  readonly env?: string | undefined;
  /** Where the `LOCKBOX_*` variables are read; defaults to `process.env`. */
  readonly processEnv?: Readonly<Record<string, string | undefined>> | undefined;
  /**
   * Keep the set fresh in the background with blocking reads (`GET /site/secrets?wait=`): a change
   * is served within a moment of its write instead of after the TTL (default false). Local mode:
   * the file is checked every second. End it with {@link RuntimeClient.close}.
   */
  readonly watch?: boolean | undefined;
  /** With `watch`: how long each blocking read may be held, 1 to 300 seconds (default 90). */
  readonly watchSeconds?: number | undefined;
  /** With `watch`: called with every secret once the watch has the first set, then after each change. */
  readonly onChange?: ((secrets: Readonly<Record<string, string>>) => void) | undefined;
}

/**
 * An application's view of its secrets. Values are never logged, and never appear in an error.
 * Reads are served from memory within the TTL; see {@link createRuntimeClient} for when a read
 * waits for the server and when it fails.
 */
export interface RuntimeClient {
  /**
   * The value of secret `name`, or `null` when the site environment has no such secret (or none
   * with the `web` scope). Names are case-sensitive.
   * @throws {LockboxRuntimeError} when no set can be served (see {@link createRuntimeClient}).
   */
  getSecret(name: string): Promise<string | null>;
  /**
   * Every secret, name → value: a frozen object with a `null` prototype (so a secret named
   * `__proto__` or `constructor` is an ordinary key). The same object is returned until the set
   * changes.
   * @throws {LockboxRuntimeError} when no set can be served.
   */
  getSecrets(): Promise<Readonly<Record<string, string>>>;
  /**
   * Revalidates now, ignoring the TTL (local mode: re-reads the file). Unlike a read, it rejects
   * when the server cannot be reached; the cached set is kept for later reads (except after a
   * 401/403, which drops it).
   * @throws {LockboxRuntimeError}
   */
  refresh(): Promise<void>;
  /**
   * Ends the watch (`watch: true`): aborts its request in flight. Reads keep working with the TTL.
   * Without a watch it does nothing. The watch never keeps a Node process alive by itself.
   */
  close(): void;
}

const DEFAULT_TTL_SECONDS = 300;
const DEFAULT_TIMEOUT_MS = 5000;
const SECRETS_PATH = "/site/secrets";
const CREATE_TOKEN_HINT = "lockbox token:runtime:create <site>.<env>";
const LOCAL_GENERATE_HINT = "lockbox secret:site:local-generate <site>";

/** Failures after which the last good set is served: the server said nothing about the token. */
/**
 * While serving stale, how long until the next attempt (or the TTL, if shorter): soon enough to
 * recover quickly, rare enough that an outage does not cost every read a timeout. As the PHP drop-in.
 */
const STALE_RETRY_MS = 30_000;

const STALE_IF_ERROR: ReadonlySet<RuntimeErrorCode> = new Set([
  "UNREACHABLE",
  "SERVER_ERROR",
  "UNEXPECTED_RESPONSE",
]);

/**
 * Creates a runtime client. Configuration, in order: the options, then `LOCKBOX_SECRETS_FILE` /
 * `CUSTOMER_SECRETS_FAKE_FILE` (local mode, which wins over the server), then `LOCKBOX_URL` and
 * `LOCKBOX_RUNTIME_TOKEN`. Empty variables count as unset.
 *
 * Server mode:
 * - The first read fetches the whole set (`GET /site/secrets`); reads within `ttlSeconds` are
 *   served from memory. Concurrent reads share one request.
 * - After the TTL, the next read revalidates with `If-None-Match`: a 304 keeps the set and restarts
 *   the TTL; a 200 replaces it.
 * - Stale-if-error: when the server is unreachable, times out, answers 5xx or answers something that
 *   is not a secrets set, and a set was fetched before, that set keeps being served and the next
 *   attempt is 30 s later (or one TTL, if shorter); one warning is logged per outage (it never
 *   holds a value). With
 *   nothing fetched yet, the read rejects with a message naming the URL and the fix.
 * - A 401 or 403 always rejects and drops the cached set: a revoked token stops working at the next
 *   revalidation (within `ttlSeconds`), even if the server then becomes unreachable.
 *
 * Local mode: each read checks the file's mtime (and size, inode, ctime) and re-reads it when it
 * changed; each value is what `GET /site/secrets` would answer for `LOCKBOX_ENV` (see
 * {@link resolveLocalSecrets}), `null` counting as absent, the environment steps skipped without it.
 *
 * @throws {LockboxRuntimeError} `NOT_CONFIGURED` when neither a file nor a URL and token are set,
 * or the URL or token is unusable (neither is echoed).
 * @throws {RangeError} for a negative or non-finite `ttlSeconds`, or a `timeoutMs` that is not positive.
 *
 * @example
 * ```ts
 * import { createRuntimeClient } from "@lockbox/sdk";
 *
 * // LOCKBOX_URL=https://lockbox.example.com LOCKBOX_RUNTIME_TOKEN=lbr_…
 * const secrets = createRuntimeClient({ ttlSeconds: 60 });
 * const password = await secrets.getSecret("DB_PASSWORD");
 * if (password === null) throw new Error("DB_PASSWORD is not set for this environment");
 * ```
 */
export function createRuntimeClient(options: RuntimeClientOptions = {}): RuntimeClient {
  const { ttlSeconds, timeoutMs } = options;
  if (ttlSeconds !== undefined && !(Number.isFinite(ttlSeconds) && ttlSeconds >= 0)) {
    throw new RangeError(`ttlSeconds must be a finite number of seconds, 0 or more; got ${ttlSeconds}.`);
  }
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new RangeError(`timeoutMs must be a finite number of milliseconds above 0; got ${timeoutMs}.`);
  }
  const { watchSeconds } = options;
  if (
    watchSeconds !== undefined &&
    !(Number.isInteger(watchSeconds) && watchSeconds >= 1 && watchSeconds <= 300)
  ) {
    throw new RangeError(
      `watchSeconds must be a whole number of seconds from 1 to 300; got ${watchSeconds}.`,
    );
  }
  const processEnv = options.processEnv ?? process.env;
  const file = secretsFileOf(options, processEnv);
  const source: SecretSource =
    file === undefined
      ? new ServerSource(options, processEnv)
      : new FileSource(file.path, file.origin, nonEmpty(options.env) ?? nonEmpty(processEnv.LOCKBOX_ENV));
  const onChange = options.onChange;
  const loop = options.watch
    ? new WatchLoop(source, {
        ...(watchSeconds !== undefined ? { waitSeconds: watchSeconds } : {}),
        onChange: () => {
          const set = source.latest();
          if (onChange && set) onChange(set.record);
        },
      })
    : undefined;
  return {
    async getSecret(name) {
      return (await source.current()).map.get(name) ?? null;
    },
    async getSecrets() {
      return (await source.current()).record;
    },
    refresh() {
      return source.refresh();
    },
    close() {
      loop?.stop();
    },
  };
}

/**
 * Calls `onChange` with every secret (as {@link RuntimeClient.getSecrets} gives them) once the set
 * is first fetched, then after each change, within a moment of its write: a client created with
 * `watch: true` (blocking reads, see {@link createRuntimeClient}). Failures are retried with backoff;
 * `onChange` is not called for them. Returns the client: read through it, and `close()` it to stop.
 *
 * @example
 * ```ts
 * import { watchSecrets } from "@lockbox/sdk";
 *
 * const secrets = watchSecrets((all) => pool.reconnect(all.DB_PASSWORD));
 * process.on("SIGTERM", () => secrets.close());
 * ```
 */
export function watchSecrets(
  onChange: (secrets: Readonly<Record<string, string>>) => void,
  options: Omit<RuntimeClientOptions, "watch" | "onChange"> = {},
): RuntimeClient {
  return createRuntimeClient({ ...options, watch: true, onChange });
}

let defaultClient: RuntimeClient | undefined;

function defaultRuntimeClient(): RuntimeClient {
  defaultClient ??= createRuntimeClient();
  return defaultClient;
}

/**
 * The value of secret `name` for this application, or `null` when it has none: the analogue of
 * `pantheon_get_secret()`. Uses a default client created on first use from `LOCKBOX_URL` and
 * `LOCKBOX_RUNTIME_TOKEN` (or `LOCKBOX_SECRETS_FILE`), with the defaults of {@link createRuntimeClient}.
 *
 * @throws {LockboxRuntimeError} when unconfigured or when no set can be served.
 *
 * @example
 * ```ts
 * import { getSecret } from "@lockbox/sdk";
 *
 * const apiKey = await getSecret("STRIPE_API_KEY");
 * ```
 */
export async function getSecret(name: string): Promise<string | null> {
  return defaultRuntimeClient().getSecret(name);
}

/**
 * Every secret of this application, name → value (a frozen, null-prototype object), from the
 * default client of {@link getSecret}.
 *
 * @throws {LockboxRuntimeError} when unconfigured or when no set can be served.
 *
 * @example
 * ```ts
 * import { getSecrets } from "@lockbox/sdk";
 *
 * const { DB_USER, DB_PASSWORD } = await getSecrets();
 * ```
 */
export async function getSecrets(): Promise<Readonly<Record<string, string>>> {
  return defaultRuntimeClient().getSecrets();
}

/**
 * Forgets the default client of {@link getSecret} and {@link getSecrets}: the next call reads the
 * environment variables again and fetches anew. For tests, and for processes that change their
 * `LOCKBOX_*` variables.
 *
 * @example
 * ```ts
 * afterEach(() => resetDefaultRuntimeClient());
 * ```
 */
export function resetDefaultRuntimeClient(): void {
  defaultClient = undefined;
}

// ── Internals ──────────────────────────────────────────────────────────────────────────────────

/** One resolved set, kept both ways so neither read has to copy. */
interface SecretSet {
  readonly map: ReadonlyMap<string, string>;
  readonly record: Readonly<Record<string, string>>;
}

/** Where a client's set comes from: the server or a local file. */
interface SecretSource {
  /** The set to serve now, fetching or re-reading only when needed. */
  current(): Promise<SecretSet>;
  /** Fetches or re-reads now; rejects on any failure. */
  refresh(): Promise<void>;
  /** The set held now, without fetching. */
  latest(): SecretSet | undefined;
  /** One blocking read (server) or a look a second later (file), for the watch loop. */
  watchOnce(waitSeconds: number, signal: AbortSignal): Promise<WatchAnswer>;
}

function secretSet(map: ReadonlyMap<string, string>): SecretSet {
  const record: Record<string, string> = Object.create(null);
  for (const [name, value] of map) record[name] = value;
  return { map, record: Object.freeze(record) };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function secretsFileOf(
  options: RuntimeClientOptions,
  processEnv: Readonly<Record<string, string | undefined>>,
): { path: string; origin: string } | undefined {
  const candidates: [string | undefined, string][] = [
    [options.secretsFile, "the secretsFile option"],
    [processEnv.LOCKBOX_SECRETS_FILE, "LOCKBOX_SECRETS_FILE"],
    [processEnv.CUSTOMER_SECRETS_FAKE_FILE, "CUSTOMER_SECRETS_FAKE_FILE"],
  ];
  for (const [path, origin] of candidates) {
    const given = nonEmpty(path);
    if (given !== undefined) return { path: resolvePath(given), origin };
  }
  return undefined;
}

interface CachedSet {
  readonly set: SecretSet;
  readonly etag: string | undefined;
  /** When the server last confirmed the set (200 or 304), on the `now` clock. */
  readonly validatedAtMs: number;
  /** Reads before this are served from memory; pushed back after a failure served stale. */
  expiresAtMs: number;
}

class ServerSource implements SecretSource {
  readonly #url: string;
  readonly #endpoint: string;
  readonly #token: string;
  readonly #ttlMs: number;
  readonly #timeoutMs: number;
  readonly #fetch: typeof globalThis.fetch;
  /** The watch's: one whose socket does not keep the process alive, unless `fetch` was given. */
  readonly #watchFetch: typeof globalThis.fetch;
  readonly #now: () => number;
  readonly #logger: RuntimeLogger;
  #cache: CachedSet | undefined;
  #inflight: Promise<SecretSet> | undefined;
  /** True from the first failure served stale until the next answer: one warning per outage. */
  #outage = false;

  constructor(options: RuntimeClientOptions, processEnv: Readonly<Record<string, string | undefined>>) {
    const ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const url = nonEmpty(options.url) ?? nonEmpty(processEnv.LOCKBOX_URL);
    const token = nonEmpty(options.token) ?? nonEmpty(processEnv.LOCKBOX_RUNTIME_TOKEN);
    if (url === undefined || token === undefined) {
      const missing = [url === undefined && "LOCKBOX_URL", token === undefined && "LOCKBOX_RUNTIME_TOKEN"]
        .filter(Boolean)
        .join(" and ");
      throw new LockboxRuntimeError(
        "NOT_CONFIGURED",
        `Lockbox is not configured: set ${missing}. LOCKBOX_URL is the server's base URL (for example https://lockbox.example.com) and LOCKBOX_RUNTIME_TOKEN a runtime token (${CREATE_TOKEN_HINT}); for local development, set LOCKBOX_SECRETS_FILE to a file written by ${LOCAL_GENERATE_HINT} instead.`,
      );
    }
    this.#url = baseUrl(url);
    if (!/^[\x21-\x7e]+$/.test(token)) {
      throw new LockboxRuntimeError(
        "NOT_CONFIGURED",
        `The Lockbox runtime token contains spaces or other characters a token cannot have: check LOCKBOX_RUNTIME_TOKEN (${CREATE_TOKEN_HINT} prints a new one).`,
      );
    }
    this.#endpoint = `${this.#url}${SECRETS_PATH}`;
    this.#token = token;
    this.#ttlMs = ttlSeconds * 1000;
    this.#timeoutMs = timeoutMs;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#watchFetch = options.fetch ?? unrefFetch;
    this.#now = options.now ?? (() => performance.now());
    this.#logger = options.logger ?? console;
  }

  async current(): Promise<SecretSet> {
    const cached = this.#cache;
    if (cached !== undefined && this.#now() < cached.expiresAtMs) return cached.set;
    try {
      return await this.#revalidate();
    } catch (error) {
      const stale = this.#cache;
      if (stale === undefined || !(error instanceof LockboxRuntimeError) || !STALE_IF_ERROR.has(error.code)) {
        throw error;
      }
      const now = this.#now();
      const retryMs = Math.min(this.#ttlMs, STALE_RETRY_MS);
      stale.expiresAtMs = now + retryMs;
      if (!this.#outage) {
        this.#outage = true;
        const ageSeconds = Math.max(0, Math.round((now - stale.validatedAtMs) / 1000));
        this.#warn(
          `Lockbox: serving the secrets last confirmed ${ageSeconds} s ago until the server answers again (next attempt in ${retryMs / 1000} s; this warning is logged once per outage). ${error.message}`,
        );
      }
      return stale.set;
    }
  }

  async refresh(): Promise<void> {
    await this.#revalidate();
  }

  latest(): SecretSet | undefined {
    return this.#cache?.set;
  }

  /** Not shared with reads: a read must not wait for a held request. Only a new ETag is a change. */
  async watchOnce(waitSeconds: number, signal: AbortSignal): Promise<WatchAnswer> {
    const before = this.#cache;
    let retryAfterMs: number | undefined;
    await this.#fetchSet({
      seconds: waitSeconds,
      signal,
      onResponse: (response) => {
        const header = response.headers.get("retry-after");
        if (header !== null) retryAfterMs = parseRetryAfter(header) * 1000;
      },
    });
    const after = this.#cache;
    return {
      changed: after !== undefined && (before === undefined || after.etag !== before.etag),
      retryAfterMs,
    };
  }

  /** A logger that throws must not turn a read served from the cache into a failure. */
  #warn(message: string): void {
    try {
      this.#logger.warn(message);
    } catch {
      // Nothing better to do with a warning nobody can receive.
    }
  }

  /** One request at a time: concurrent callers share it. */
  #revalidate(): Promise<SecretSet> {
    this.#inflight ??= this.#fetchSet().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** `watch`: a blocking read of at most `seconds`, ended by `signal`, its socket unref'd. */
  async #fetchSet(watch?: {
    seconds: number;
    signal: AbortSignal;
    onResponse: (response: Response) => void;
  }): Promise<SecretSet> {
    const cached = this.#cache;
    const headers: Record<string, string> = {
      accept: "application/json",
      authorization: `Bearer ${this.#token}`,
      "user-agent": "lockbox-sdk",
    };
    if (cached?.etag !== undefined) headers["if-none-match"] = cached.etag;
    const controller = new AbortController();
    const timeoutMs = this.#timeoutMs + (watch ? watch.seconds * 1000 : 0);
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const stop = () => controller.abort();
    if (watch) {
      timer.unref();
      watch.signal.addEventListener("abort", stop, { once: true });
    }
    let response: Response;
    let text: string;
    try {
      // Redirects are not followed: the token must not travel to an address nobody configured.
      response = await (watch ? this.#watchFetch : this.#fetch)(
        watch ? `${this.#endpoint}?wait=${watch.seconds}` : this.#endpoint,
        { headers, redirect: "manual", signal: controller.signal },
      );
      text = await response.text();
      watch?.onResponse(response);
    } catch (error) {
      const reason = controller.signal.aborted
        ? `no answer within ${timeoutMs} ms (timeoutMs)`
        : describeFetchFailure(error);
      throw new LockboxRuntimeError(
        "UNREACHABLE",
        `Cannot reach Lockbox at ${this.#url}: ${reason}. Check LOCKBOX_URL and that the server is running and reachable from here.`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
      watch?.signal.removeEventListener("abort", stop);
    }

    const { status } = response;
    if (status === 304 && cached !== undefined) return this.#keep(cached.set, cached.etag);
    if (status === 200) {
      const parsed = parseRuntimeSet(text);
      if (typeof parsed === "string")
        throw this.#unexpected(status, `and a body that is not a secrets set (${parsed})`);
      const etag =
        response.headers.get("etag") ?? (parsed.version === undefined ? undefined : `"${parsed.version}"`);
      return this.#keep(secretSet(parsed.secrets), etag);
    }

    const body = errorBody(text);
    const detail = body === undefined ? "" : ` ${bounded(body.code)}: ${bounded(body.message)}`;
    const requestId = body?.requestId === undefined ? "" : ` (request id ${bounded(body.requestId)})`;
    const init = { status, requestId: body?.requestId };
    if (status === 401 || status === 403) {
      this.#cache = undefined;
      this.#outage = false;
      if (status === 401) {
        // The server's own message says the same as ours ("invalid, expired or revoked"): say it once.
        const id = body?.requestId === undefined ? "" : `, request id ${bounded(body.requestId)}`;
        throw new LockboxRuntimeError(
          "UNAUTHENTICATED",
          `Lockbox at ${this.#url} refused the runtime token (HTTP 401${id}): it is unknown, expired or revoked. Set LOCKBOX_RUNTIME_TOKEN to a current runtime token of this site environment (create one with ${CREATE_TOKEN_HINT}).`,
          init,
        );
      }
      throw new LockboxRuntimeError(
        "FORBIDDEN",
        `Lockbox at ${this.#url} refused the token (HTTP 403${detail})${requestId}: LOCKBOX_RUNTIME_TOKEN must be a runtime token (lbr_…), not a user or build token (${CREATE_TOKEN_HINT}).`,
        init,
      );
    }
    if (status >= 500) {
      throw new LockboxRuntimeError(
        "SERVER_ERROR",
        `Lockbox at ${this.#url} failed with HTTP ${status}${detail}${requestId}: look at the server's log.`,
        init,
      );
    }
    if (status === 304) throw this.#unexpected(status, "to a request without If-None-Match");
    if (status >= 300 && status < 400) {
      throw this.#unexpected(
        status,
        `(a redirect${describeLocation(response.headers.get("location"), this.#endpoint)})`,
      );
    }
    throw this.#unexpected(status, detail === "" ? "" : `(${detail.trim()})${requestId}`, body?.requestId);
  }

  #keep(set: SecretSet, etag: string | undefined): SecretSet {
    const now = this.#now();
    this.#cache = { set, etag, validatedAtMs: now, expiresAtMs: now + this.#ttlMs };
    this.#outage = false;
    return set;
  }

  #unexpected(status: number, what: string, requestId?: string): LockboxRuntimeError {
    return new LockboxRuntimeError(
      "UNEXPECTED_RESPONSE",
      `Lockbox at ${this.#url} answered GET ${SECRETS_PATH} with HTTP ${status}${what === "" ? "" : ` ${what}`}: check that LOCKBOX_URL is the Lockbox server's base URL.`,
      { status, requestId },
    );
  }
}

/**
 * A base URL for requests and messages: http(s), no credentials, no query or fragment, no trailing
 * slash. Never echoes an unusable URL.
 */
function baseUrl(raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new LockboxRuntimeError(
      "NOT_CONFIGURED",
      "LOCKBOX_URL is not a valid URL: use the server's base URL, for example https://lockbox.example.com.",
    );
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new LockboxRuntimeError(
      "NOT_CONFIGURED",
      `LOCKBOX_URL must start with http:// or https://, not ${parsed.protocol}//.`,
    );
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw new LockboxRuntimeError(
      "NOT_CONFIGURED",
      "LOCKBOX_URL must not contain a user name or password (the runtime token authenticates): remove them.",
    );
  }
  parsed.search = "";
  parsed.hash = "";
  return parsed.href.replace(/\/+$/, "");
}

/** A server-supplied string for a message: one line, at most 200 characters. */
function bounded(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** ` to <origin and path>` of a redirect's `Location`, without credentials, query or fragment. */
function describeLocation(location: string | null, relativeTo: string): string {
  if (location === null) return "";
  try {
    const target = new URL(location, relativeTo);
    return ` to ${target.origin}${target.pathname}`;
  } catch {
    return "";
  }
}

/** Parses the wire shape of SPEC §3 into a name → value map; a string is what is wrong with it. */
function parseRuntimeSet(
  text: string,
): { secrets: Map<string, string>; version: string | undefined } | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (typeof json !== "object" || json === null) return "not a JSON object";
  const { Secrets: raw, Version: version } = json as { Secrets?: unknown; Version?: unknown };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return `no "Secrets" object`;
  const secrets = new Map<string, string>();
  for (const [name, entry] of Object.entries(raw)) {
    const value =
      typeof entry === "object" && entry !== null ? (entry as { Value?: unknown }).Value : undefined;
    if (typeof value !== "string") return `the "Value" of a secret is not a string`;
    secrets.set(name, value);
  }
  return {
    secrets,
    version: typeof version === "string" && /^[\x21-\x7e]+$/.test(version) ? version : undefined,
  };
}

/** `{"error": {code, message, requestId}}`, when the answer is Lockbox's. */
function errorBody(
  text: string,
): { code: string; message: string; requestId: string | undefined } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== "object" || json === null) return undefined;
  const error = (json as { error?: unknown }).error;
  if (typeof error !== "object" || error === null) return undefined;
  const { code, message, requestId } = error as { code?: unknown; message?: unknown; requestId?: unknown };
  if (typeof code !== "string" || typeof message !== "string") return undefined;
  return { code, message, requestId: typeof requestId === "string" ? requestId : undefined };
}

const NETWORK_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  UND_ERR_SOCKET: "the connection closed before the answer was complete",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
};

/** Names a fetch failure from its cause's code (undici puts the system error in `cause`). */
function describeFetchFailure(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return `${NETWORK_ERRORS[code] ?? "request failed"} (${code})`;
    current = (current as { cause?: unknown }).cause;
  }
  return error instanceof Error ? error.message : "request failed";
}

class FileSource implements SecretSource {
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

  /** A look at the file a second from now: a changed file is a new set. */
  async watchOnce(_waitSeconds: number, signal: AbortSignal): Promise<WatchAnswer> {
    const before = this.#loaded?.set;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, before === undefined ? 0 : 1000);
      timer.unref();
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
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
