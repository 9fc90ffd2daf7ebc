import { LockboxError } from "@lockbox/core";
import { type Kysely, sql } from "kysely";
import type { Database } from "./database.js";

/**
 * Every table of the store, as the migrations create them, parents before children (foreign-key
 * order), each with the columns of its primary key (the order rows are read in). `lockbox backup`
 * and `lockbox store:copy` copy exactly these tables in this order.
 *
 * A migration that adds a table adds its line here (and its shape to {@link Database}): the
 * typecheck below fails until every table of `Database` is listed, `tables.test.ts` fails until the
 * list matches the migrated schema on both dialects, and a copy refuses a store with a table not
 * listed rather than silently leaving it behind.
 */
export const STORE_TABLES = [
  { name: "meta", key: ["key"] },
  { name: "users", key: ["id"] },
  { name: "orgs", key: ["id"] },
  { name: "memberships", key: ["org_id", "user_id"] },
  { name: "sites", key: ["id"] },
  { name: "site_supporting_orgs", key: ["site_id", "org_id"] },
  { name: "site_team", key: ["site_id", "user_id"] },
  { name: "environments", key: ["id"] },
  { name: "secrets", key: ["id"] },
  { name: "secret_values", key: ["secret_id", "env"] },
  { name: "secret_versions", key: ["secret_id", "env", "version"] },
  { name: "deleted_secrets", key: ["secret_id"] },
  { name: "tokens", key: ["id"] },
  { name: "signin_links", key: ["id"] },
  { name: "audit_events", key: ["seq"] },
] as const satisfies readonly StoreTable[];

/** One table of {@link STORE_TABLES}. */
export interface StoreTable {
  readonly name: keyof Database;
  readonly key: readonly string[];
}

/** The name of a table of the store. */
export type StoreTableName = (typeof STORE_TABLES)[number]["name"];

// Every table of `Database` is listed: adding one to `Database` without listing it fails here.
type Unlisted = Exclude<keyof Database, StoreTableName>;
const everyTableListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyTableListed;

/**
 * The store's tables as the database reports them (Kysely's own migration tables left out; on
 * PostgreSQL those of the connection's schema only, where the migrations create them), for checking
 * against {@link STORE_TABLES}.
 */
export async function tablesInStore(db: Kysely<Database>): Promise<string[]> {
  const tables = (await db.introspection.getTables()).filter((t) => !t.isView);
  if (tables.every((t) => t.schema === undefined)) return tables.map((t) => t.name);
  const current = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return tables.filter((t) => t.schema === current.rows[0]?.schema).map((t) => t.name);
}

/**
 * Throws when the store at `label` has a table this version of Lockbox does not copy (a store of a
 * newer Lockbox): a copy would silently leave its rows behind.
 */
export async function requireKnownTables(db: Kysely<Database>, label: string): Promise<void> {
  const known = new Set<string>(STORE_TABLES.map((t) => t.name));
  const unknown = (await tablesInStore(db)).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new LockboxError(
      "CONFLICT",
      `The store ${label} has table(s) this version of Lockbox does not know (${unknown.join(", ")}): it was made by a newer Lockbox. Run the copy with that version.`,
    );
  }
}
