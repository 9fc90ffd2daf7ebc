import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Database } from "./database.js";
import { type DialectDriver, KyselyStore } from "./kysely-store.js";
import { migrateToLatest } from "./migrate.js";

/** The advisory lock key that serializes audit appends across every server ("lockbox" in ASCII). */
const AUDIT_LOCK_KEY = 0x6c6f636b626f78n;

export interface PostgresStoreOptions {
  /** A `postgres://` connection string. Never logged or put in an error message. */
  readonly url: string;
  /** Pool size (default 10). */
  readonly maxConnections?: number;
}

/**
 * Opens (and migrates, under Kysely's advisory lock) a PostgreSQL store. Write transactions run at
 * READ COMMITTED; rules are kept by a row lock on the owner (`SELECT … FOR UPDATE`) taken before
 * any read, by constraints, and by a transaction-scoped advisory lock for audit appends.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<KyselyStore> {
  const pool = new pg.Pool({ connectionString: options.url, max: options.maxConnections ?? 10 });
  // An idle client's error (the server restarted) must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrateToLatest(db, "postgres");
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyStore(db, postgresDriver);
}

const postgresDriver: DialectDriver = {
  dialect: "postgres",
  writeTransaction: (db, fn) => db.transaction().execute(fn),
  consistentRead: (db, fn) =>
    db.transaction().setIsolationLevel("repeatable read").setAccessMode("read only").execute(fn),
  async lockRow(conn, table, id) {
    const row = await conn.selectFrom(table).select("id").where("id", "=", id).forUpdate().executeTakeFirst();
    return row !== undefined;
  },
  async lockAudit(conn) {
    await sql`select pg_advisory_xact_lock(${sql.lit(AUDIT_LOCK_KEY.toString())}::bigint)`.execute(conn);
  },
  constraintOf(error) {
    const code = (error as { code?: unknown }).code;
    if (code === "23505") return "unique";
    if (code === "23503") return "foreign-key";
    if (code === "23514") return "check";
    return undefined;
  },
  async destroy(db) {
    await db.destroy();
  },
};
