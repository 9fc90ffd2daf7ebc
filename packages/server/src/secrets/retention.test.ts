import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Caller } from "../directory/caller.js";
import type { SiteRow } from "../directory/records.js";
import type { Lockbox } from "../lockbox.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { auditOf, createTestLockbox, errorOf, insertSite, testCaller } from "../testing/test-lockbox.js";
import { startTestServer } from "../testing/test-server.js";
import { parseRetention, RetentionPruner } from "./retention.js";

describe.each(await contractDatabases())("retention of history ($name)", ({ name: dialect, create }) => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  let owner: Caller;

  beforeAll(async () => {
    database = await create();
    lockbox = await createTestLockbox(database);
    owner = await testCaller(lockbox);
  });
  afterAll(async () => {
    await lockbox?.close();
    await database?.drop();
  });

  const makeSite = () => insertSite(lockbox, { userId: owner.user.id });
  const set = (site: SiteRow, name: string, value: string, env?: string) =>
    lockbox.secrets.setSiteSecret(owner, site.name, { name, value, scopes: ["web", "user"], env });
  const versions = async (site: SiteRow, name: string, env?: string) =>
    (await lockbox.secretHistory.siteHistory(owner, site.name, name, { env, values: true })).map(
      (v) => `${v.version}:${v.action}:${v.value ?? "-"}`,
    );
  const pruner = (versionsKept: number, extra: { now?: () => number; batchSize?: number } = {}) =>
    new RetentionPruner(lockbox.stores, { policy: { versions: versionsKept, deletedDays: 30 }, ...extra });
  /** Prunes until nothing is left, so rows of other tests' sites do not matter. */
  const pruneAll = async (p: RetentionPruner) => {
    let result = await p.pruneOnce();
    while (result.versions > 0 || result.deletedSecrets > 0) result = await p.pruneOnce();
  };

  it("keeps the last N versions of each slot and never the current value, in audited batches without names or values", async () => {
    const site = await makeSite();
    for (const value of ["b1", "b2", "b3", "b4", "b5"]) await set(site, "K", value);
    for (const value of ["l1", "l2", "l3"]) await set(site, "K", value, "live");
    await lockbox.secrets.deleteSiteSecret(owner, site.name, "K", "live");

    const events = await auditOf(lockbox, () => pruneAll(pruner(2, { batchSize: 2 })));
    expect(await versions(site, "K")).toEqual(["5:set:b5", "4:set:b4"]);
    expect(await versions(site, "K", "live")).toEqual(["4:delete:-", "3:set:l3"]);
    // Batches of at most 2 versions, one audit event each, with counts only.
    expect(events.length).toBeGreaterThanOrEqual(2);
    for (const event of events) {
      expect(event).toMatchObject({ actor: "system", action: "secret.prune" });
      expect(event.target).toMatch(/^retention:versions=[12],deleted-secrets=0$/);
    }

    // With 1 kept, the live slot keeps its delete and the value before it (what a restore needs).
    await pruneAll(pruner(1));
    expect(await versions(site, "K")).toEqual(["5:set:b5"]);
    expect(await versions(site, "K", "live")).toEqual(["4:delete:-", "3:set:l3"]);
    const served = await lockbox.secrets.resolveForDelivery(site.id, "dev", "web");
    expect(served?.find((s) => s.name === "K")?.value).toBe("b5");
    // Numbering goes on after pruning.
    await set(site, "K", "b6");
    expect((await versions(site, "K"))[0]).toBe("6:set:b6");
  });

  it("forgets deleted secrets with their history after the retention days (injected clock), but not a restored one", async () => {
    const site = await makeSite();
    await set(site, "OLD", "old");
    await set(site, "OLD", "old-live", "live");
    await set(site, "BACK", "back");
    await lockbox.secrets.deleteSiteSecret(owner, site.name, "OLD");
    await lockbox.secrets.deleteSiteSecret(owner, site.name, "BACK");
    const old = (await lockbox.secretRestore.listDeletedSite(owner, site.name)).find((d) => d.name === "OLD");

    await pruneAll(pruner(100, { now: () => Date.now() + 29 * 86_400_000 }));
    expect((await lockbox.secretRestore.listDeletedSite(owner, site.name)).map((d) => d.name)).toEqual([
      "BACK",
      "OLD",
    ]);
    await lockbox.secretRestore.restoreSite(owner, site.name, "BACK");

    const later = pruner(100, { now: () => Date.now() + 31 * 86_400_000 });
    const events = await auditOf(lockbox, () => pruneAll(later));
    expect(events.some((e) => /deleted-secrets=[1-9]/.test(e.target))).toBe(true);
    expect(await lockbox.secretRestore.listDeletedSite(owner, site.name)).toEqual([]);
    const left = await lockbox.db.kysely
      .selectFrom("secret_versions")
      .select("version")
      .where("secret_id", "=", old?.id ?? "")
      .execute();
    expect(left).toEqual([]);
    expect(await errorOf(lockbox.secretRestore.restoreSite(owner, site.name, "OLD"))).toMatchObject({
      code: "SECRET_NOT_FOUND",
    });
    // The restored secret keeps its history and value.
    expect(await versions(site, "BACK")).toEqual(["3:restore:back", "2:delete:-", "1:set:back"]);
  });

  // PostgreSQL only: SQLite has one writer, so there is no other server to take turns with.
  const postgresOnly = dialect === "postgres" ? it : () => undefined;
  postgresOnly("lets one server prune at a time: another skips its run", async () => {
    const other = pruner(1);
    const result = await lockbox.stores.transaction(async (tx) => {
      expect(await tx.retention.takePruningTurn()).toBe(true);
      return other.pruneOnce();
    });
    expect(result).toEqual({ versions: 0, deletedSecrets: 0, ran: false });
  });

  it("forgets, after the retention days, the history of a secret deleted before deleted secrets were kept", async () => {
    const site = await makeSite();
    await set(site, "GONE", "gone");
    await lockbox.secrets.deleteSiteSecret(owner, site.name, "GONE");
    const [gone] = await lockbox.secretRestore.listDeletedSite(owner, site.name);
    // As a delete made before migration 0003: its history, and no deleted_secrets row.
    await lockbox.db.kysely
      .deleteFrom("deleted_secrets")
      .where("secret_id", "=", gone?.id ?? "")
      .execute();
    const left = async () =>
      (
        await lockbox.db.kysely
          .selectFrom("secret_versions")
          .select("version")
          .where("secret_id", "=", gone?.id ?? "")
          .execute()
      ).length;

    await pruneAll(pruner(100, { now: () => Date.now() + 29 * 86_400_000 }));
    expect(await left()).toBe(2);
    const events = await auditOf(lockbox, () =>
      pruneAll(pruner(100, { now: () => Date.now() + 31 * 86_400_000 })),
    );
    expect(await left()).toBe(0);
    expect(events.some((e) => /^retention:versions=[1-9]/.test(e.target))).toBe(true);
  });

  it("stops on close: a started pruner's timer is cleared", async () => {
    const p = pruner(100);
    p.start();
    await p.close();
    p.start();
    await p.close();
  });
});

describe("retention in a started server", () => {
  it("prunes in the background with --retain-versions, and stops with the server", async () => {
    const test = await startTestServer({ retainVersions: "1", pruning: { firstRunMs: 50, intervalMs: 50 } });
    try {
      const { lockbox } = test.server;
      const caller = await testCaller(lockbox);
      const site = await insertSite(lockbox, { userId: caller.user.id });
      for (const value of ["a", "b", "c"]) {
        await lockbox.secrets.setSiteSecret(caller, site.name, { name: "K", value });
      }
      const count = async () =>
        (await lockbox.secretHistory.siteHistory(caller, site.name, "K", {})).map((v) => v.version);
      const deadline = Date.now() + 10_000;
      while ((await count()).length > 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await count()).toEqual([3]);
      expect(test.server.pruner.policy).toEqual({ versions: 1, deletedDays: 30 });
    } finally {
      await test.close();
    }
  });
});

describe("--retain-versions and --retain-deleted-days", () => {
  it("take positive whole numbers and refuse anything else with the fix", () => {
    expect(parseRetention("--retain-versions", "2")).toBe(2);
    expect(parseRetention("--retain-deleted-days", 30)).toBe(30);
    for (const bad of ["0", "-1", "1.5", "ten", "", "99999999999"]) {
      expect(() => parseRetention("--retain-versions", bad)).toThrow(
        /Invalid --retain-versions '.*': use a whole number from 1 to/,
      );
    }
    expect(() => parseRetention("--retain-deleted-days", "0")).toThrow(/for example 30/);
  });
});
