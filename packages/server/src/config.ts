import { dirname, join, resolve } from "node:path";
import { LockboxError, SERVER_DEFAULTS } from "@lockbox/core";
import type { LockboxDb } from "./db/lockbox-db.js";
import { openPostgresDb } from "./db/postgres.js";
import { openSqliteDb } from "./db/sqlite.js";

/**
 * Lockbox's configuration rules, in one place: the defaults of `server:start`'s flags, which
 * database a string names, and where embedded mode keeps its master key. The CLI passes flags
 * through unset; the defaults are applied here.
 */

/** The default embedded database (SPEC §6). */
export const DEFAULT_DB = SERVER_DEFAULTS.db;
export const DEFAULT_HOST = SERVER_DEFAULTS.host;
export const DEFAULT_PORT = SERVER_DEFAULTS.port;
/** SPEC §5's default: 10 requests/s per token with a burst of 20. */
export const DEFAULT_RATE_LIMIT = SERVER_DEFAULTS.rateLimit;
export const DEFAULT_REQUEST_TIMEOUT_SECONDS = SERVER_DEFAULTS.requestTimeout;
export const DEFAULT_MAX_CONNECTIONS = SERVER_DEFAULTS.maxConnections;
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = SERVER_DEFAULTS.maxConnectionsPerAddress;
export const DEFAULT_MAX_HELD_REQUESTS = SERVER_DEFAULTS.maxHeldRequests;

/** Whether `db` names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/**
 * Refuses a database name that is neither a SQLite path nor a PostgreSQL URL: an empty one, or a URL
 * of another scheme (`postgress://`, `mysql://`), which would otherwise be taken for a file path and
 * start a new, empty store beside a new master key. Names the scheme only: the URL may hold a password.
 */
export function checkDatabase(db: string): void {
  if (db.trim() === "") {
    throw new LockboxError(
      "VALIDATION_FAILED",
      "The database option is empty (--db, LOCKBOX_DB, --from or --to): give a SQLite file path, such as ./data/lockbox.db, or a PostgreSQL URL, postgres://USER@HOST:PORT/DATABASE.",
    );
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(db)?.[1];
  if (scheme !== undefined && !isPostgresUrl(db)) {
    throw new LockboxError(
      "VALIDATION_FAILED",
      `Unsupported database URL '${scheme}://…': Lockbox stores its data in SQLite (--db=PATH, such as ` +
        "./data/lockbox.db) or PostgreSQL (--db=postgres://USER@HOST:PORT/DATABASE or postgresql://…).",
    );
  }
}

/** The database to use: `--db`, else `LOCKBOX_DB`, else {@link DEFAULT_DB}. */
export function databaseOf(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  return flag ?? env.LOCKBOX_DB ?? DEFAULT_DB;
}

/**
 * Embedded mode's master key file: `master.key` beside the SQLite database (created on the first
 * start). PostgreSQL deployments have none: their key comes from the environment or a flag.
 */
export function defaultMasterKeyFile(db: string): string | undefined {
  return isPostgresUrl(db) ? undefined : join(dirname(resolve(db)), "master.key");
}

/**
 * Opens (and migrates) the database `db` names: a SQLite file (claimed for this process when
 * `exclusive`), or PostgreSQL. `migrate: false` opens an existing store at the latest migration
 * only, changing nothing (for tools that read a store others may be serving).
 */
export function openDb(db: string, options: { exclusive: boolean; migrate?: boolean }): Promise<LockboxDb> {
  const migrate = options.migrate ?? true;
  checkDatabase(db);
  return isPostgresUrl(db)
    ? openPostgresDb({ url: db, migrate })
    : openSqliteDb({ path: db, exclusive: options.exclusive, migrate });
}

/** Parses `--rate-limit=RPS/BURST` (`0` disables): undefined when disabled. */
export function parseRateLimit(text: string): { ratePerSecond: number; burst: number } | undefined {
  const trimmed = text.trim();
  if (trimmed === "0") return undefined;
  const match = /^(\d+(?:\.\d+)?)(?:\/(\d+))?$/.exec(trimmed);
  const rate = Number(match?.[1]);
  if (!match || !(rate > 0)) {
    throw new LockboxError(
      "VALIDATION_FAILED",
      `Invalid rate limit '${text}': use RPS/BURST, for example 10/20, or 0 to disable.`,
    );
  }
  return {
    ratePerSecond: rate,
    burst: match[2] !== undefined ? Number(match[2]) : Math.max(1, Math.ceil(rate * 2)),
  };
}

/** Longest `--request-timeout`: a day (Node's timers take at most about 24.8 days). */
const MAX_REQUEST_TIMEOUT_SECONDS = 86_400;

/** Parses `--request-timeout=SECONDS` (`0` disables) into milliseconds. */
export function parseRequestTimeout(text: string | number): number {
  const seconds = /^\d+(\.\d+)?$/.test(String(text).trim()) ? Number(text) : Number.NaN;
  if (!(seconds >= 0 && seconds <= MAX_REQUEST_TIMEOUT_SECONDS)) {
    throw new LockboxError(
      "VALIDATION_FAILED",
      `Invalid --request-timeout '${text}': use seconds from 0 (no timeout) to ${MAX_REQUEST_TIMEOUT_SECONDS}, for example 30.`,
    );
  }
  return Math.round(seconds * 1000);
}

/** Parses `--max-connections=N` (`0`: no cap): undefined when there is none. */
export function parseMaxConnections(text: string | number): number | undefined {
  return parseConnectionCap(text, "--max-connections", 1000);
}

/** Parses `--max-connections-per-address=N` (`0`: no cap): undefined when there is none. */
export function parseMaxConnectionsPerAddress(text: string | number): number | undefined {
  return parseConnectionCap(text, "--max-connections-per-address", 256);
}

function parseConnectionCap(text: string | number, flag: string, example: number): number | undefined {
  const count = /^\d+$/.test(String(text).trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(count)) {
    throw new LockboxError(
      "VALIDATION_FAILED",
      `Invalid ${flag} '${text}': use a whole number, for example ${example}, or 0 for no cap.`,
    );
  }
  return count === 0 ? undefined : count;
}

/** Parses `--max-held-requests=N`: blocking reads held at once (`0`: none, every wait answers 304 at once). */
export function parseMaxHeldRequests(text: string | number): number {
  const count = /^\d+$/.test(String(text).trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(count)) {
    throw new LockboxError(
      "VALIDATION_FAILED",
      `Invalid --max-held-requests '${text}': use a whole number, for example ${DEFAULT_MAX_HELD_REQUESTS}, or 0 to hold none.`,
    );
  }
  return count;
}
