import { describe, expect, it } from "vitest";
import { OrgSnapshots } from "../secrets/org-snapshots.js";
import type { DeliveredSecret } from "../secrets/secret-views.js";
import { Delivery, type DeliveryChange } from "./delivery.js";
import { FifoLimiter } from "./fifo-limiter.js";
import type { MachineIdentity } from "./machine-token-cache.js";

const unused = () => Promise.reject(new Error("not used here"));
const ORG_OF: Record<string, string | null> = { a1: "org-a", a2: "org-a", b1: "org-b", p1: null };

const identity = (siteId: string, env = "live"): MachineIdentity => ({
  tokenId: `token-${siteId}`,
  kind: "runtime",
  siteId,
  env,
  expiresAtMs: null,
});

/**
 * Delivery over a fake secrets service that resolves like the real one as far as delivery can tell
 * (it notes each site's org in the shared snapshots) and records which sites it resolved; each
 * resolution waits for `release()` when `gated`.
 */
function setUp(options: { gated?: boolean; coldConcurrency?: number } = {}) {
  const orgSnapshots = new OrgSnapshots();
  const resolved: string[] = [];
  const gates: Array<() => void> = [];
  let version = 0;
  const delivery = new Delivery(
    {
      secrets: {
        resolveForDelivery: async (siteId: string): Promise<DeliveredSecret[]> => {
          const siteEpoch = orgSnapshots.siteEpoch;
          resolved.push(siteId);
          if (options.gated) await new Promise<void>((open) => gates.push(open));
          orgSnapshots.noteSiteOrg(siteId, ORG_OF[siteId] ?? null, siteEpoch);
          return [{ name: "K", type: "runtime", scopes: ["web"], value: `v${++version}` }];
        },
      },
      tokens: { authenticate: unused },
      sites: { findSiteById: unused },
      audit: { record: () => {} },
    },
    { orgSnapshots, ...(options.coldConcurrency ? { coldConcurrency: options.coldConcurrency } : {}) },
  );
  const release = () => {
    for (const open of gates.splice(0)) open();
  };
  return { delivery, resolved, release, gates };
}

describe("Delivery's cold path", () => {
  it("an org change drops the sets of that org's sites only, and concerns only their held reads", async () => {
    const { delivery, resolved } = setUp();
    for (const site of ["a1", "a2", "b1", "p1"]) await delivery.runtimeSet(identity(site));
    const changes: DeliveryChange[] = [];
    delivery.onChange((change) => change && changes.push(change));
    resolved.length = 0;

    delivery.applyChange({ kind: "org", id: "org-a" });
    for (const site of ["a1", "a2", "b1", "p1"]) await delivery.runtimeSet(identity(site));
    expect(resolved).toEqual(["a1", "a2"]);
    const concerns = changes[0]?.concerns;
    expect(["a1", "a2", "b1", "p1", "never-seen"].filter((site) => concerns?.(site))).toEqual([
      "a1",
      "a2",
      "never-seen",
    ]);
  });

  it("without org snapshots, an org change drops every set (its sites are not known)", async () => {
    const delivery = new Delivery({
      secrets: { resolveForDelivery: async () => [] },
      tokens: { authenticate: unused },
      sites: { findSiteById: unused },
      audit: { record: () => {} },
    });
    await delivery.runtimeSet(identity("b1"));
    delivery.applyChange({ kind: "org", id: "org-a" });
    expect(delivery.runtimeCache.get("b1", "live")).toBeUndefined();
  });

  it("requests for one site environment share a resolution in flight", async () => {
    const { delivery, resolved, release, gates } = setUp({ gated: true });
    const all = Promise.all([1, 2, 3].map(() => delivery.runtimeSet(identity("a1"))));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(gates).toHaveLength(1);
    release();
    const payloads = await all;
    expect(resolved).toEqual(["a1"]);
    expect(new Set(payloads.map((p) => p.etag)).size).toBe(1);
  });

  it("a request after an invalidation does not share a resolution that started before it", async () => {
    const { delivery, resolved, release } = setUp({ gated: true });
    const first = delivery.runtimeSet(identity("a1"));
    await new Promise((resolve) => setTimeout(resolve, 5));
    delivery.applyChange({ kind: "site", id: "a1" });
    const second = delivery.runtimeSet(identity("a1"));
    await new Promise((resolve) => setTimeout(resolve, 5));
    release();
    await new Promise((resolve) => setTimeout(resolve, 5));
    release();
    const [a, b] = await Promise.all([first, second]);
    expect(resolved).toEqual(["a1", "a1"]);
    expect(a.etag).not.toBe(b.etag);
  });

  it("runs at most coldConcurrency resolutions at once, the others in order of arrival", async () => {
    const { delivery, resolved, release, gates } = setUp({ gated: true, coldConcurrency: 2 });
    const done: string[] = [];
    const sites = ["a1", "a2", "b1", "p1"];
    const all = Promise.all(
      sites.map((site) => delivery.runtimeSet(identity(site)).then(() => done.push(site))),
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect([resolved, gates.length]).toEqual([["a1", "a2"], 2]);
    for (let i = 0; i < 2; i++) {
      release();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await all;
    expect(resolved).toEqual(sites);
    expect(done).toEqual(sites);
  });
});

describe("FifoLimiter", () => {
  it("starts tasks in order, at most `limit` at once, and frees slots on failures too", async () => {
    const limiter = new FifoLimiter(2);
    const log: string[] = [];
    let running = 0;
    let most = 0;
    const task = (name: string, fail = false) =>
      limiter.run(async () => {
        running++;
        most = Math.max(most, running);
        log.push(name);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([task("a"), task("b", true), task("c"), task("d"), task("e")]);
    expect(log).toEqual(["a", "b", "c", "d", "e"]);
    expect(most).toBe(2);
    expect(results.map((r) => r.status)).toEqual([
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
      "fulfilled",
    ]);
    expect([limiter.active, limiter.waiting]).toEqual([0, 0]);
    expect(() => new FifoLimiter(0)).toThrow(/positive whole number/);
  });
});
