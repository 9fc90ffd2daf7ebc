import BetterSqlite3 from "better-sqlite3";
import { CompiledQuery, Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { KyselySecretStore, ownSiteStatement } from "../secrets/kysely-secret-store.js";
import { contractDatabases, sqliteTestDatabase, type TestDatabase } from "../testing/test-databases.js";
import type { LockboxDb } from "./lockbox-db.js";
import { migrationProvider } from "./migrations.js";

/*
 * Migration 0008 gives every value its secret's owner. A store written by the Lockbox before it keeps
 * every value, each now naming its owner, and on SQLite a site's read walks the clustered key and
 * the covering index of its secrets (the cold path's cost at 100,000 sites depends on it).
 */

const BEFORE = "0007-signin-link-token";

/** Raw Kysely on the test database, with no migration run. */
function rawKysely(database: TestDatabase): Kysely<unknown> {
  return database.dialect === "postgres"
    ? new Kysely({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.location }) }),
      })
    : new Kysely({ dialect: new SqliteDialect({ database: new BetterSqlite3(database.location) }) });
}

/** Migrates to `BEFORE` only, as the Lockbox before 0008 left a store. */
async function migrateToBefore(db: Kysely<unknown>, dialect: TestDatabase["dialect"]): Promise<void> {
  const all = await migrationProvider(dialect).getMigrations();
  const migrator = new Migrator({
    db,
    provider: {
      getMigrations: async () => Object.fromEntries(Object.entries(all).filter(([name]) => name <= BEFORE)),
    },
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}

describe.each(await contractDatabases())("migration 0008, values by owner ($name)", ({ create }) => {
  let database: TestDatabase | undefined;
  let store: LockboxDb | undefined;
  afterEach(async () => {
    await store?.close();
    await database?.drop();
    store = undefined;
    database = undefined;
  });

  it("keeps every value of a store written before it, each naming its secret's owner", async () => {
    database = await create();
    const raw = rawKysely(database);
    const at = "2026-01-01T00:00:00.000Z";
    const key = Buffer.from("wrapped");
    try {
      await migrateToBefore(raw, database.dialect);
      const insert = (table: string, row: Record<string, unknown>) =>
        raw
          .insertInto(table as never)
          .values(row as never)
          .execute();
      await insert("orgs", {
        id: "org-1",
        name: "acme",
        data_key: key,
        data_key_master_id: "m",
        created_at: at,
      });
      for (const site of ["site-1", "site-2"]) {
        await insert("sites", {
          id: site,
          name: site,
          owner_org_id: "org-1",
          data_key: key,
          data_key_master_id: "m",
          created_at: at,
        });
      }
      const secret = (id: string, owner: { org_id?: string; site_id?: string }, name: string) =>
        insert("secrets", {
          id,
          org_id: owner.org_id ?? null,
          site_id: owner.site_id ?? null,
          name,
          type: "runtime",
          scopes: "web",
          created_at: at,
          updated_at: at,
        });
      await secret("s-org", { org_id: "org-1" }, "SHARED");
      await secret("s-site1", { site_id: "site-1" }, "KEY");
      await secret("s-site2", { site_id: "site-2" }, "KEY");
      for (const [secretId, env, bytes] of [
        ["s-org", "", "org base"],
        ["s-org", "live", "org live"],
        ["s-site1", "", "site1 base"],
        ["s-site1", "dev", "site1 dev"],
        ["s-site2", "", "site2 base"],
      ] as const) {
        await insert("secret_values", {
          secret_id: secretId,
          env,
          ciphertext: Buffer.from(bytes),
          updated_at: at,
        });
      }
    } finally {
      await raw.destroy();
    }

    store = await database.open();
    const db = store.kysely;
    const rows = await db
      .selectFrom("secret_values")
      .select(["owner_id", "secret_id", "env", "ciphertext", "updated_at"])
      .orderBy("secret_id")
      .orderBy("env")
      .execute();
    expect(
      rows.map((r) => [r.owner_id, r.secret_id, r.env, Buffer.from(r.ciphertext).toString(), r.updated_at]),
    ).toEqual([
      ["org-1", "s-org", "", "org base", at],
      ["org-1", "s-org", "live", "org live", at],
      ["site-1", "s-site1", "", "site1 base", at],
      ["site-1", "s-site1", "dev", "site1 dev", at],
      ["site-2", "s-site2", "", "site2 base", at],
    ]);

    const secrets = new KyselySecretStore(store.context);
    const own = await secrets.loadOwnSiteSecrets("site-1");
    expect(own?.siteSecrets.map((s) => [s.name, s.base?.toString(), [...s.overrides.keys()]])).toEqual([
      ["KEY", "site1 base", ["dev"]],
    ]);
    const org = await secrets.listSecrets({ kind: "org", id: "org-1" });
    expect(org.map((s) => [s.name, s.base?.toString(), s.overrides.get("live")?.toString()])).toEqual([
      ["SHARED", "org base", "org live"],
    ]);

    // A value written after it names its owner; a slot is still one row (the upsert's key).
    await secrets.putValue("s-site2", "live", Buffer.from("site2 live"));
    await secrets.putValue("s-site2", "live", Buffer.from("site2 live again"));
    const site2 = await db
      .selectFrom("secret_values")
      .select(["owner_id", "env", "ciphertext"])
      .where("secret_id", "=", "s-site2")
      .orderBy("env")
      .execute();
    expect(site2.map((r) => [r.owner_id, r.env, Buffer.from(r.ciphertext).toString()])).toEqual([
      ["site-2", "", "site2 base"],
      ["site-2", "live", "site2 live again"],
    ]);
    // A secret that is gone is said as such, not stored under no owner.
    await expect(secrets.putValue("no-such-secret", null, Buffer.from("x"))).rejects.toThrow(
      "its secret no longer exists",
    );
    // Deleting a secret still takes its values (the cascade).
    await db.deleteFrom("secrets").where("id", "=", "s-site1").execute();
    expect(
      await db.selectFrom("secret_values").select("env").where("owner_id", "=", "site-1").execute(),
    ).toEqual([]);
  });
});

const postgres = (await contractDatabases()).filter((d) => d.name === "postgres");
describe.each(postgres)("migration 0008 during a rolling upgrade ($name)", ({ create }) => {
  it("fills in the owner of a value a server from before it writes without one", async () => {
    const database = await create();
    const store = await database.open();
    try {
      const at = "2026-01-01T00:00:00.000Z";
      const db = store.kysely;
      await db
        .insertInto("orgs")
        .values({
          id: "org-1",
          name: "acme",
          data_key: Buffer.from("k"),
          data_key_master_id: "m",
          created_at: at,
        })
        .execute();
      await db
        .insertInto("secrets")
        .values({
          id: "s-org",
          org_id: "org-1",
          site_id: null,
          name: "K",
          type: "runtime",
          scopes: "web",
          created_at: at,
          updated_at: at,
        })
        .execute();
      // The statement of putValue before 0008: no owner_id.
      await sql`insert into secret_values (secret_id, env, ciphertext, updated_at)
        values ('s-org', '', ${Buffer.from("old server")}, ${at})
        on conflict (secret_id, env) do update set ciphertext = excluded.ciphertext`.execute(db);
      const secrets = new KyselySecretStore(store.context);
      const org = await secrets.listSecrets({ kind: "org", id: "org-1" });
      expect(org.map((s) => [s.name, s.base?.toString()])).toEqual([["K", "old server"]]);
    } finally {
      await store.close();
      await database.drop();
    }
  });
});

describe("migrations 0008 and 0009 on SQLite", () => {
  it("reads a site, then its secrets, from covering indexes and its values by the clustered key", async () => {
    const database = sqliteTestDatabase();
    const store = await database.open();
    try {
      const compiled = ownSiteStatement(store.kysely, "sqlite");
      const { rows } = await store.kysely.executeQuery<{ detail: string }>(
        CompiledQuery.raw(`explain query plan ${compiled.sql}`, [...compiled.parameters]),
      );
      const plan = rows.map((row) => row.detail);
      expect(plan).toEqual([
        "SEARCH sites USING COVERING INDEX sites_owner_rows (id=?)",
        "SEARCH secrets USING COVERING INDEX secrets_site_rows (site_id=?) LEFT-JOIN",
        "SEARCH secret_values USING PRIMARY KEY (owner_id=? AND secret_id=?) LEFT-JOIN",
      ]);
      const table = await sql<{
        wr: number;
      }>`select wr from pragma_table_list where name = 'secret_values'`.execute(store.kysely);
      expect(table.rows[0]?.wr).toBe(1);
    } finally {
      await store.close();
      await database.drop();
    }
  });
});
