/**
 * The runtime client: what an application calls to read its secrets (SPEC §3), the analogue of the
 * seed product's `pantheon_get_secret()`. One `GET /site/secrets` fetches the whole resolved set;
 * the set is cached for a TTL and revalidated with `If-None-Match`; the last good set keeps being
 * served while the server is unreachable (stale-if-error). In local development it reads the file
 * written by `lockbox secret:site:local-generate` instead. Zero dependencies: global `fetch` and
 * `node:` modules only.
 */
import { resolve as resolvePath } from "node:path";
import { FileSource } from "./file-source.js";
import { LockboxRuntimeError, type RuntimeErrorCode } from "./runtime-errors.js";
import { WatchLoop } from "./runtime-watch.js";
import { nonEmpty, type SecretSource } from "./secret-source.js";
import { ServerSource } from "./server-source.js";

export { LockboxRuntimeError, type RuntimeErrorCode };

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
  /**
   * The `fetch` to use; defaults to the global one (and, for the watch's blocking reads, to
   * `node:http`). Given, the watch uses it too, and its read in flight keeps the process alive until
   * `close()`.
   */
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
  /**
   * With `watch`: called with each failed blocking read (a revoked token, an unreachable server …);
   * the watch goes on retrying with backoff. Without it, the first failure of each outage is
   * written to the `logger`.
   */
  readonly onError?: ((error: LockboxRuntimeError) => void) | undefined;
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
   * Without a watch it does nothing. The watch keeps a Node process alive only until its first
   * read's outcome has been handed to `onChange` or `onError` (or the logger), unless `fetch` was
   * given: then its blocking read in flight does, as any `fetch` does, until `close()`.
   */
  close(): void;
}

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
 * or the URL or token is unusable (neither is echoed), or in local mode the environment is no
 * environment name (`Live`: names are lower case).
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
      : new FileSource(file.path, file.origin, localEnvironment(options, processEnv));
  const onChange = options.onChange;
  const onError = options.onError;
  const logger = options.logger ?? console;
  const loop = options.watch
    ? new WatchLoop(source, {
        ...(watchSeconds !== undefined ? { waitSeconds: watchSeconds } : {}),
        onChange: () => {
          const set = source.latest();
          if (onChange && set) onChange(set.record);
        },
        onError: (error, failures) => {
          const runtimeError =
            error instanceof LockboxRuntimeError
              ? error
              : new LockboxRuntimeError("UNEXPECTED_RESPONSE", "Watching the secrets failed.", {
                  cause: error,
                });
          if (onError) onError(runtimeError);
          else if (failures === 1) {
            logger.warn(
              `Lockbox: watching the secrets failed (${runtimeError.code}: ${runtimeError.message}); retrying with backoff.`,
            );
          }
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
      source.close();
    },
  };
}

/**
 * Calls `onChange` with every secret (as {@link RuntimeClient.getSecrets} gives them) once the set
 * is first fetched, then after each change, within a moment of its write: a client created with
 * `watch: true` (blocking reads, see {@link createRuntimeClient}). Failures are retried with backoff;
 * `onChange` is not called for them. The process is kept alive until the first set reaches
 * `onChange` or the first failure is reported, not after. Returns the client: read through it, and
 * `close()` it to stop.
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

/** dev, test, live and multidev names: what an environment can be called (core's rule). */
const ENVIRONMENT_NAME = /^[a-z0-9][a-z0-9-]{0,10}$/;

/**
 * Local mode's environment (`env`, else `LOCKBOX_ENV`), or undefined for none. A name no
 * environment can have is refused: it would silently give the base values (`Live` for `live`).
 */
function localEnvironment(
  options: RuntimeClientOptions,
  processEnv: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const fromOption = nonEmpty(options.env);
  const env = fromOption ?? nonEmpty(processEnv.LOCKBOX_ENV);
  if (env === undefined || ENVIRONMENT_NAME.test(env)) return env;
  throw new LockboxRuntimeError(
    "NOT_CONFIGURED",
    `${fromOption === undefined ? "LOCKBOX_ENV" : "The env option"} ${JSON.stringify(env)} is not an environment name: use dev, test, live or a multidev name (1-11 lowercase letters, digits and hyphens), as the site has it.`,
  );
}
