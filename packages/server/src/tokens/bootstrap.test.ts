import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KyselyStore } from "../db/kysely-store.js";
import { SYSTEM_CONTEXT } from "../directory/caller.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { ADMIN_EMAIL, bootstrapAdmin, mintAdminToken } from "./bootstrap.js";
import { generateToken, TokenService } from "./token-service.js";

describe.each(await contractDatabases())("admin bootstrap ($name)", ({ name, create }) => {
  let database: TestDatabase;
  let store: KyselyStore;
  beforeEach(async () => {
    database = await create();
    store = await database.open();
  });
  afterEach(async () => {
    await store.close();
    await database.drop();
  });

  it("creates the platform admin once, with a working token shown only to the first start", async () => {
    const first = await bootstrapAdmin(SYSTEM_CONTEXT, store);
    expect(first).toMatchObject({ created: true, admin: { email: ADMIN_EMAIL, isAdmin: true } });
    const token = first.created ? first.token : null;
    expect(token).toMatch(/^lbx_[A-Za-z0-9_-]{43}$/);
    const { token: row } = await new TokenService(store).authenticate(token ?? "");
    expect(row.userId).toBe(first.admin.id);
    expect(await bootstrapAdmin(SYSTEM_CONTEXT, store)).toMatchObject({
      created: false,
      ignoredToken: false,
    });
    expect(await store.listUsers({})).toHaveLength(1);
  });

  it("uses LOCKBOX_BOOTSTRAP_TOKEN on an empty store, stores only its hash, and ignores it afterwards", async () => {
    const given = generateToken("user");
    expect(await bootstrapAdmin(SYSTEM_CONTEXT, store, { token: given })).toMatchObject({
      created: true,
      token: null,
    });
    await new TokenService(store).authenticate(given);
    const stored = await store.kysely.selectFrom("tokens").selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain(given);
    expect(await bootstrapAdmin(SYSTEM_CONTEXT, store, { token: generateToken("user") })).toMatchObject({
      created: false,
      ignoredToken: true,
    });
    await expect(
      bootstrapAdmin(SYSTEM_CONTEXT, store, { token: "lbr_not-a-user-token" }),
    ).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
  });

  // Several servers share only PostgreSQL; SQLite serves one server process.
  if (name === "postgres") {
    it("creates one admin when several servers start together on an empty store", async () => {
      const others = await Promise.all([database.open(), database.open()]);
      try {
        const results = await Promise.all([store, ...others].map((s) => bootstrapAdmin(SYSTEM_CONTEXT, s)));
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(results.map((r) => r.admin.id)).size).toBe(1);
      } finally {
        for (const other of others) await other.close();
      }
    });
  }

  it("mints a new admin token offline, and refuses on a store without an admin", async () => {
    await expect(mintAdminToken(SYSTEM_CONTEXT, store)).rejects.toMatchObject({ code: "NOT_FOUND" });
    const { admin } = await bootstrapAdmin(SYSTEM_CONTEXT, store);
    const token = await mintAdminToken(SYSTEM_CONTEXT, store);
    expect((await new TokenService(store).authenticate(token)).token.userId).toBe(admin.id);
    expect((await store.listAudit({ limit: 1 }))[0]?.action).toBe("token.create");
  });
});
