import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Caller } from "../directory/caller.js";
import type { SiteRow } from "../directory/records.js";
import type { Lockbox } from "../lockbox.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import {
  auditOf,
  createTestLockbox,
  errorOf,
  insertOrg,
  insertSite,
  testCaller,
} from "../testing/test-lockbox.js";

describe.each(await contractDatabases())("deleted secrets and restore ($name)", ({ create }) => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  let owner: Caller;
  let member: Caller;
  let other: Caller;

  beforeAll(async () => {
    database = await create();
    lockbox = await createTestLockbox(database);
    owner = await testCaller(lockbox, { email: `owner-${randomUUID().slice(0, 8)}@example.com` });
    member = await testCaller(lockbox);
    other = await testCaller(lockbox);
  });
  afterAll(async () => {
    await lockbox?.close();
    await database?.drop();
  });

  const makeSite = () => insertSite(lockbox, { userId: owner.user.id });
  const makeOrg = () => insertOrg(lockbox, { [owner.user.id]: "admin", [member.user.id]: "member" });
  const runtime = async (site: SiteRow, env: string) =>
    Object.fromEntries(
      ((await lockbox.secrets.resolveForDelivery(site.id, env, "web")) ?? []).map((s) => [s.name, s.value]),
    );

  it("restores a secret last written before versions existed: the delete records its values first", async () => {
    const site = await makeSite();
    await lockbox.secrets.setSiteSecret(owner, site.name, {
      name: "OLD",
      value: "old-base",
      scopes: ["web", "user"],
    });
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "OLD", value: "old-live", env: "live" });
    // As a store written before migration 0002: values, and no history.
    await lockbox.db.kysely.deleteFrom("secret_versions").where("site_id", "=", site.id).execute();

    await lockbox.secrets.deleteSiteSecret(owner, site.name, "OLD");
    await lockbox.secretRestore.restoreSite(owner, site.name, "OLD");
    expect(await runtime(site, "live")).toEqual({ OLD: "old-live" });
    expect(await runtime(site, "dev")).toEqual({ OLD: "old-base" });
    const history = await lockbox.secretHistory.siteHistory(owner, site.name, "OLD", { values: true });
    expect(history.map(({ version, action, actor, value }) => [version, action, actor, value])).toEqual([
      [3, "restore", owner.user.email, "old-base"],
      [2, "delete", owner.user.email, null],
      [1, "set", "system", "old-base"],
    ]);
  });

  it("keeps a deleted secret and restores its type, scopes, base value and every override as restore versions", async () => {
    const site = await makeSite();
    const set = (value: string, env?: string) =>
      lockbox.secrets.setSiteSecret(owner, site.name, {
        name: "DB",
        value,
        type: "env",
        scopes: ["web", "user"],
        env,
      });
    await set("base-1");
    await set("base-2");
    await set("on-live", "live");
    await set("on-test", "test");
    expect(await runtime(site, "live")).toEqual({ DB: "on-live" });

    await lockbox.secrets.deleteSiteSecret(owner, site.name, "DB");
    expect(await runtime(site, "live")).toEqual({});
    const [listed, ...rest] = await lockbox.secretRestore.listDeletedSite(owner, site.name);
    expect(rest).toEqual([]);
    expect(listed).toMatchObject({
      name: "DB",
      type: "env",
      scopes: ["web", "user"],
      envs: ["live", "test"],
      deletedBy: owner.user.email,
    });
    expect(Number.isNaN(Date.parse(listed?.deletedAt ?? ""))).toBe(false);

    const events = await auditOf(lockbox, async () => {
      expect(await lockbox.secretRestore.restoreSite(owner, site.name, "DB")).toEqual({
        name: "DB",
        type: "env",
        scopes: ["web", "user"],
        envs: ["live", "test"],
        notes: [],
      });
    });
    expect(events.map((e) => [e.action, e.environment])).toEqual([
      ["secret.restore", null],
      ["secret.override.restore", "live"],
      ["secret.override.restore", "test"],
    ]);
    // Caches see it like any write.
    expect(await runtime(site, "live")).toEqual({ DB: "on-live" });
    expect(await runtime(site, "dev")).toEqual({ DB: "base-2" });
    expect(await lockbox.secretRestore.listDeletedSite(owner, site.name)).toEqual([]);
    const history = await lockbox.secretHistory.siteHistory(owner, site.name, "DB", { values: true });
    expect(history.map(({ version, action, value }) => [version, action, value])).toEqual([
      [4, "restore", "base-2"],
      [3, "delete", null],
      [2, "set", "base-2"],
      [1, "set", "base-1"],
    ]);
    expect(
      (await lockbox.secretHistory.siteHistory(owner, site.name, "DB", { env: "test" }))[0],
    ).toMatchObject({ version: 3, action: "restore", actor: owner.user.email });
    // A restored secret can be set again: it is the same secret.
    expect((await set("base-3")).created).toBe(false);
  });

  it("answers 409 naming the fix when a secret of the name was created meanwhile, and restores by id", async () => {
    const site = await makeSite();
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "K", value: "old", scopes: ["web"] });
    await lockbox.secrets.deleteSiteSecret(owner, site.name, "K");
    const [deleted] = await lockbox.secretRestore.listDeletedSite(owner, site.name);
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "K", value: "new", scopes: ["web"] });

    const conflict = await errorOf(lockbox.secretRestore.restoreSite(owner, site.name, "K"));
    expect(conflict).toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining(`secret:site:delete ${site.name} K`),
    });
    expect((conflict as Error).message).toContain(`--id=${deleted?.id}`);
    expect((conflict as Error).message).not.toContain("old");
    expect(await runtime(site, "dev")).toEqual({ K: "new" });

    // The fix the message names: delete the new one, restore the old one by id.
    await lockbox.secrets.deleteSiteSecret(owner, site.name, "K");
    expect(await lockbox.secretRestore.listDeletedSite(owner, site.name)).toHaveLength(2);
    await lockbox.secretRestore.restoreSite(owner, site.name, "K", deleted?.id);
    expect(await runtime(site, "dev")).toEqual({ K: "old" });
    expect(await lockbox.secretRestore.listDeletedSite(owner, site.name)).toHaveLength(1);

    expect(await errorOf(lockbox.secretRestore.restoreSite(owner, site.name, "NOPE"))).toMatchObject({
      code: "SECRET_NOT_FOUND",
      message: expect.stringContaining("--deleted"),
    });
  });

  it("skips, with a note, an override of a multidev deleted since", async () => {
    const site = await makeSite();
    await lockbox.sites.createMultidev(owner, site.name, "feature");
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "K", value: "b", scopes: ["web"] });
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "K", value: "f", env: "feature" });
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "K", value: "l", env: "live" });
    await lockbox.secrets.deleteSiteSecret(owner, site.name, "K");
    await lockbox.sites.deleteMultidev(owner, site.name, "feature");
    const result = await lockbox.secretRestore.restoreSite(owner, site.name, "K");
    expect(result.envs).toEqual(["live"]);
    expect(result.notes).toEqual([expect.stringContaining("'feature'")]);
    expect(await runtime(site, "live")).toEqual({ K: "l" });
  });

  it("lets org members list deleted org secrets, only admins restore them, and answers strangers 404", async () => {
    const org = await makeOrg();
    await lockbox.secrets.setOrgSecret(owner, org.name, { name: "O", value: "o", scopes: ["web", "user"] });
    await lockbox.secrets.setOrgSecret(owner, org.name, { name: "O", value: "o-live", env: "live" });
    await lockbox.secrets.deleteOrgSecret(owner, org.name, "O");
    expect(await lockbox.secretRestore.listDeletedOrg(member, org.name)).toMatchObject([
      { name: "O", envs: ["live"], deletedBy: owner.user.email },
    ]);
    expect(await errorOf(lockbox.secretRestore.restoreOrg(member, org.name, "O"))).toMatchObject({
      code: "FORBIDDEN",
    });
    expect(await errorOf(lockbox.secretRestore.listDeletedOrg(other, org.name))).toMatchObject({
      code: "ORG_NOT_FOUND",
    });
    expect(await errorOf(lockbox.secretRestore.restoreOrg(other, org.name, "O"))).toMatchObject({
      code: "ORG_NOT_FOUND",
    });
    await lockbox.secretRestore.restoreOrg(owner, org.name, "O");
    const rows = await lockbox.secrets.listOrgSecrets(member, org.name);
    expect(rows).toMatchObject([{ name: "O", value: "o", envValues: { live: "o-live" } }]);

    const site = await makeSite();
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "S", value: "s" });
    await lockbox.secrets.deleteSiteSecret(owner, site.name, "S");
    for (const attempt of [
      () => lockbox.secretRestore.listDeletedSite(other, site.name),
      () => lockbox.secretRestore.restoreSite(other, site.name, "S"),
    ]) {
      expect(await errorOf(attempt())).toMatchObject({ code: "SITE_NOT_FOUND" });
    }
  });

  it("forgets deleted secrets with their site", async () => {
    const site = await makeSite();
    await lockbox.secrets.setSiteSecret(owner, site.name, { name: "S", value: "s" });
    await lockbox.secrets.deleteSiteSecret(owner, site.name, "S");
    await lockbox.sites.deleteSite(owner, site.name);
    const left = await lockbox.db.kysely
      .selectFrom("deleted_secrets")
      .select("secret_id")
      .where("site_id", "=", site.id)
      .execute();
    expect(left).toEqual([]);
  });
});
