import { randomBytes, randomUUID } from "node:crypto";
import type { OwnerRef } from "@lockbox/core";
import { describe, expect, it } from "vitest";
import type { WrappedDataKey } from "./data-key-store.js";
import { Keyring } from "./keyring.js";
import { type DataKeyReader, Vault } from "./vault.js";

/** Wrapped data keys by owner, counting how often each is read. */
class FakeKeyStore implements DataKeyReader {
  readonly keys = new Map<string, WrappedDataKey>();
  readonly reads = new Map<string, number>();

  async findDataKey(owner: OwnerRef): Promise<WrappedDataKey | undefined> {
    this.reads.set(owner.id, (this.reads.get(owner.id) ?? 0) + 1);
    return this.keys.get(owner.id);
  }

  /** No key check recorded: new data keys are wrapped by the keyring's current key. */
  async lockKeyCheck(): Promise<string | undefined> {
    return undefined;
  }

  readsOf(owner: OwnerRef): number {
    return this.reads.get(owner.id) ?? 0;
  }
}

const binding = { secretId: randomUUID(), env: null };

function setUp(options: { maxCachedKeys?: number } = {}) {
  const keyring = Keyring.fromKeys(randomBytes(32));
  const store = new FakeKeyStore();
  const vault = new Vault(keyring, store, options);
  /** An owner whose wrapped key is in the store but not (yet) in the vault's memory. */
  const stored = (kind: OwnerRef["kind"] = "site"): OwnerRef => {
    const owner: OwnerRef = { kind, id: randomUUID() };
    const { wrapped } = keyring.generateDataKey(owner);
    store.keys.set(owner.id, { wrapped, masterKeyId: keyring.currentKeyId });
    return owner;
  };
  /** Seals and opens a value of `owner`: uses its data key twice. */
  const use = async (owner: OwnerRef) => {
    const sealed = await vault.seal(owner, binding, "value");
    expect(await vault.open(owner, binding, sealed)).toBe("value");
  };
  return { keyring, store, vault, stored, use };
}

describe("Vault's data key cache", () => {
  it("reads an owner's data key from the store once, then from memory", async () => {
    const { store, stored, use } = setUp();
    const owner = stored();
    await use(owner);
    await use(owner);
    expect(store.readsOf(owner)).toBe(1);
  });

  it("keeps at most maxCachedKeys keys, dropping the least recently used first", async () => {
    const { store, stored, use } = setUp({ maxCachedKeys: 2 });
    const [a, b, c] = [stored(), stored(), stored()] as const;
    await use(a);
    await use(b);
    await use(a);
    await use(c);
    expect([store.readsOf(a), store.readsOf(b), store.readsOf(c)]).toEqual([1, 1, 1]);
    // b was the least recently used when c came in: read again; a and c were kept.
    await use(a);
    await use(c);
    await use(b);
    expect([store.readsOf(a), store.readsOf(b), store.readsOf(c)]).toEqual([1, 2, 1]);
  });

  it("remembers a new owner's key without reading the store", async () => {
    const { store, vault, use } = setUp();
    const owner: OwnerRef = { kind: "org", id: randomUUID() };
    const { wrapped, masterKeyId } = await vault.newDataKey(owner);
    expect(wrapped.length).toBeGreaterThan(0);
    expect(masterKeyId).toMatch(/^[0-9a-f]{16}$/);
    await use(owner);
    expect(store.readsOf(owner)).toBe(0);
  });

  it("forget() drops an owner's key: the next use reads the store, and fails once the owner is gone", async () => {
    const { store, vault, stored, use } = setUp();
    const [site, org] = [stored("site"), stored("org")] as const;
    await use(site);
    await use(org);
    vault.forget(site);
    await use(site);
    expect(store.readsOf(site)).toBe(2);
    store.keys.delete(site.id);
    store.keys.delete(org.id);
    vault.forget(site);
    vault.forget(org);
    await expect(vault.seal(site, binding, "v")).rejects.toMatchObject({ code: "SITE_NOT_FOUND" });
    await expect(vault.seal(org, binding, "v")).rejects.toMatchObject({ code: "ORG_NOT_FOUND" });
  });

  it("on a miss reads through the queries it is given (a transaction's), not its own store", async () => {
    const { keyring, store, vault } = setUp();
    const tx = new FakeKeyStore();
    const owner: OwnerRef = { kind: "site", id: randomUUID() };
    tx.keys.set(owner.id, {
      wrapped: keyring.generateDataKey(owner).wrapped,
      masterKeyId: keyring.currentKeyId,
    });
    const sealed = await vault.seal(owner, binding, "value", tx);
    expect([tx.readsOf(owner), store.readsOf(owner)]).toEqual([1, 0]);
    expect(await vault.open(owner, binding, sealed)).toBe("value");
    expect(store.readsOf(owner)).toBe(0);
  });
});
