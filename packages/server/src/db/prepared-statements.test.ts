import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { KyselySecretStore, ownSiteStatement } from "../secrets/kysely-secret-store.js";
import { contractDatabases, postgresTestDatabase } from "../testing/test-databases.js";
import { openPostgresDb } from "./postgres.js";

/*
 * The cold path's statement (a site's own secrets) is prepared by name on each PostgreSQL
 * connection, planned once there; every other statement is sent unnamed, as before.
 */
const postgres = (await contractDatabases()).filter((d) => d.name === "postgres");

describe.each(postgres)("statements prepared on PostgreSQL ($name)", () => {
  it("prepares a site's read once per connection, and nothing else", async () => {
    const database = await postgresTestDatabase();
    // One connection, so that every statement below runs on the one whose prepared statements it lists.
    const store = await openPostgresDb({ url: database.location, maxConnections: 1 });
    try {
      const at = "2026-01-01T00:00:00.000Z";
      const db = store.kysely;
      const key = { data_key: Buffer.from("k"), data_key_master_id: "m", created_at: at };
      await db
        .insertInto("orgs")
        .values({ id: "org-1", name: "acme", ...key })
        .execute();
      await db
        .insertInto("sites")
        .values({ id: "site-1", name: "shop", owner_org_id: "org-1", owner_user_id: null, ...key })
        .execute();
      const secrets = new KyselySecretStore(store.context);
      const owner = { kind: "site", id: "site-1" } as const;
      await secrets.insertSecret({ id: "s-1", owner, name: "K", type: "runtime", scopes: ["web"] });
      await secrets.putValue("s-1", null, Buffer.from("v"));
      for (let i = 0; i < 3; i++) {
        const own = await secrets.loadOwnSiteSecrets("site-1");
        expect(own?.ownerOrgId).toBe("org-1");
        expect(own?.siteSecrets.map((s) => [s.name, s.base?.toString()])).toEqual([["K", "v"]]);
      }
      expect(await secrets.loadOwnSiteSecrets("no-such-site")).toBeUndefined();

      const prepared = await sql<{
        name: string;
        statement: string;
      }>`select name, statement from pg_prepared_statements`.execute(db);
      expect(prepared.rows).toEqual([
        {
          name: expect.stringMatching(/^lockbox_[0-9a-f]{24}$/),
          statement: ownSiteStatement(db, "postgres").sql,
        },
      ]);
    } finally {
      await store.close();
      await database.drop();
    }
  });
});
