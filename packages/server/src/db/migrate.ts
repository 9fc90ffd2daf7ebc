import { LockboxError } from "@lockbox/core";
import { type Kysely, Migrator, sql } from "kysely";
import type { Database } from "./database.js";
import { migrationProvider } from "./migrations.js";
import type { StoreDialect } from "./ports.js";

/**
 * Brings the schema to the latest migration. Safe to call from several processes at once on
 * PostgreSQL (Kysely's migrator holds an advisory lock); throws UNAVAILABLE naming the failed
 * migration, never the connection string.
 */
export async function migrateToLatest(db: Kysely<Database>, dialect: StoreDialect): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new LockboxError("UNAVAILABLE", `Database migration '${failed}' failed: ${describe(error)}`, {
      cause: error,
    });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Checks, without changing anything, that the store `label` names is at exactly this Lockbox's
 * latest migration: for tools that only read a store (`lockbox backup`, the source of `store:copy`),
 * which must never migrate a store its servers (perhaps an older version) are using. CONFLICT names
 * what to do when the store is older or newer than this Lockbox.
 */
export async function requireCurrentSchema(
  db: Kysely<Database>,
  dialect: StoreDialect,
  label: string,
): Promise<void> {
  const known = Object.keys(await migrationProvider(dialect).getMigrations()).sort();
  let applied: string[];
  try {
    const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
    applied = rows.rows.map((row) => row.name).sort();
  } catch {
    applied = [];
  }
  const missing = known.filter((name) => !applied.includes(name));
  const unknown = applied.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new LockboxError(
      "CONFLICT",
      `The store ${label} was made by a newer Lockbox (it has migration(s) ${unknown.join(", ")}, which this version does not know): run this command with that version.`,
    );
  }
  if (applied.length === 0) {
    throw new LockboxError(
      "CONFLICT",
      `The store ${label} is not a Lockbox store (it has no migrations): check the path or URL.`,
    );
  }
  if (missing.length > 0) {
    throw new LockboxError(
      "CONFLICT",
      `The store ${label} is older than this Lockbox (it lacks migration(s) ${missing.join(", ")}), and this command never migrates a store it reads: upgrade its servers first (a server migrates its store when it starts), or run this command with the Lockbox version the store is at.`,
    );
  }
}
