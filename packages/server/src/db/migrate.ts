import { LockboxError } from "@lockbox/core";
import { type Kysely, Migrator, sql } from "kysely";
import type { Database } from "./database.js";
import { migrationProvider } from "./migrations.js";
import type { StoreDialect } from "./ports.js";

/**
 * Brings the schema of the store `label` names to the latest migration. Safe to call from several
 * processes at once on PostgreSQL (Kysely's migrator holds an advisory lock). A store made by a newer
 * Lockbox is refused (CONFLICT, as {@link requireCurrentSchema} does) and left as it is; a failed
 * migration throws UNAVAILABLE naming it, never the connection string.
 */
export async function migrateToLatest(
  db: Kysely<Database>,
  dialect: StoreDialect,
  label: string,
): Promise<void> {
  const unknown = unknownMigrations(await appliedMigrations(db, dialect), await knownMigrations(dialect));
  if (unknown.length > 0) throw newerStoreError(label, unknown);
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
  const known = await knownMigrations(dialect);
  const applied = await appliedMigrations(db, dialect);
  const missing = known.filter((name) => !applied.includes(name));
  const unknown = unknownMigrations(applied, known);
  if (unknown.length > 0) throw newerStoreError(label, unknown);
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

async function knownMigrations(dialect: StoreDialect): Promise<string[]> {
  return Object.keys(await migrationProvider(dialect).getMigrations()).sort();
}

/**
 * The migrations the store has run; none when it has no `kysely_migration` table (a new or a foreign
 * database). Any other failure (the database cannot be reached) is thrown.
 */
async function appliedMigrations(db: Kysely<Database>, dialect: StoreDialect): Promise<string[]> {
  const exists =
    dialect === "postgres"
      ? sql<{ found: unknown }>`select to_regclass('kysely_migration') is not null as found`
      : sql<{
          found: unknown;
        }>`select count(*) > 0 as found from sqlite_master where type = 'table' and name = 'kysely_migration'`;
  if (!(await exists.execute(db)).rows[0]?.found) return [];
  const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
  return rows.rows.map((row) => row.name).sort();
}

function unknownMigrations(applied: readonly string[], known: readonly string[]): string[] {
  return applied.filter((name) => !known.includes(name));
}

function newerStoreError(label: string, unknown: readonly string[]): LockboxError {
  return new LockboxError(
    "CONFLICT",
    `The store ${label} was made by a newer Lockbox (it has migration(s) ${unknown.join(", ")}, which this version does not know): run this command with that version.`,
  );
}
