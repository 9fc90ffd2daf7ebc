import { randomUUID } from "node:crypto";
import type { Scope } from "@lockbox/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Caller } from "../directory/caller.js";
import type { OrgRow, SiteRow } from "../directory/records.js";
import type { Lockbox } from "../lockbox.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { createTestLockbox, testCaller } from "../testing/test-lockbox.js";
import { OrgSnapshots } from "./org-snapshots.js";
import type { StoredSecret } from "./secret-store.js";
import { SecretReader } from "./secret-views.js";

function stored(name: string, bytes = 10): StoredSecret {
  return {
    id: randomUUID(),
    owner: { kind: "org", id: "org-1" },
    name,
    type: "runtime",
    scopes: ["web"],
    overrideEnvs: [],
    createdAt: "",
    updatedAt: "",
    base: Buffer.alloc(bytes),
    overrides: new Map(),
  };
}

describe("OrgSnapshots", () => {
  it("reads an org once for many resolutions at once, and decrypts each value once", async () => {
    const snapshots = new OrgSnapshots();
    const secret = stored("A");
    let reads = 0;
    const read = async () => {
      reads++;
      return [secret];
    };
    const [first, second] = await Promise.all([
      snapshots.snapshot("org-1", read),
      snapshots.snapshot("org-1", read),
    ]);
    expect(first).toBe(second);
    expect(await snapshots.snapshot("org-1", read)).toBe(first);
    expect(reads).toBe(1);
    let opened = 0;
    const open = async () => `plain-${++opened}`;
    expect(await first?.value(secret, null, open)).toBe("plain-1");
    expect(await first?.value(secret, null, open)).toBe("plain-1");
    expect(await first?.value(secret, "live", open)).toBe("plain-2");
    expect(opened).toBe(2);
    expect(snapshots.stats).toMatchObject({ hits: 1, misses: 2, size: 1 });
  });

  it("works out the org's side once per environment and scope, for every site of the org", async () => {
    const snapshots = new OrgSnapshots();
    const snapshot = await snapshots.snapshot("org-1", async () => [stored("A")]);
    let computed = 0;
    const compute = async () => {
      computed++;
      return [{ name: "A", type: "runtime" as const, scopes: ["web" as const], value: "a" }];
    };
    const [x, y] = await Promise.all([
      snapshot.resolved("live", "web", compute),
      snapshot.resolved("live", "web", compute),
    ]);
    expect(x).toBe(y);
    await snapshot.resolved("dev", "web", compute);
    await snapshot.resolved("live", "ic", compute);
    expect(computed).toBe(3);
    // A failure is not kept: the next resolution works it out again.
    await expect(snapshot.resolved("test", "web", () => Promise.reject(new Error("x")))).rejects.toThrow("x");
    await snapshot.resolved("test", "web", compute);
    expect(computed).toBe(4);
  });

  it("drops an org's snapshot on its change, and keeps no read that started before a change", async () => {
    const snapshots = new OrgSnapshots();
    const before = await snapshots.snapshot("org-1", async () => [stored("OLD")]);
    await snapshots.snapshot("org-2", async () => [stored("OTHER")]);
    let finishRead: (secrets: StoredSecret[]) => void = () => {};
    snapshots.invalidateOrg("org-1");
    // A read in flight when the org changes again resolves its caller, but is not kept.
    const inFlight = snapshots.snapshot(
      "org-1",
      () =>
        new Promise<StoredSecret[]>((resolve) => {
          finishRead = resolve;
        }),
    );
    snapshots.invalidateOrg("org-1");
    finishRead([stored("STALE")]);
    expect((await inFlight).secrets[0]?.name).toBe("STALE");
    const after = await snapshots.snapshot("org-1", async () => [stored("NEW")]);
    expect(after).not.toBe(before);
    expect(after.secrets[0]?.name).toBe("NEW");
    expect(snapshots.get("org-2")?.secrets[0]?.name).toBe("OTHER");
  });

  it("keeps nothing while untrusted, and forgets everything when trust changes", async () => {
    const snapshots = new OrgSnapshots();
    await snapshots.snapshot("org-1", async () => [stored("A")]);
    snapshots.noteSiteOrg("site-1", "org-1", snapshots.siteEpoch);
    snapshots.setTrusted(false);
    expect(snapshots.trusted).toBe(false);
    expect(snapshots.get("org-1")).toBeUndefined();
    await snapshots.snapshot("org-1", async () => [stored("A")]);
    expect(snapshots.stats.size).toBe(0);
    expect(snapshots.orgOf("site-1")).toBeUndefined();
    snapshots.setTrusted(true);
    await snapshots.snapshot("org-1", async () => [stored("A")]);
    expect(snapshots.stats.size).toBe(1);
  });

  it("stays within its byte budget, the least recently used org going first", async () => {
    // Each snapshot: 1 + name (1) + id (36) + 2 × 100 sealed bytes = 238.
    const snapshots = new OrgSnapshots({ maxBytes: 500 });
    for (const org of ["o1", "o2", "o3"]) await snapshots.snapshot(org, async () => [stored("A", 100)]);
    expect(snapshots.get("o1")).toBeUndefined();
    expect(snapshots.get("o3")).toBeDefined();
    expect(snapshots.stats).toMatchObject({ size: 2, bytes: 476, evictions: 1 });
  });

  it("keeps a site's own rows until the site changes, and no read that started before a site change", async () => {
    const snapshots = new OrgSnapshots();
    const own = (name: string) => ({ siteId: "site-1", ownerOrgId: "org-1", siteSecrets: [stored(name)] });
    let reads = 0;
    const read = (name: string) => async () => {
      reads++;
      return own(name);
    };
    // The site's environments resolving together read it once; an org change keeps it.
    const [a, b] = await Promise.all([
      snapshots.siteRows("site-1", read("A")),
      snapshots.siteRows("site-1", read("A")),
    ]);
    expect(a).toBe(b);
    // Kept in a buffer of their own, not as slices of what the store read them into.
    const keptBase = a?.siteSecrets[0]?.base;
    expect([keptBase?.length, keptBase?.buffer.byteLength]).toEqual([10, 10]);
    snapshots.invalidateOrg("org-1");
    expect(await snapshots.siteRows("site-1", read("B"))).toBe(a);
    expect(reads).toBe(1);
    expect(snapshots.stats.siteRowsBytes).toBeGreaterThan(10);
    // Its change drops them.
    snapshots.invalidateSite("site-1");
    expect((await snapshots.siteRows("site-1", read("B")))?.siteSecrets[0]?.name).toBe("B");
    // A read in flight while any site changes answers its caller but is not kept.
    let finish: (rows: ReturnType<typeof own>) => void = () => {};
    snapshots.invalidateSite("site-1");
    const inFlight = snapshots.siteRows("site-1", () => new Promise((resolve) => (finish = resolve)));
    snapshots.invalidateSite("site-2");
    finish(own("STALE"));
    expect((await inFlight)?.siteSecrets[0]?.name).toBe("STALE");
    expect((await snapshots.siteRows("site-1", read("C")))?.siteSecrets[0]?.name).toBe("C");
    // A site that does not exist is not kept; nothing is kept or used while untrusted.
    expect(await snapshots.siteRows("gone", async () => undefined)).toBeUndefined();
    expect(await snapshots.siteRows("gone", read("D"))).toBeDefined();
    snapshots.setTrusted(false);
    expect(snapshots.stats.siteRowsBytes).toBe(0);
    reads = 0;
    await snapshots.siteRows("site-1", read("E"));
    await snapshots.siteRows("site-1", read("E"));
    expect([reads, snapshots.stats.siteRowsBytes]).toEqual([2, 0]);
  });

  it("knows which sites an org change concerns: its own, and those whose owner is not known", () => {
    const snapshots = new OrgSnapshots();
    snapshots.noteSiteOrg("a", "org-1", snapshots.siteEpoch);
    snapshots.noteSiteOrg("b", "org-2", snapshots.siteEpoch);
    snapshots.noteSiteOrg("p", null, snapshots.siteEpoch);
    // A resolution that read the owner before a site change (a transfer) does not record it.
    const epoch = snapshots.siteEpoch;
    snapshots.invalidateSite("x");
    snapshots.noteSiteOrg("c", "org-2", epoch);
    expect(["a", "b", "p", "c", "never"].filter((site) => snapshots.concerns("org-1", site))).toEqual([
      "a",
      "c",
      "never",
    ]);
    snapshots.invalidateSite("b");
    expect(snapshots.concerns("org-1", "b")).toBe(true);
  });
});

/*
 * The cold path resolves against org snapshots; the reference is SecretReader.resolve over both
 * owners' rows read together. Random shapes (names shared by org and site, scopes, overrides),
 * changed through the services between rounds, must resolve alike on every path (SPEC §2.4).
 */
describe.each(await contractDatabases())("resolveForDelivery with org snapshots ($name)", ({ create }) => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  let admin: Caller;
  let reference: SecretReader;

  beforeAll(async () => {
    database = await create();
    lockbox = await createTestLockbox(database);
    // On PostgreSQL a server trusts its caches once it listens; this process makes every write itself.
    lockbox.delivery.setCaching(true);
    admin = await testCaller(lockbox, { admin: true });
    reference = new SecretReader(lockbox.stores.secrets, lockbox.vault);
  });
  afterAll(async () => {
    await lockbox?.close();
    await database?.drop();
  });

  const tag = () => randomUUID().slice(0, 8);
  const NAMES = ["A", "B", "C", "D", "E"];
  const SCOPES: Scope[][] = [["web"], ["ic"], ["user"], ["web", "user"], ["ic", "web"]];
  const ENVS = ["dev", "test", "live"];
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const pick = <T>(items: readonly T[]): T => items[random(items.length)] as T;

  const resolvedBoth = async (site: SiteRow, env: string, scope: Scope) => {
    const fast = (await lockbox.secrets.resolveForDelivery(site.id, env, scope)) ?? [];
    const full = (await reference.resolve(site.id, env, scope, () => true)) ?? [];
    return {
      fast: fast.map((s) => [s.name, s.type, s.scopes.join(","), s.value]),
      full: full.map((e) => [e.secret.name, e.secret.type, e.secret.scopes.join(","), e.value]),
    };
  };

  /** Sets a random secret (or override) on the org or the site; `type`/`scopes` fixed per owner and name. */
  const randomWrite = async (org: OrgRow, site: SiteRow, shapes: Map<string, Scope[]>) => {
    const onOrg = random(2) === 0;
    const name = pick(NAMES);
    const key = `${onOrg ? "org" : "site"}/${name}`;
    const scopes = shapes.get(key) ?? pick(SCOPES);
    const env = shapes.has(key) && random(2) === 0 ? pick(ENVS) : undefined;
    shapes.set(key, scopes);
    const input = { name, value: `${key}/${env ?? "base"}/${tag()}`, scopes, env };
    if (onOrg) await lockbox.secrets.setOrgSecret(admin, org.id, input);
    else await lockbox.secrets.setSiteSecret(admin, site.id, input);
  };

  it("resolves like a full read for random shapes, through changes of the org and the site", async () => {
    const org = await lockbox.orgs.createOrg(admin, `org-${tag()}`);
    const sites = [
      await lockbox.sites.createSite(admin, { name: `site-${tag()}`, org: org.name }),
      await lockbox.sites.createSite(admin, { name: `site-${tag()}`, org: org.name }),
    ];
    const shapes = new Map<string, Scope[]>();
    for (let round = 0; round < 12; round++) {
      for (let w = 0; w < 3; w++) await randomWrite(org, pick(sites), shapes);
      for (const site of sites) {
        for (const env of ENVS) {
          for (const scope of ["web", "ic", "user"] as const) {
            const { fast, full } = await resolvedBoth(site, env, scope);
            expect(fast, `round ${round}, ${env}, ${scope}`).toEqual(full);
          }
        }
      }
    }
    // The snapshot was in use: most org reads came from it.
    expect(lockbox.delivery.orgSnapshots?.stats.hits).toBeGreaterThan(100);
  });

  it("resolves an org change's sites again without reading them from the store, and a site change reads its site", async () => {
    const org = await lockbox.orgs.createOrg(admin, `org-${tag()}`);
    const site = await lockbox.sites.createSite(admin, { name: `site-${tag()}`, org: org.name });
    await lockbox.secrets.setOrgSecret(admin, org.id, { name: "O", value: "o1", scopes: ["web"] });
    await lockbox.secrets.setSiteSecret(admin, site.id, { name: "S", value: "s1", scopes: ["web"] });
    const values = async (env = "live") =>
      Object.fromEntries(
        ((await lockbox.secrets.resolveForDelivery(site.id, env, "web")) ?? []).map((s) => [s.name, s.value]),
      );
    expect(await values()).toEqual({ O: "o1", S: "s1" });
    const reads = vi.spyOn(lockbox.stores.secrets, "loadOwnSiteSecrets");
    try {
      await lockbox.secrets.setOrgSecret(admin, org.id, { name: "O", value: "o2" });
      expect(await values()).toEqual({ O: "o2", S: "s1" });
      expect(await values("dev")).toEqual({ O: "o2", S: "s1" });
      expect(reads).not.toHaveBeenCalled();
      await lockbox.secrets.setSiteSecret(admin, site.id, { name: "S", value: "s2", env: "live" });
      expect(await values()).toEqual({ O: "o2", S: "s2" });
      expect(await values("dev")).toEqual({ O: "o2", S: "s1" });
      expect(reads).toHaveBeenCalledTimes(1);
    } finally {
      reads.mockRestore();
    }
  });

  it("follows a transfer to another org and a delete of an org secret; never uses a supporting org", async () => {
    const first = await lockbox.orgs.createOrg(admin, `org-${tag()}`);
    const second = await lockbox.orgs.createOrg(admin, `org-${tag()}`);
    const site = await lockbox.sites.createSite(admin, {
      name: `site-${tag()}`,
      org: first.name,
      supportingOrgs: [second.name],
    });
    await lockbox.secrets.setOrgSecret(admin, first.id, { name: "K", value: "first", scopes: ["web"] });
    await lockbox.secrets.setOrgSecret(admin, second.id, { name: "K", value: "second", scopes: ["web"] });
    await lockbox.secrets.setOrgSecret(admin, second.id, { name: "S", value: "support", scopes: ["web"] });
    const values = async () =>
      Object.fromEntries(
        ((await lockbox.secrets.resolveForDelivery(site.id, "live", "web")) ?? []).map((s) => [
          s.name,
          s.value,
        ]),
      );
    expect(await values()).toEqual({ K: "first" });
    await lockbox.sites.transferSite(admin, site.name, { org: second.name });
    expect(await values()).toEqual({ K: "second", S: "support" });
    await lockbox.secrets.deleteOrgSecret(admin, second.id, "S");
    expect(await values()).toEqual({ K: "second" });
    await lockbox.secrets.setOrgSecret(admin, second.id, { name: "K", value: "second-2" });
    expect(await values()).toEqual({ K: "second-2" });
  });
});
