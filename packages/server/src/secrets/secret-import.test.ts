import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Caller } from "../directory/caller.js";
import type { SiteRow } from "../directory/records.js";
import type { Lockbox } from "../lockbox.js";
import type { LockboxStores } from "../stores.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import {
  auditOf,
  createTestLockbox,
  errorOf,
  insertOrg,
  insertSite,
  testCaller,
} from "../testing/test-lockbox.js";
import type { SecretsService } from "./secrets-service.js";

/**
 * `secret:site:import` and `secret:org:import` in the service: every entry decided as a set would
 * decide it, in one transaction that writes all of them or, when one is refused, none.
 */
describe.each(await contractDatabases())("SecretsService imports ($name)", ({ create }) => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  let stores: LockboxStores;
  let secrets: SecretsService;
  let admin: Caller;

  beforeAll(async () => {
    database = await create();
    lockbox = await createTestLockbox(database);
    stores = lockbox.stores;
    secrets = lockbox.secrets;
    admin = await testCaller(lockbox, { admin: true });
  });
  afterAll(async () => {
    await lockbox?.close();
    await database?.drop();
  });

  const _tag = () => randomUUID().slice(0, 8);
  const makeOrg = () => insertOrg(lockbox);
  const makeSite = (owner: { orgId: string } | { userId: string }) => insertSite(lockbox, owner);
  /** What people read of a site (base values and overrides of `env`), by name. */
  const stored = async (site: SiteRow, env?: string) =>
    Object.fromEntries(
      (await secrets.listSiteSecrets(admin, site.id, env)).map((row) => [row.name, row.value]),
    );
  const actions = (plan: readonly { name: string; action: string }[]) =>
    Object.fromEntries(plan.map((entry) => [entry.name, entry.action]));

  it("creates every secret, then finds them unchanged, then updates only what changed", async () => {
    const site = await makeSite({ orgId: (await makeOrg()).id });
    const file = { API_KEY: "one", DB_URL: "postgres://x", PEM: "-----BEGIN-----\nabc\n-----END-----\n" };
    const first = await secrets.importSiteSecrets(admin, site.id, { secrets: file, scopes: "web,user" });
    expect(first).toEqual({
      applied: true,
      notes: [],
      plan: [
        { name: "API_KEY", action: "create" },
        { name: "DB_URL", action: "create" },
        { name: "PEM", action: "create" },
      ],
    });
    expect(await stored(site)).toEqual(file);
    const events = await auditOf(lockbox, () =>
      secrets.importSiteSecrets(admin, site.id, { secrets: { ...file, API_KEY: "two" } }),
    );
    expect(events.map((event) => [event.action, event.target])).toEqual([
      ["secret.set", `site:${site.id}:${site.name}/secret:API_KEY`],
    ]);
    const again = await secrets.importSiteSecrets(admin, site.id, { secrets: { ...file, API_KEY: "two" } });
    expect(actions(again.plan)).toEqual({ API_KEY: "unchanged", DB_URL: "unchanged", PEM: "unchanged" });
    expect(await stored(site)).toEqual({ ...file, API_KEY: "two" });
    // Every write of an import is a version, as a set is; an unchanged entry writes none.
    const history = await lockbox.secretHistory.siteHistory(admin, site.name, "API_KEY", { values: true });
    expect(history.map((row) => [row.version, row.action, row.value])).toEqual([
      [2, "set", "two"],
      [1, "set", "one"],
    ]);
  });

  it("writes nothing when one entry is refused, and lists every refused entry with its reason", async () => {
    const site = await makeSite({ orgId: (await makeOrg()).id });
    await secrets.setSiteSecret(admin, site.id, { name: "KEPT", value: "before", scopes: "web,user" });
    const events = await auditOf(lockbox, async () => {
      const result = await secrets.importSiteSecrets(admin, site.id, {
        secrets: {
          KEPT: "after",
          NEW_ONE: "fresh",
          "-bad": "x",
          HUGE: "h".repeat(16385),
          COMPOSER_AUTH: "not json",
        },
        type: "env",
      });
      expect(result.applied).toBe(false);
      expect(result.plan).toEqual([
        {
          name: "-bad",
          action: "refused",
          reason: expect.stringContaining("Invalid key name '-bad'") as unknown as string,
        },
        {
          name: "COMPOSER_AUTH",
          action: "refused",
          reason: expect.stringContaining("COMPOSER_AUTH must hold a JSON object") as unknown as string,
        },
        {
          name: "HUGE",
          action: "refused",
          reason: expect.stringContaining("16385 bytes") as unknown as string,
        },
        {
          name: "KEPT",
          action: "refused",
          reason: expect.stringContaining("already exists with type 'runtime'") as unknown as string,
        },
        { name: "NEW_ONE", action: "create" },
      ]);
      // No value in any reason.
      expect(JSON.stringify(result)).not.toMatch(/after|fresh|not json|hhhh/);
    });
    expect(events).toEqual([]);
    expect(await stored(site)).toEqual({ KEPT: "before" });
  });

  it("changes nothing on a dry run, and answers the plan it would apply", async () => {
    const site = await makeSite({ orgId: (await makeOrg()).id });
    await secrets.setSiteSecret(admin, site.id, { name: "A", value: "a" });
    const result = await secrets.importSiteSecrets(admin, site.id, {
      secrets: { A: "changed", B: "b" },
      dryRun: true,
    });
    expect(result).toEqual({
      applied: false,
      notes: [],
      plan: [
        { name: "A", action: "update" },
        { name: "B", action: "create" },
      ],
    });
    expect(await stored(site)).toEqual({ A: "a" });
  });

  it("never tells unchanged from update for a value no person may read, unless the import was applied", async () => {
    const site = await makeSite({ orgId: (await makeOrg()).id });
    await secrets.setSiteSecret(admin, site.id, { name: "HIDDEN", value: "right", scopes: "web" });
    await secrets.setSiteSecret(admin, site.id, { name: "SEEN", value: "right", scopes: "web,user" });
    for (const guess of ["right", "wrong"]) {
      // A dry run, or an import made to fail by one refused entry, writes nothing: no oracle there.
      const dry = await secrets.importSiteSecrets(admin, site.id, {
        secrets: { HIDDEN: guess, SEEN: "right" },
        dryRun: true,
      });
      expect(actions(dry.plan)).toEqual({ HIDDEN: "update", SEEN: "unchanged" });
      const refused = await secrets.importSiteSecrets(admin, site.id, {
        secrets: { HIDDEN: guess, "bad name": "x" },
      });
      expect(refused.applied).toBe(false);
      expect(actions(refused.plan)).toMatchObject({ HIDDEN: "update" });
    }
    // Applied, a wrong guess would have overwritten the value (audited); an equal one writes
    // nothing, so re-importing the same file adds no version.
    const applied = await secrets.importSiteSecrets(admin, site.id, { secrets: { HIDDEN: "right" } });
    expect([applied.applied, actions(applied.plan)]).toEqual([true, { HIDDEN: "unchanged" }]);
    const history = await lockbox.secretHistory.siteHistory(admin, site.name, "HIDDEN", {});
    expect(history.map((row) => row.version)).toEqual([1]);
  });

  it("imports into an environment as overrides, refusing a missing base and a changed type", async () => {
    const site = await makeSite({ orgId: (await makeOrg()).id });
    await secrets.setSiteSecret(admin, site.id, { name: "A", value: "a", scopes: "web,user" });
    await secrets.setSiteSecret(admin, site.id, { name: "B", value: "b", scopes: "web,user" });
    const refused = await secrets.importSiteSecrets(admin, site.id, {
      env: "live",
      secrets: { A: "a-live", MISSING: "m" },
    });
    expect(refused.applied).toBe(false);
    expect(refused.plan).toEqual([
      { name: "A", action: "create" },
      {
        name: "MISSING",
        action: "refused",
        reason: `Secret 'MISSING' does not exist on site '${site.name}'. You should create the default secret value first.`,
      },
    ]);
    const conflict = await secrets.importSiteSecrets(admin, site.id, {
      env: "live",
      type: "env",
      secrets: { A: "a-live" },
    });
    expect(conflict.plan[0]?.reason).toMatch(/^Secret 'A' already exists with type 'runtime'/);
    const applied = await secrets.importSiteSecrets(admin, site.id, {
      env: "live",
      secrets: { A: "a-live", B: "b" },
    });
    expect(applied.applied).toBe(true);
    // B's override equals its base value, but there is no override yet: it is created.
    expect(actions(applied.plan)).toEqual({ A: "create", B: "create" });
    expect(await stored(site, "live")).toEqual({ A: "a-live", B: "b" });
    expect(await stored(site)).toEqual({ A: "a", B: "b" });
    const again = await secrets.importSiteSecrets(admin, site.id, {
      env: "live",
      secrets: { A: "a-live-2", B: "b" },
    });
    expect(actions(again.plan)).toEqual({ A: "update", B: "unchanged" });
  });

  it("refuses a whole import on a missing environment, and imports org secrets for org admins only", async () => {
    const org = await makeOrg();
    const site = await makeSite({ orgId: org.id });
    const error = await errorOf(
      secrets.importSiteSecrets(admin, site.id, { env: "nope", secrets: { A: "a" } }),
    );
    expect(error).toMatchObject({ code: "ENVIRONMENT_NOT_FOUND" });
    const member = await testCaller(lockbox);
    await stores.orgs.upsertMembership(org.id, member.user.id, "member");
    expect(await errorOf(secrets.importOrgSecrets(member, org.id, { secrets: { A: "a" } }))).toMatchObject({
      code: "FORBIDDEN",
    });
    const stranger = await testCaller(lockbox);
    expect(
      await errorOf(secrets.importSiteSecrets(stranger, site.id, { secrets: { A: "a" } })),
    ).toMatchObject({
      code: "SITE_NOT_FOUND",
    });
    const result = await secrets.importOrgSecrets(admin, org.id, { secrets: { SHARED: "s" } });
    expect(result.notes).toEqual(["Applications will not see 'SHARED': it has no web scope."]);
    const live = await secrets.importOrgSecrets(admin, org.id, { env: "any-env", secrets: { SHARED: "s2" } });
    expect(actions(live.plan)).toEqual({ SHARED: "create" });
    expect((await secrets.listOrgSecrets(admin, org.id))[0]?.envValues).toEqual({ "any-env": "s2" });
    expect(await stored(site)).toEqual({ SHARED: "s" });
  });
});
