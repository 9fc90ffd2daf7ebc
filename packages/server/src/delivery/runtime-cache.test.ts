import { describe, expect, it } from "vitest";
import { RuntimeCache } from "./runtime-cache.js";
import type { RuntimePayload } from "./runtime-payload.js";

/** A payload whose body is `bytes` long; `tag` tells payloads apart. */
function payload(tag: string, bytes = 100): RuntimePayload {
  return { body: Buffer.alloc(bytes, tag), version: tag, etag: `"${tag}"` };
}

/** Which of `keys` ("site/env") are cached; reading refreshes them, so check last. */
function cachedOf(cache: RuntimeCache, keys: readonly string[]): string[] {
  return keys.filter((key) => {
    const [site = "", env = ""] = key.split("/");
    return cache.get(site, env) !== undefined;
  });
}

describe("RuntimeCache", () => {
  it("get() returns the set stored for that site and environment, and nothing for another", () => {
    const cache = new RuntimeCache();
    const live = payload("a");
    cache.set("site-1", "live", live, cache.epoch);
    expect(cache.get("site-1", "live")).toMatchObject(live);
    expect(cache.get("site-1", "dev")).toBeUndefined();
    expect(cache.get("site-2", "live")).toBeUndefined();
    expect([cache.size, cache.bytes]).toEqual([1, 100]);
  });

  it("does not confuse a site and environment whose names run together", () => {
    const cache = new RuntimeCache();
    cache.set("ab", "c", payload("x"), cache.epoch);
    expect(cache.get("a", "bc")).toBeUndefined();
  });

  it("evicts the least recently stored sets first when the byte budget is exceeded", () => {
    const cache = new RuntimeCache({ maxBytes: 300 });
    cache.set("s1", "live", payload("1"), cache.epoch);
    cache.set("s2", "live", payload("2"), cache.epoch);
    cache.set("s3", "live", payload("3"), cache.epoch);
    expect([cache.size, cache.bytes]).toEqual([3, 300]);
    cache.set("s4", "live", payload("4", 150), cache.epoch);
    // 450 bytes: s1 and then s2 must go to get back under 300.
    expect(cache.get("s1", "live")).toBeUndefined();
    expect(cache.get("s2", "live")).toBeUndefined();
    expect(cache.get("s3", "live")?.version).toBe("3");
    expect(cache.get("s4", "live")?.version).toBe("4");
    expect([cache.size, cache.bytes]).toEqual([2, 250]);
  });

  it("get() refreshes recency: a set read since is kept over an older unread one", () => {
    const cache = new RuntimeCache({ maxBytes: 300 });
    cache.set("s1", "live", payload("1"), cache.epoch);
    cache.set("s2", "live", payload("2"), cache.epoch);
    cache.set("s3", "live", payload("3"), cache.epoch);
    expect(cache.get("s1", "live")?.version).toBe("1");
    cache.set("s4", "live", payload("4"), cache.epoch);
    expect(cachedOf(cache, ["s1/live", "s2/live", "s3/live", "s4/live"])).toEqual([
      "s1/live",
      "s3/live",
      "s4/live",
    ]);
  });

  it("replacing a set counts only the new body against the budget", () => {
    const cache = new RuntimeCache({ maxBytes: 300 });
    cache.set("s1", "live", payload("1"), cache.epoch);
    cache.set("s2", "live", payload("2"), cache.epoch);
    cache.set("s1", "live", payload("n", 200), cache.epoch);
    expect([cache.size, cache.bytes]).toEqual([2, 300]);
    expect(cache.get("s1", "live")?.version).toBe("n");
    expect(cache.get("s2", "live")?.version).toBe("2");
  });

  it("does not store a set larger than the whole budget, and evicts nothing for it", () => {
    const cache = new RuntimeCache({ maxBytes: 300 });
    cache.set("s1", "live", payload("1"), cache.epoch);
    cache.set("s2", "live", payload("big", 301), cache.epoch);
    expect(cache.get("s2", "live")).toBeUndefined();
    expect(cache.get("s1", "live")?.version).toBe("1");
    expect([cache.size, cache.bytes]).toEqual([1, 100]);
  });

  it("refuses a fill that started before an invalidation (the epoch guard)", () => {
    const cache = new RuntimeCache();
    const before = cache.epoch;
    cache.invalidateSite("another-site");
    expect(cache.epoch).not.toBe(before);
    cache.set("s1", "live", payload("stale"), before);
    expect(cache.get("s1", "live")).toBeUndefined();
    const afterClear = cache.epoch;
    cache.clear();
    cache.set("s1", "live", payload("stale"), afterClear);
    expect(cache.get("s1", "live")).toBeUndefined();
    cache.set("s1", "live", payload("fresh"), cache.epoch);
    expect(cache.get("s1", "live")?.version).toBe("fresh");
  });

  it("invalidateSite() drops every environment of that site and keeps other sites", () => {
    const cache = new RuntimeCache();
    cache.set("s1", "live", payload("1l"), cache.epoch);
    cache.set("s1", "dev", payload("1d", 50), cache.epoch);
    cache.set("s2", "live", payload("2l"), cache.epoch);
    cache.invalidateSite("s1");
    expect(cache.get("s1", "live")).toBeUndefined();
    expect(cache.get("s1", "dev")).toBeUndefined();
    expect(cache.get("s2", "live")?.version).toBe("2l");
    expect([cache.size, cache.bytes]).toEqual([1, 100]);
  });

  it("invalidateOrg() drops the sets of that org's sites and of sites of unknown owner, and keeps the rest", () => {
    const cache = new RuntimeCache();
    cache.set("a1", "live", payload("a1"), cache.epoch, "org-a");
    cache.set("a2", "dev", payload("a2"), cache.epoch, "org-a");
    cache.set("b1", "live", payload("b1"), cache.epoch, "org-b");
    cache.set("p1", "live", payload("p1"), cache.epoch, null);
    cache.set("u1", "live", payload("u1"), cache.epoch);
    const epoch = cache.epoch;
    cache.invalidateOrg("org-a");
    expect(cache.epoch).not.toBe(epoch);
    expect(cachedOf(cache, ["a1/live", "a2/dev", "b1/live", "p1/live", "u1/live"])).toEqual([
      "b1/live",
      "p1/live",
    ]);
  });

  it("counts hits, misses and evictions (the /metrics counters)", () => {
    const cache = new RuntimeCache({ maxBytes: 200 });
    cache.set("s1", "live", payload("1"), cache.epoch);
    cache.get("s1", "live");
    cache.get("s1", "live");
    cache.get("s2", "live");
    cache.set("s2", "live", payload("2"), cache.epoch);
    cache.set("s3", "live", payload("3"), cache.epoch);
    cache.invalidateSite("s2");
    cache.setTrusted(false);
    cache.get("s3", "live");
    // The budget dropped s1 (an eviction); the invalidation and the untrusted read are not.
    expect([cache.hits, cache.misses, cache.evictions]).toEqual([2, 2, 1]);
  });

  it("clear() drops every set and frees the whole budget", () => {
    const cache = new RuntimeCache();
    cache.set("s1", "live", payload("1"), cache.epoch);
    cache.set("s2", "live", payload("2"), cache.epoch);
    cache.clear();
    expect(cache.get("s1", "live")).toBeUndefined();
    expect([cache.size, cache.bytes]).toEqual([0, 0]);
  });

  it("serves nothing as current while untrusted, but keeps the last delivered set as the fallback", () => {
    const cache = new RuntimeCache();
    cache.set("s1", "live", payload("1"), cache.epoch);
    cache.setTrusted(false);
    expect(cache.get("s1", "live")).toBeUndefined();
    expect(cache.lastDelivered("s1", "live")?.version).toBe("1");
    // A set read from the store while untrusted replaces the fallback, and is still not current.
    cache.set("s1", "live", payload("2"), cache.epoch);
    expect(cache.get("s1", "live")).toBeUndefined();
    expect(cache.lastDelivered("s1", "live")?.version).toBe("2");
    expect(cache.lastDelivered("s2", "live")).toBeUndefined();
    // An invalidation drops the fallback too.
    cache.invalidateSite("s1");
    expect(cache.lastDelivered("s1", "live")).toBeUndefined();
  });

  it("trusted again, every set is revalidated first: only a set resolved since is current", () => {
    const cache = new RuntimeCache();
    cache.set("s1", "live", payload("1"), cache.epoch);
    cache.setTrusted(false);
    cache.set("s1", "live", payload("2"), cache.epoch);
    const whileUntrusted = cache.epoch;
    cache.setTrusted(true);
    // Cached before (a notification may have been lost meanwhile): not current, still the fallback.
    expect(cache.get("s1", "live")).toBeUndefined();
    expect(cache.lastDelivered("s1", "live")?.version).toBe("2");
    // A fill that began before may have missed a change: refused.
    cache.set("s1", "live", payload("3"), whileUntrusted);
    expect(cache.get("s1", "live")).toBeUndefined();
    cache.set("s1", "live", payload("4"), cache.epoch);
    expect(cache.get("s1", "live")?.version).toBe("4");
  });
});
