import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { LockboxDb } from "../db/lockbox-db.js";
import { openPostgresDb } from "../db/postgres.js";
import { openSqliteDb } from "../db/sqlite.js";

/** A store made for one test file, with what it needs to clean up after itself. */
export interface TestDatabase {
  readonly dialect: "sqlite" | "postgres";
  /** Opens a new store on this database (several may be open at once on PostgreSQL). */
  open(): Promise<LockboxDb>;
  /** For SQLite: the database file; for PostgreSQL: the connection string of the test database. */
  readonly location: string;
  /** Drops the database (PostgreSQL) or removes the folder (SQLite). */
  drop(): Promise<void>;
}

/** A fresh SQLite database in its own temporary folder (made inside `parent` when given). */
export function sqliteTestDatabase(parent: string = tmpdir()): TestDatabase {
  const dir = mkdtempSync(join(parent, "lockbox-test-"));
  const path = join(dir, "lockbox.db");
  return {
    dialect: "sqlite",
    location: path,
    open: () => openSqliteDb({ path }),
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The server the PostgreSQL tests use: `LOCKBOX_TEST_POSTGRES_URL`, or the local one. */
export const POSTGRES_ADMIN_URL =
  process.env.LOCKBOX_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/**
 * Whether PostgreSQL tests must run: in CI (`CI=true`) or with `LOCKBOX_REQUIRE_POSTGRES=1` an
 * unreachable server fails the run instead of skipping.
 */
export const POSTGRES_REQUIRED = process.env.CI === "true" || process.env.LOCKBOX_REQUIRE_POSTGRES === "1";

let reachable: Promise<boolean> | undefined;

/** Whether the test PostgreSQL server answers; throws when it must and does not. */
export function postgresAvailable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch (error) {
      if (POSTGRES_REQUIRED) {
        throw new Error(`PostgreSQL tests are required here but the server is unreachable: ${String(error)}`);
      }
      console.warn("\n*** PostgreSQL is unreachable: SKIPPING the PostgreSQL tests (they run in CI). ***\n");
      return false;
    }
  })();
  return reachable;
}

/** A fresh PostgreSQL database created for this run and dropped by `drop()`. */
export async function postgresTestDatabase(): Promise<TestDatabase> {
  const name = `lockbox_test_${randomBytes(6).toString("hex")}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  const location = url.toString();
  return {
    dialect: "postgres",
    location,
    open: () => openPostgresDb({ url: location }),
    drop: async () => {
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * The databases every contract suite runs against: SQLite always, PostgreSQL when reachable
 * (always in CI). Use with `describe.each`.
 */
export async function contractDatabases(): Promise<
  Array<{ name: string; create: () => Promise<TestDatabase> }>
> {
  const list = [{ name: "sqlite", create: async () => sqliteTestDatabase() }];
  if (await postgresAvailable()) list.push({ name: "postgres", create: postgresTestDatabase });
  return list;
}
