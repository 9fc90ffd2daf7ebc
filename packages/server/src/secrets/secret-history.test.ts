import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_CONTEXT } from "../audit/request-context.js";
import { deleteHistoryOfDeletedMultidevs } from "../db/migrations.js";
import type { Caller } from "../directory/caller.js";
import type { SiteRow } from "../directory/records.js";
import { rotateMasterKey } from "../keys/key-rotation.js";
import { createLockbox, type Lockbox } from "../lockbox.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import {
  auditOf,
  createTestLockbox,
  errorOf,
  insertOrg,
  insertSite,
  randomMasterKey,
  testCaller,
} from "../testing/test-lockbox.js";

describe.each(await contractDatabases())("secret history and rollback ($name)", ({ create }) => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  const masterKey = randomMasterKey();
  /** Manages the sites (their owner); `other` is a stranger to them. */
  let owner: Caller;
  let other: Caller;

  beforeAll(async () => {
    database = await create();
    lockbox = await createTestLockbox(database, { masterKey });
    owner = await testCaller(lockbox, { email: `owner-${randomUUID().slice(0, 8)}@example.com` });
    other = await testCaller(lockbox);
  });
  afterAll(async () => {
    await lockbox?.close();
    await database?.drop();
  });

  const makeSite = () => insertSite(lockbox, { userId: owner.user.id });
  const makeOrg = () => insertOrg(lockbox, { [owner.user.id]: "admin" });
  const history = (site: SiteRow, name: string, env?: string, values = true) =>
    lockbox.secretHistory.siteHistory(owner, site.name, name, { env, values });
  const runtimeValue = async (site: SiteRow, env: string, name: string) =>
    (await lockbox.secrets.resolveForDelivery(site.id, env, "web"))?.find((s) => s.name === name)?.value;
  const versionRow = (secretId: string, env: string, version: number) =>
    lockbox.db.kysely
      .selectFrom("secret_versions")
      .select("ciphertext")
      .where("secret_id", "=", secretId)
      .where("env", "=", env)
      .where("version", "=", version)
      .executeTakeFirstOrThrow()
      .then((r) => r.ciphertext as Buffer);

  it("lists set → set → override as versions of their slots, newest first, with actor and values", async () => {
    const site = await makeSite();
    const set = (value: string, env?: string) =>
      lockbox.secrets.setSiteSecret(owner, site.name, {
        name: "API_KEY",
        value,
        scopes: ["web", "user"],
        env,
      });
    await set("one");
    await set("two");
    await set("live-one", "live");

    const base = await history(site, "API_KEY");
    expect(base.map(({ version, action, actor, value }) => ({ version, action, actor, value }))).toEqual([
      { version: 2, action: "set", actor: owner.user.email, value: "two" },
      { version: 1, action: "set", actor: owner.user.email, value: "one" },
    ]);
    expect(base.every((v) => !Number.isNaN(Date.parse(v.at)))).toBe(true);
    expect(await history(site, "API_KEY", "live")).toMatchObject([
      { version: 1, action: "set", actor: owner.user.email, value: "live-one" },
    ]);
    // Without values asked for, none is shown.
    expect((await history(site, "API_KEY", undefined, false))[0]).not.toHaveProperty("value");
    // Pages: newest first, `before` the last version seen.
    expect(
      await lockbox.secretHistory.siteHistory(owner, site.name, "API_KEY", { limit: 1, before: 2 }),
    ).toMatchObject([{ version: 1 }]);
  });

  it("records a delete version (no value) for every slot a delete empties, and keeps the history", async () => {
    const site = await makeSite();
    const ref = { kind: "site", id: site.id } as const;
    await lockbox.secrets.setSiteSecret(owner, site.name, {
      name: "DB",
      value: "base",
      scopes: ["web", "user"],
    });
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "DB", value: "on-live", env: "live" });
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "DB", value: "on-test", env: "test" });
    await lockbox.secrets.deleteSiteSecret(owner, site.name, "DB", "test");
    expect(await history(site, "DB", "test")).toMatchObject([
      { version: 2, action: "delete", value: null },
      { version: 1, action: "set", value: "on-test" },
    ]);
    // Deleting an override already gone writes no version.
    await lockbox.secrets.deleteSiteSecret(owner, site.name, "DB", "test");
    expect(await history(site, "DB", "test")).toHaveLength(2);

    const secretId = (await lockbox.stores.secrets.findSecret(ref, "DB"))?.id ?? "";
    await lockbox.secrets.deleteSiteSecret(owner, site.name, "DB");
    const kept = await lockbox.db.kysely
      .selectFrom("secret_versions")
      .select(["env", "version", "action", "ciphertext"])
      .where("secret_id", "=", secretId)
      .orderBy("env")
      .orderBy("version")
      .execute();
    expect(kept.map((r) => [r.env, r.version, r.action, r.ciphertext === null])).toEqual([
      ["", 1, "set", false],
      ["", 2, "delete", true],
      ["live", 1, "set", false],
      ["live", 2, "delete", true],
      ["test", 1, "set", false],
      ["test", 2, "delete", true],
    ]);

    // They go with their site: without its data key they could never be opened again.
    await lockbox.sites.deleteSite(owner, site.name);
    const left = await lockbox.db.kysely
      .selectFrom("secret_versions")
      .select("version")
      .where("secret_id", "=", secretId)
      .execute();
    expect(left).toEqual([]);
  });

  it("redacts values in history for a secret without the user scope, and audits the read", async () => {
    const site = await makeSite();
    await lockbox.secrets.setSiteSecret(owner, site.name, {
      name: "HIDDEN",
      value: "s3cr3t",
      scopes: ["web"],
    });
    const events = await auditOf(lockbox, async () => {
      expect(await history(site, "HIDDEN")).toMatchObject([{ version: 1, action: "set", value: null }]);
    });
    expect(events).toMatchObject([
      { action: "secret.history", actor: owner.actor, target: expect.stringContaining("secret:HIDDEN") },
    ]);
    // Who and when, without values, is not a read of values.
    expect(await auditOf(lockbox, () => history(site, "HIDDEN", undefined, false))).toEqual([]);
  });

  it("answers 404 to other tenants for history and rollback, and to unknown secrets and versions", async () => {
    const site = await makeSite();
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "X", value: "x", scopes: ["web", "user"] });
    const org = await makeOrg();
    await lockbox.secrets.setOrgSecret(owner, org.name, { name: "O", value: "o", scopes: ["web", "user"] });
    // One at a time: a rejection not yet awaited would be reported as unhandled.
    for (const attempt of [
      () => lockbox.secretHistory.siteHistory(other, site.name, "X", { values: true }),
      () => lockbox.secretHistory.rollbackSite(other, site.name, "X", undefined, 1),
    ]) {
      expect(await errorOf(attempt())).toMatchObject({ code: "SITE_NOT_FOUND" });
    }
    for (const attempt of [
      () => lockbox.secretHistory.orgHistory(other, org.name, "O", { values: true }),
      () => lockbox.secretHistory.rollbackOrg(other, org.name, "O", undefined, 1),
    ]) {
      expect(await errorOf(attempt())).toMatchObject({ code: "ORG_NOT_FOUND" });
    }
    expect(await errorOf(history(site, "NOPE"))).toMatchObject({ code: "SECRET_NOT_FOUND" });
    expect(
      await errorOf(lockbox.secretHistory.rollbackSite(owner, site.name, "X", undefined, 9)),
    ).toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining("no version 9"),
    });
  });

  it("refuses a version ciphertext copied into the current slot or into another version (AAD)", async () => {
    const site = await makeSite();
    await lockbox.secrets.setSiteSecret(owner, site.name, {
      name: "K",
      value: "first",
      scopes: ["web", "user"],
    });
    await lockbox.secrets.setSiteSecret(owner, site.name, {
      name: "K",
      value: "second",
      scopes: ["web", "user"],
    });
    const secretId = (await lockbox.stores.secrets.findSecret({ kind: "site", id: site.id }, "K"))?.id ?? "";
    const v1 = await versionRow(secretId, "", 1);

    // Into another version's row: that version no longer opens.
    await lockbox.db.kysely
      .updateTable("secret_versions")
      .set({ ciphertext: v1 })
      .where("secret_id", "=", secretId)
      .where("version", "=", 2)
      .execute();
    expect(await errorOf(history(site, "K"))).toMatchObject({ code: "INTEGRITY_FAILED" });

    // Into the current value: delivery refuses it.
    await lockbox.db.kysely
      .updateTable("secret_values")
      .set({ ciphertext: v1 })
      .where("secret_id", "=", secretId)
      .where("env", "=", "")
      .execute();
    const error = await errorOf(lockbox.secrets.resolveForDelivery(site.id, "dev", "web"));
    expect(error).toMatchObject({ code: "INTEGRITY_FAILED" });
    expect(String((error as Error).message)).not.toContain("first");
  });

  it("rolls back to version 1 as a new version the runtime serves, for a base value and an org override", async () => {
    const site = await makeSite();
    const set = (value: string, env?: string) =>
      lockbox.secrets.setSiteSecret(owner, site.name, { name: "TOKEN", value, scopes: ["web", "user"], env });
    await set("v1");
    await set("v1-live", "live");
    await set("v2");
    const events = await auditOf(lockbox, async () => {
      expect(await lockbox.secretHistory.rollbackSite(owner, site.name, "TOKEN", undefined, 1)).toEqual({
        name: "TOKEN",
        env: null,
        version: 3,
        from: 1,
      });
    });
    expect(events).toMatchObject([{ action: "secret.rollback", actor: owner.actor, environment: null }]);
    expect(await runtimeValue(site, "dev", "TOKEN")).toBe("v1");
    expect(await runtimeValue(site, "live", "TOKEN")).toBe("v1-live");
    expect((await history(site, "TOKEN")).map((v) => [v.version, v.action, v.value])).toEqual([
      [3, "rollback", "v1"],
      [2, "set", "v2"],
      [1, "set", "v1"],
    ]);

    const org = await makeOrg();
    await lockbox.secrets.setOrgSecret(owner, org.name, {
      name: "O",
      value: "base",
      scopes: ["web", "user"],
    });
    await lockbox.secrets.setOrgSecret(owner, org.name, { name: "O", value: "a", env: "live" });
    await lockbox.secrets.setOrgSecret(owner, org.name, { name: "O", value: "b", env: "live" });
    expect(await lockbox.secretHistory.rollbackOrg(owner, org.name, "O", "live", 1)).toMatchObject({
      env: "live",
      version: 3,
    });
    const orgHistory = await lockbox.secretHistory.orgHistory(owner, org.name, "O", {
      env: "live",
      values: true,
    });
    expect(orgHistory.map((v) => [v.version, v.action, v.value])).toEqual([
      [3, "rollback", "a"],
      [2, "set", "b"],
      [1, "set", "a"],
    ]);
  });

  it("keeps a value written before versions existed as version 1 when a set replaces it, so it rolls back", async () => {
    const site = await makeSite();
    const set = (name: string, value: string, env?: string) =>
      lockbox.secrets.setSiteSecret(owner, site.name, { name, value, scopes: ["web", "user"], env });
    await set("OLD", "old-base");
    await set("OLD", "old-live", "live");
    await set("IMPORTED", "old-imported");
    // As a store written before migration 0002: values, and no history.
    await lockbox.db.kysely.deleteFrom("secret_versions").where("site_id", "=", site.id).execute();

    await set("OLD", "new-base");
    await set("OLD", "new-live", "live");
    await lockbox.secrets.importSiteSecrets(owner, site.name, { secrets: { IMPORTED: "new-imported" } });
    const versions = async (name: string, env?: string) =>
      (await history(site, name, env)).map(({ version, action, actor, value }) => [
        version,
        action,
        actor,
        value,
      ]);
    expect(await versions("OLD")).toEqual([
      [2, "set", owner.user.email, "new-base"],
      [1, "set", "system", "old-base"],
    ]);
    expect(await versions("OLD", "live")).toEqual([
      [2, "set", owner.user.email, "new-live"],
      [1, "set", "system", "old-live"],
    ]);
    expect(await versions("IMPORTED")).toEqual([
      [2, "set", owner.user.email, "new-imported"],
      [1, "set", "system", "old-imported"],
    ]);

    await lockbox.secretHistory.rollbackSite(owner, site.name, "OLD", "live", 1);
    expect(await runtimeValue(site, "live", "OLD")).toBe("old-live");
    // A slot with no value before its first set has nothing to keep: its history starts at the set.
    await set("NEW", "first");
    expect(await versions("NEW")).toEqual([[1, "set", owner.user.email, "first"]]);
  });

  it("refuses a rollback to a delete version with a clear 409, changing nothing", async () => {
    const site = await makeSite();
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "R", value: "base", scopes: ["web"] });
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "R", value: "live", env: "live" });
    await lockbox.secrets.deleteSiteSecret(owner, site.name, "R", "live");
    const error = await errorOf(lockbox.secretHistory.rollbackSite(owner, site.name, "R", "live", 2));
    expect(error).toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(/version 2 .* is a delete/i),
    });
    expect(await history(site, "R", "live")).toHaveLength(2);
    // Rolling the deleted override back to its set version brings it back.
    await lockbox.secretHistory.rollbackSite(owner, site.name, "R", "live", 1);
    expect(await runtimeValue(site, "live", "R")).toBe("live");
  });

  it("a multidev made again with a deleted one's name has none of its history (binding by UUID)", async () => {
    const site = await makeSite();
    await lockbox.secrets.setSiteSecret(owner, site.name, {
      name: "M",
      value: "base",
      scopes: ["web", "user"],
    });
    await lockbox.sites.createMultidev(owner, site.name, "md1");
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "M", value: "old-md1", env: "md1" });
    await lockbox.sites.deleteMultidev(owner, site.name, "md1");
    await lockbox.sites.createMultidev(owner, site.name, "md1");
    expect(await history(site, "M", "md1")).toEqual([]);
    expect(await errorOf(lockbox.secretHistory.rollbackSite(owner, site.name, "M", "md1", 1))).toMatchObject({
      code: expect.stringMatching(/NOT_FOUND$/),
    });
    expect(await runtimeValue(site, "md1", "M")).toBe("base");
    // The base value's history is the secret's own and stays.
    expect((await history(site, "M")).map((v) => v.value)).toEqual(["base"]);

    // A secret deleted with an override in the old md1 comes back without it, saying why.
    await lockbox.secrets.setSiteSecret(owner, site.name, {
      name: "GONE",
      value: "b",
      scopes: ["web", "user"],
    });
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "GONE", value: "md1-old", env: "md1" });
    await lockbox.secrets.deleteSiteSecret(owner, site.name, "GONE");
    await lockbox.sites.deleteMultidev(owner, site.name, "md1");
    await lockbox.sites.createMultidev(owner, site.name, "md1");
    const restored = await lockbox.secretRestore.restoreSite(owner, site.name, "GONE");
    expect(restored.envs).toEqual([]);
    expect(restored.notes).toEqual([
      "The override in 'md1' was not restored: that environment was deleted since, and the one of that name now is a new one.",
    ]);
    expect(await runtimeValue(site, "md1", "GONE")).toBe("b");
  });

  it("migration 0006 removes the history that multidevs deleted before it left, and nothing else", async () => {
    const site = await makeSite();
    const set = (value: string, env?: string) =>
      lockbox.secrets.setSiteSecret(owner, site.name, { name: "H", value, scopes: ["web", "user"], env });
    /** A multidev deleted as before 0006: its environment and overrides went, their versions stayed. */
    const deleteTheOldWay = async (env: string) => {
      const ids = (
        await lockbox.db.kysely.selectFrom("secrets").select("id").where("site_id", "=", site.id).execute()
      ).map((row) => row.id);
      await lockbox.db.kysely
        .deleteFrom("secret_values")
        .where("env", "=", env)
        .where("secret_id", "in", ids)
        .execute();
      await lockbox.db.kysely
        .deleteFrom("environments")
        .where("site_id", "=", site.id)
        .where("name", "=", env)
        .execute();
    };
    await set("base");
    await set("live-value", "live");
    await lockbox.sites.createMultidev(owner, site.name, "md1");
    await set("old-md1", "md1");
    await lockbox.sites.createMultidev(owner, site.name, "gone");
    await set("gone-value", "gone");
    await deleteTheOldWay("md1");
    await deleteTheOldWay("gone");
    // The old md1's version was written an hour before md1 was made again.
    await lockbox.db.kysely
      .updateTable("secret_versions")
      .set({ at: new Date(Date.now() - 3_600_000).toISOString() })
      .where("site_id", "=", site.id)
      .where("env", "=", "md1")
      .execute();
    await lockbox.sites.createMultidev(owner, site.name, "md1");
    await set("new-md1", "md1");

    await deleteHistoryOfDeletedMultidevs(lockbox.db.kysely as unknown as Kysely<unknown>, database.dialect);
    const versions = await lockbox.db.kysely
      .selectFrom("secret_versions")
      .select(["env", "version"])
      .where("site_id", "=", site.id)
      .orderBy("env")
      .orderBy("version")
      .execute();
    expect(versions.map((v) => [v.env, Number(v.version)])).toEqual([
      ["", 1],
      ["live", 1],
      ["md1", 2],
    ]);
    expect((await history(site, "H", "md1")).map((v) => v.value)).toEqual(["new-md1"]);
  });

  it("reads an old version after the master key is rotated (data keys re-wrapped, versions not re-sealed)", async () => {
    const site = await makeSite();
    await lockbox.secrets.setSiteSecret(owner, site.name, {
      name: "OLD",
      value: "kept",
      scopes: ["web", "user"],
    });
    await lockbox.secrets.setSiteSecret(owner, site.name, {
      name: "OLD",
      value: "newer",
      scopes: ["web", "user"],
    });
    const newKey = randomMasterKey();
    const during = await createLockbox({
      db: database.location,
      env: { LOCKBOX_MASTER_KEY: newKey, LOCKBOX_PREVIOUS_MASTER_KEYS: masterKey },
    });
    try {
      expect(
        (await rotateMasterKey(SYSTEM_CONTEXT, during.stores, during.keyring)).rewrapped,
      ).toBeGreaterThan(0);
    } finally {
      await during.close();
    }
    const after = await createTestLockbox(database, { masterKey: newKey });
    try {
      const caller = owner;
      expect(await after.secretHistory.siteHistory(caller, site.name, "OLD", { values: true })).toMatchObject(
        [
          { version: 2, value: "newer" },
          { version: 1, value: "kept" },
        ],
      );
      await after.secretHistory.rollbackSite(caller, site.name, "OLD", undefined, 1);
      expect(
        (await after.secrets.resolveForDelivery(site.id, "dev", "web"))?.find((s) => s.name === "OLD")?.value,
      ).toBe("kept");
    } finally {
      await after.close();
    }
  });
});
