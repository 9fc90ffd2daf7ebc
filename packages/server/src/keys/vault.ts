import type { OwnerRef } from "@lockbox/core";
import { LockboxError } from "@lockbox/core";
import { LRUCache } from "lru-cache";
import type { DataKeyStore, WrappedDataKey } from "./data-key-store.js";
import { type DataKey, type Keyring, openValue, sealValue, type ValueBinding } from "./index.js";

/** Where the vault reads data keys: the store, or a transaction's (which sees a deleted owner). */
export type DataKeyReader = Pick<DataKeyStore, "findDataKey">;

/**
 * Seals and opens secret values with their owner's data key. Data keys are unwrapped by the
 * keyring on first use and kept in a bounded in-memory LRU (plaintext keys never leave the process;
 * a rewrap under a new master key does not change them, so the cache stays valid through rotation).
 */
export class Vault {
  readonly #keyring: Keyring;
  readonly #store: DataKeyReader;
  readonly #cache: LRUCache<string, DataKey>;

  constructor(keyring: Keyring, store: DataKeyReader, options: { maxCachedKeys?: number } = {}) {
    this.#keyring = keyring;
    this.#store = store;
    this.#cache = new LRUCache<string, DataKey>({ max: options.maxCachedKeys ?? 10_000 });
  }

  /** A new data key for a new owner, wrapped under the current master key, to store with it. */
  newDataKey(owner: OwnerRef): WrappedDataKey {
    const { key, wrapped } = this.#keyring.generateDataKey(owner);
    this.#cache.set(cacheKey(owner), key);
    return { wrapped, masterKeyId: this.#keyring.currentKeyId };
  }

  /**
   * Seals `plaintext` for one row (secret UUID, environment or null for the base value), reading
   * the owner's data key through `queries` (pass the transaction's, so a deleted owner is seen).
   */
  async seal(
    owner: OwnerRef,
    binding: ValueBinding,
    plaintext: string,
    queries?: DataKeyReader,
  ): Promise<Buffer> {
    return sealValue(await this.#dataKey(owner, queries), plaintext, binding);
  }

  /** Opens a sealed value of `owner`; INTEGRITY_FAILED when it was altered or moved from another row. */
  async open(
    owner: OwnerRef,
    binding: ValueBinding,
    sealed: Uint8Array,
    queries?: DataKeyReader,
  ): Promise<string> {
    return openValue(await this.#dataKey(owner, queries), sealed, binding);
  }

  /** Drops a destroyed owner's key from memory. */
  forget(owner: OwnerRef): void {
    this.#cache.delete(cacheKey(owner));
  }

  async #dataKey(owner: OwnerRef, queries: DataKeyReader = this.#store): Promise<DataKey> {
    const id = cacheKey(owner);
    const cached = this.#cache.get(id);
    if (cached) return cached;
    const wrapped = await queries.findDataKey(owner);
    if (!wrapped) {
      throw new LockboxError(
        owner.kind === "org" ? "ORG_NOT_FOUND" : "SITE_NOT_FOUND",
        `The ${owner.kind} no longer exists.`,
      );
    }
    const key = this.#keyring.unwrapDataKey(owner, wrapped.wrapped);
    this.#cache.set(cacheKey(owner), key);
    return key;
  }
}

/**
 * Checks the keyring against the store before anything is served: a store first opened records the
 * current master key's check value; afterwards a keyring holding none of the recorded key stops
 * start-up with a clear message instead of producing garbage later.
 */
export async function checkMasterKey(
  store: Pick<DataKeyStore, "readKeyCheck" | "writeKeyCheck">,
  keyring: Keyring,
): Promise<void> {
  const stored = await store.readKeyCheck();
  if (stored === undefined) {
    await store.writeKeyCheck(JSON.stringify(keyring.currentKeyCheck()));
    return;
  }
  keyring.verifyKeyCheck(JSON.parse(stored));
}

function cacheKey(owner: OwnerRef): string {
  return `${owner.kind}:${owner.id}`;
}
