import { LockboxError } from "@lockbox/core";
import { type Kysely, Migrator } from "kysely";
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
