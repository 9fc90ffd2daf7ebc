/**
 * The runtime client's server source: `GET /site/secrets` with a TTL cache, `If-None-Match`
 * revalidation, stale-if-error, and the blocking reads of the watch.
 */
import { AnswerTooLarge, describeLocation, maskTokens, parseRetryAfter } from "./answers.js";
import { describeNetworkFailure } from "./network-failure.js";
import type { RuntimeClientOptions, RuntimeLogger } from "./runtime-client.js";
import {
  CREATE_TOKEN_HINT,
  LOCAL_GENERATE_HINT,
  LockboxRuntimeError,
  type RuntimeErrorCode,
} from "./runtime-errors.js";
import type { WatchAnswer } from "./runtime-watch.js";
import { nonEmpty, type SecretSet, type SecretSource, secretSet } from "./secret-source.js";
import {
  type Answer,
  fetchTransport,
  keptAliveTransport,
  NoAnswerInTime,
  type Transport,
} from "./transport.js";

const DEFAULT_TTL_SECONDS = 300;
const DEFAULT_TIMEOUT_MS = 5000;
const SECRETS_PATH = "/site/secrets";

/**
 * While serving stale, how long until the next attempt (or the TTL, if shorter): soon enough to
 * recover quickly, rare enough that an outage does not cost every read a timeout. As the PHP drop-in.
 */
const STALE_RETRY_MS = 30_000;

/** Failures after which the last good set is served: the server said nothing about the token. */
const STALE_IF_ERROR: ReadonlySet<RuntimeErrorCode> = new Set([
  "UNREACHABLE",
  "SERVER_ERROR",
  "UNEXPECTED_RESPONSE",
]);

interface CachedSet {
  readonly set: SecretSet;
  readonly etag: string | undefined;
  /** When the server last confirmed the set (200 or 304), on the `now` clock. */
  readonly validatedAtMs: number;
  /** Reads before this are served from memory; pushed back after a failure served stale. */
  expiresAtMs: number;
}

export class ServerSource implements SecretSource {
  readonly #url: string;
  readonly #endpoint: string;
  readonly #token: string;
  readonly #ttlMs: number;
  readonly #timeoutMs: number;
  readonly #transport: Transport;
  readonly #fetch: typeof globalThis.fetch | undefined;
  /**
   * The watch's, made by its first blocking read and ended by the watch's signal: one whose kept
   * connection does not keep the process alive, unless `fetch` was given; `close()` closes it.
   */
  #watch: { readonly transport: Transport; close(): void } | undefined;
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
    this.#fetch = options.fetch;
    this.#transport = fetchTransport(options.fetch ?? globalThis.fetch);
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

  close(): void {
    this.#watch?.close();
  }

  /**
   * Not shared with reads: a read must not wait for a held request. Only a new ETag is a change.
   * `signal` is the watch's, the same for every call (one watch per client): the first call's makes
   * the watch's transport, and its abort ends that transport for good.
   */
  async watchOnce(waitSeconds: number, signal: AbortSignal): Promise<WatchAnswer> {
    const before = this.#cache;
    let retryAfterMs: number | undefined;
    this.#watch ??= this.#fetch
      ? { transport: fetchTransport(this.#fetch, signal), close() {} }
      : keptAliveTransport(signal);
    await this.#fetchSet({
      seconds: waitSeconds,
      transport: this.#watch.transport,
      onResponse: (answer) => {
        const header = answer.header("retry-after");
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

  /** `watch`: a blocking read of at most `seconds` through the watch's transport. */
  async #fetchSet(watch?: {
    seconds: number;
    transport: Transport;
    onResponse: (answer: Answer) => void;
  }): Promise<SecretSet> {
    const cached = this.#cache;
    const headers: Record<string, string> = {
      accept: "application/json",
      authorization: `Bearer ${this.#token}`,
      "user-agent": "lockbox-sdk",
    };
    if (cached?.etag !== undefined) headers["if-none-match"] = cached.etag;
    // Without If-None-Match the server answers at once, `wait` or not (the watch's first read).
    const held = watch !== undefined && cached?.etag !== undefined;
    const timeoutMs = this.#timeoutMs + (held ? watch.seconds * 1000 : 0);
    let answer: Answer;
    try {
      // Neither transport follows redirects: the token must not travel to an address nobody configured.
      answer = watch
        ? await watch.transport(`${this.#endpoint}?wait=${watch.seconds}`, headers, timeoutMs)
        : await this.#transport(this.#endpoint, headers, timeoutMs);
      watch?.onResponse(answer);
    } catch (error) {
      if (error instanceof AnswerTooLarge) {
        throw new LockboxRuntimeError(
          "UNEXPECTED_RESPONSE",
          `Lockbox at ${this.#url} did not answer as Lockbox does: ${error.message} (LOCKBOX_URL).`,
          { cause: error },
        );
      }
      const reason =
        error instanceof NoAnswerInTime
          ? `no answer within ${error.timeoutMs} ms (timeoutMs)`
          : describeNetworkFailure(error);
      throw new LockboxRuntimeError(
        "UNREACHABLE",
        `Cannot reach Lockbox at ${this.#url}: ${reason}. Check LOCKBOX_URL and that the server is running and reachable from here.`,
        { cause: error },
      );
    }

    const { status, text } = answer;
    if (status === 304 && cached !== undefined) return this.#keep(cached.set, cached.etag);
    if (status === 200) {
      const parsed = parseRuntimeSet(text);
      if (typeof parsed === "string")
        throw this.#unexpected(status, `and a body that is not a secrets set (${parsed})`);
      const etag =
        answer.header("etag") ?? (parsed.version === undefined ? undefined : `"${parsed.version}"`);
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
        `(a redirect${describeLocation(answer.header("location"), this.#endpoint)})`,
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
  const line = maskTokens(text).replace(/\s+/g, " ").trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
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
