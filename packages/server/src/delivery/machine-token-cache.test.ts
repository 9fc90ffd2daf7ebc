import { describe, expect, it } from "vitest";
import { type MachineIdentity, MachineTokenCache } from "./machine-token-cache.js";

const NOW = Date.parse("2030-01-01T00:00:00Z");

function identity(tokenId: string, overrides: Partial<MachineIdentity> = {}): MachineIdentity {
  return { tokenId, kind: "runtime", siteId: "site-1", env: "live", expiresAtMs: null, ...overrides };
}

describe("MachineTokenCache", () => {
  it("get() returns the identity remembered for a token, and nothing for another", () => {
    const cache = new MachineTokenCache();
    const id = identity("t1");
    cache.set("lbr_one", id, cache.epoch);
    expect(cache.get("lbr_one", NOW)).toBe(id);
    expect(cache.get("lbr_two", NOW)).toBeUndefined();
  });

  it("evicts the least recently used token beyond maxEntries: get() refreshes an entry", () => {
    const cache = new MachineTokenCache({ maxEntries: 2 });
    cache.set("lbr_a", identity("a"), cache.epoch);
    cache.set("lbr_b", identity("b"), cache.epoch);
    expect(cache.get("lbr_a", NOW)?.tokenId).toBe("a");
    cache.set("lbr_c", identity("c"), cache.epoch);
    // b, not a, was the least recently used.
    expect(cache.get("lbr_b", NOW)).toBeUndefined();
    expect(cache.get("lbr_a", NOW)?.tokenId).toBe("a");
    expect(cache.get("lbr_c", NOW)?.tokenId).toBe("c");
  });

  it("evicts the oldest unread token first when none was read", () => {
    const cache = new MachineTokenCache({ maxEntries: 2 });
    cache.set("lbr_a", identity("a"), cache.epoch);
    cache.set("lbr_b", identity("b"), cache.epoch);
    cache.set("lbr_c", identity("c"), cache.epoch);
    expect(cache.get("lbr_a", NOW)).toBeUndefined();
    expect(cache.get("lbr_b", NOW)?.tokenId).toBe("b");
    expect(cache.get("lbr_c", NOW)?.tokenId).toBe("c");
  });

  it("stops returning a token at its expiry and forgets it", () => {
    const cache = new MachineTokenCache();
    cache.set("lbr_a", identity("a", { expiresAtMs: NOW + 1000 }), cache.epoch);
    expect(cache.get("lbr_a", NOW + 999)?.tokenId).toBe("a");
    expect(cache.get("lbr_a", NOW + 1000)).toBeUndefined();
    // Forgotten, not hidden: an earlier clock does not bring it back.
    expect(cache.get("lbr_a", NOW)).toBeUndefined();
  });

  it("keeps a token without expiry, and treats an unreadable expiry as expired", () => {
    const cache = new MachineTokenCache();
    cache.set("lbr_forever", identity("f"), cache.epoch);
    cache.set("lbr_nan", identity("n", { expiresAtMs: Number.NaN }), cache.epoch);
    expect(cache.get("lbr_forever", NOW + 10 * 365 * 86_400_000)?.tokenId).toBe("f");
    expect(cache.get("lbr_nan", NOW)).toBeUndefined();
  });

  it("dropToken() forgets every plaintext of that token id and keeps the others", () => {
    const cache = new MachineTokenCache();
    cache.set("lbr_a1", identity("a"), cache.epoch);
    cache.set("lbr_a2", identity("a"), cache.epoch);
    cache.set("lbr_b", identity("b"), cache.epoch);
    cache.dropToken("a");
    expect(cache.get("lbr_a1", NOW)).toBeUndefined();
    expect(cache.get("lbr_a2", NOW)).toBeUndefined();
    expect(cache.get("lbr_b", NOW)?.tokenId).toBe("b");
  });

  it("dropSite() forgets every token of that site and keeps other sites' tokens", () => {
    const cache = new MachineTokenCache();
    cache.set("lbr_a", identity("a", { siteId: "s1" }), cache.epoch);
    cache.set("lbr_b", identity("b", { siteId: "s1", env: "dev", kind: "build" }), cache.epoch);
    cache.set("lbr_c", identity("c", { siteId: "s2" }), cache.epoch);
    cache.dropSite("s1");
    expect(cache.get("lbr_a", NOW)).toBeUndefined();
    expect(cache.get("lbr_b", NOW)).toBeUndefined();
    expect(cache.get("lbr_c", NOW)?.tokenId).toBe("c");
  });

  it("refuses a token authenticated before a drop or clear (the epoch guard)", () => {
    const cache = new MachineTokenCache();
    for (const drop of [
      () => cache.dropToken("unrelated"),
      () => cache.dropSite("unrelated"),
      () => cache.clear(),
    ]) {
      const before = cache.epoch;
      drop();
      expect(cache.epoch).not.toBe(before);
      cache.set("lbr_a", identity("a"), before);
      expect(cache.get("lbr_a", NOW)).toBeUndefined();
    }
    cache.set("lbr_a", identity("a"), cache.epoch);
    expect(cache.get("lbr_a", NOW)?.tokenId).toBe("a");
  });

  it("clear() forgets every token", () => {
    const cache = new MachineTokenCache();
    cache.set("lbr_a", identity("a"), cache.epoch);
    cache.set("lbr_b", identity("b", { siteId: "s2" }), cache.epoch);
    cache.clear();
    expect(cache.get("lbr_a", NOW)).toBeUndefined();
    expect(cache.get("lbr_b", NOW)).toBeUndefined();
  });

  it("while untrusted, serves no identity as current but keeps the last known one, unexpired", () => {
    const cache = new MachineTokenCache();
    cache.set("lbr_a", identity("a"), cache.epoch);
    cache.set("lbr_e", identity("e", { expiresAtMs: NOW + 1000 }), cache.epoch);
    cache.setTrusted(false);
    expect(cache.get("lbr_a", NOW)).toBeUndefined();
    expect(cache.lastKnown("lbr_a", NOW)?.tokenId).toBe("a");
    expect(cache.lastKnown("lbr_e", NOW + 1000)).toBeUndefined();
    expect(cache.lastKnown("lbr_never", NOW)).toBeUndefined();
    cache.forget("lbr_a");
    expect(cache.lastKnown("lbr_a", NOW)).toBeUndefined();
  });

  it("trusted again, every identity is authenticated again before it is current", () => {
    const cache = new MachineTokenCache();
    cache.set("lbr_a", identity("a"), cache.epoch);
    cache.setTrusted(false);
    const whileUntrusted = cache.epoch;
    cache.setTrusted(true);
    expect(cache.get("lbr_a", NOW)).toBeUndefined();
    cache.set("lbr_a", identity("a2"), whileUntrusted);
    expect(cache.get("lbr_a", NOW)).toBeUndefined();
    cache.set("lbr_a", identity("a3"), cache.epoch);
    expect(cache.get("lbr_a", NOW)?.tokenId).toBe("a3");
  });
});
