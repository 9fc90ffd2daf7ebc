import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { LockboxError } from "@lockbox/core";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, type SqliteDatabase, SqliteDialect, sql } from "kysely";
import { LRUCache } from "lru-cache";
import { makeDirectory } from "../files.js";
import type { Database } from "./database.js";
import { type DialectDriver, LockboxDb } from "./lockbox-db.js";
import { migrateToLatest, requireCurrentSchema } from "./migrate.js";
import { classifySqliteError, faultClassifyingDialect, StoreHealth } from "./store-faults.js";

export interface SqliteDbOptions {
  /** The database file; its directory is created when missing. */
  readonly path: string;
  /**
   * Claim the file for this process (a server). A second claimant, in this or another process,
   * is refused while the first is alive. Offline tools (`admin:token`, `keys:rotate`) do not claim.
   */
  readonly exclusive?: boolean;
  /** How long a writer waits for another process's write lock (default 5000 ms). */
  readonly busyTimeoutMs?: number;
  /**
   * Migrate to the latest schema (the default). False: open an existing store only, and refuse one
   * not at exactly the latest migration, changing nothing (tools that only read a store).
   */
  readonly migrate?: boolean;
}

/**
 * Opens (and migrates) the embedded SQLite store: WAL journal, `synchronous=FULL` so an acknowledged
 * write survives `kill -9` and power loss, foreign keys on, and `BEGIN IMMEDIATE` for every write
 * transaction so that a rule's read and its write cannot interleave with another writer.
 */
export async function openSqliteDb(options: SqliteDbOptions): Promise<LockboxDb> {
  // Only its owner may read the store (names, emails, the audit log, wrapped data keys): a new folder
  // is 0700 and a new file 0600, which SQLite gives its -wal and -shm files too.
  if (options.migrate === false && !existsSync(options.path)) {
    throw new LockboxError("NOT_FOUND", `No store at '${options.path}': check the path.`);
  }
  const { database, release } = openForWriting(options);
  try {
    database.pragma("synchronous = FULL");
    database.pragma("foreign_keys = ON");
    database.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    // A page cache of up to 64 MiB (SQLite's default is 2 MiB): the indexes a resolution walks stay
    // in memory on a store of many sites, instead of a read of the file per page.
    database.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    const health = new StoreHealth(options.path);
    const dialect = faultClassifyingDialect(
      new SqliteDialect({ database: withStatementCache(database) }),
      classifySqliteError,
      health,
    );
    const db = new Kysely<Database>({ dialect });
    const label = `'${options.path}'`;
    if (options.migrate === false) await requireCurrentSchema(db, "sqlite", label);
    else await migrateToLatest(db, "sqlite", label);
    return new LockboxDb(db, sqliteDriver(release), health);
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * Creates the folder and the file when missing, claims the file when `exclusive`, and opens it in
 * WAL mode. Every step writes beside the database (the file, its -wal and -shm files, the lock file):
 * a folder that refuses that is said as such, naming the file and the fix, not as a bare errno.
 */
function openForWriting(options: SqliteDbOptions): { database: BetterSqlite3.Database; release: () => void } {
  let release = () => {};
  try {
    makeDirectory(dirname(options.path));
    closeSync(openSync(options.path, "a", 0o600));
    if (options.exclusive) release = claimFile(options.path);
    const database = new BetterSqlite3(options.path);
    try {
      database.pragma("journal_mode = WAL");
    } catch (error) {
      database.close();
      throw error;
    }
    return { database, release };
  } catch (error) {
    release();
    throw unwritableError(options.path, error);
  }
}

/** errno and SQLite codes that mean the database's folder (or file) cannot be written. */
const UNWRITABLE_CODES = new Set(["EACCES", "EPERM", "EROFS", "ENOTDIR", "SQLITE_CANTOPEN"]);

function unwritableError(path: string, error: unknown): unknown {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== "string" || !(UNWRITABLE_CODES.has(code) || code.startsWith("SQLITE_READONLY"))) {
    return error;
  }
  const folder = dirname(path);
  const elsewhere = "or give another path (--db or LOCKBOX_DB; --from or --to for store:copy).";
  const reason =
    code === "ENOTDIR"
      ? `a part of its folder '${folder}' is a file, not a folder: fix the path, ${elsewhere}`
      : writable(folder) && existsSync(path)
        ? `the file itself is read-only (the folder '${folder}' is writable): make the file writable (chmod u+w), ${elsewhere}`
        : `its folder '${folder}' must be writable, since SQLite writes the database, its -wal and -shm files and a lock file there. Make the folder writable, ${elsewhere}`;
  return new LockboxError(
    "UNAVAILABLE",
    `The SQLite database '${path}' cannot be opened for writing (${code}): ${reason}`,
    { cause: error },
  );
}

function writable(folder: string): boolean {
  try {
    accessSync(folder, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** SQLite's page cache, in KiB. */
const PAGE_CACHE_KIB = 64 * 1024;
/** Prepared statements kept for reuse (distinct SQL texts; `in (…)` lists of each length count apart). */
const STATEMENT_CACHE_SIZE = 256;

/**
 * The database as Kysely's SQLite dialect sees it, with prepared statements reused: Kysely
 * prepares every query again, which costs about as much as running a small one. A statement still
 * being iterated (a stream) is not handed out again; a new one is prepared instead.
 */
function withStatementCache(database: BetterSqlite3.Database): SqliteDatabase {
  const statements = new LRUCache<string, BetterSqlite3.Statement>({ max: STATEMENT_CACHE_SIZE });
  return {
    close: () => {
      statements.clear();
      database.close();
    },
    prepare(text: string) {
      const cached = statements.get(text);
      if (cached && !cached.busy) return cached;
      const statement = database.prepare(text);
      statements.set(text, statement);
      return statement;
    },
  };
}

function sqliteDriver(release: () => void): DialectDriver {
  return {
    dialect: "sqlite",
    writeTransaction: (db, fn) => onOneConnection(db, "BEGIN IMMEDIATE", fn),
    consistentRead: (db, fn) => onOneConnection(db, "BEGIN", fn),
    async lockRow(conn, table, id) {
      // BEGIN IMMEDIATE already holds the database's write lock: checking existence is enough.
      const row = await conn.selectFrom(table).select("id").where("id", "=", id).executeTakeFirst();
      return row !== undefined;
    },
    async lockAudit() {},
    // One server per SQLite file: there is no other process to tell.
    async notify() {},
    constraintOf(error) {
      const code = (error as { code?: unknown }).code;
      if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") return "unique";
      if (code === "SQLITE_CONSTRAINT_FOREIGNKEY" || code === "SQLITE_CONSTRAINT_TRIGGER")
        return "foreign-key";
      if (code === "SQLITE_CONSTRAINT_CHECK") return "check";
      return undefined;
    },
    async destroy(db) {
      try {
        await db.destroy();
      } finally {
        release();
      }
    },
  };
}

/** Runs `fn` on the single connection between `begin` and COMMIT, rolling back if it throws. */
function onOneConnection<T>(db: Kysely<Database>, begin: string, fn: (conn: Kysely<Database>) => Promise<T>) {
  return db.connection().execute(async (conn) => {
    await sql.raw(begin).execute(conn);
    try {
      const result = await fn(conn);
      await sql`COMMIT`.execute(conn);
      return result;
    } catch (error) {
      // SQLite may have rolled back already (a failed COMMIT on a full disk): the first error is
      // the one to report, not "no transaction is active".
      await sql`ROLLBACK`.execute(conn).catch(() => {});
      throw error;
    }
  });
}

/**
 * Claims `<path>.lock` for this process, like PostgreSQL's `postmaster.pid`: the file holds the
 * owner's pid, and a lock whose process is gone (after `kill -9`) is taken over.
 */
function claimFile(path: string): () => void {
  const lockPath = `${path}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const pid = Number.parseInt(readFileSafely(lockPath), 10);
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new LockboxError(
          "UNAVAILABLE",
          `Another Lockbox server (pid ${pid}) is already using the SQLite database '${path}'. ` +
            "SQLite serves one server process: stop the other server, or use PostgreSQL (--db postgres://…) to run several.",
        );
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new LockboxError(
    "UNAVAILABLE",
    `Could not claim the SQLite database '${path}': remove '${lockPath}' if no server runs.`,
  );
}

function readFileSafely(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
