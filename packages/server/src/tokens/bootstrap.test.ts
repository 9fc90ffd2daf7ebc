import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SYSTEM_CONTEXT } from "../audit/request-context.js";
import type { Lockbox } from "../lockbox.js";
import { kyselyStores } from "../stores.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { createTestLockbox } from "../testing/test-lockbox.js";
import { ADMIN_EMAIL, bootstrapAdmin, mintAdminToken } from "./bootstrap.js";
import { generateToken } from "./token-format.js";

describe.each(await contractDatabases())("admin bootstrap ($name)", ({ name, create }) => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  beforeEach(async () => {
    database = await create();
    lockbox = await createTestLockbox(database);
  });
  afterEach(async () => {
    await lockbox.close();
    await database.drop();
  });

  it("creates the platform admin once, with a working token shown only to the first start", async () => {
    const first = await bootstrapAdmin(SYSTEM_CONTEXT, lockbox.stores);
    expect(first).toMatchObject({ created: true, admin: { email: ADMIN_EMAIL, isAdmin: true } });
    const token = first.created ? first.token : null;
    expect(token).toMatch(/^lbx_[A-Za-z0-9_-]{43}$/);
    const row = await lockbox.tokens.authenticate(token ?? "");
    expect(row.userId).toBe(first.admin.id);
    expect(await bootstrapAdmin(SYSTEM_CONTEXT, lockbox.stores)).toMatchObject({
      created: false,
      ignoredToken: false,
    });
    expect(await lockbox.stores.users.listUsers({})).toHaveLength(1);
  });

  it("uses LOCKBOX_BOOTSTRAP_TOKEN on an empty store, stores only its hash, and ignores it afterwards", async () => {
    const given = generateToken("user");
    expect(await bootstrapAdmin(SYSTEM_CONTEXT, lockbox.stores, { token: given })).toMatchObject({
      created: true,
      token: null,
    });
    await lockbox.tokens.authenticate(given);
    const stored = await lockbox.db.kysely.selectFrom("tokens").selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain(given);
    expect(
      await bootstrapAdmin(SYSTEM_CONTEXT, lockbox.stores, { token: generateToken("user") }),
    ).toMatchObject({
      created: false,
      ignoredToken: true,
    });
    await expect(
      bootstrapAdmin(SYSTEM_CONTEXT, lockbox.stores, { token: "lbr_not-a-user-token" }),
    ).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
  });

  // Several servers share only PostgreSQL; SQLite serves one server process.
  if (name === "postgres") {
    it("creates one admin when several servers start together on an empty store", async () => {
      const others = await Promise.all([database.open(), database.open()]);
      try {
        const results = await Promise.all(
          [lockbox.stores, ...others.map((db) => kyselyStores(db))].map((stores) =>
            bootstrapAdmin(SYSTEM_CONTEXT, stores),
          ),
        );
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(results.map((r) => r.admin.id)).size).toBe(1);
      } finally {
        for (const other of others) await other.close();
      }
    });
  }

  it("mints a new admin token offline, and refuses on a store without an admin", async () => {
    await expect(mintAdminToken(SYSTEM_CONTEXT, lockbox.stores)).rejects.toMatchObject({ code: "NOT_FOUND" });
    const { admin } = await bootstrapAdmin(SYSTEM_CONTEXT, lockbox.stores);
    const token = await mintAdminToken(SYSTEM_CONTEXT, lockbox.stores);
    expect((await lockbox.tokens.authenticate(token)).userId).toBe(admin.id);
    expect((await lockbox.stores.audit.listAudit({ limit: 1 }))[0]?.action).toBe("token.create");
  });
});
