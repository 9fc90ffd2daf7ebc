import type { OwnerRef } from "@lockbox/core";
import { LockboxError } from "@lockbox/core";
import { LRUCache } from "lru-cache";
import type { DataKeyStore, WrappedDataKey } from "./data-key-store.js";
import { type DataKey, type Keyring, openValue, sealValue, type ValueBinding } from "./index.js";

/** Where the vault reads data keys: the store, or a transaction's (which sees a deleted owner). */
export type DataKeyReader = Pick<DataKeyStore, "findDataKey">;
/** Where the vault reads which master key is current: a transaction's store, locking it (see `lockKeyCheck`). */
export type KeyCheckReader = Pick<DataKeyStore, "lockKeyCheck">;

/**
 * Data keys kept unwrapped (about 300 bytes each): every owner of a store of 100,000 sites and
 * their orgs, so that a cold resolution (after an org-wide change) does not read and unwrap the
 * site's key again. Past it, the least recently used key is unwrapped again on its next use.
 */
const DEFAULT_CACHED_KEYS = 200_000;

/**
 * Seals and opens secret values with their owner's data key. Data keys are unwrapped by the
 * keyring on first use and kept in a bounded in-memory LRU (plaintext keys never leave the process;
 * a rewrap under a new master key does not change them, so the cache stays valid through rotation).
 */
export class Vault {
  readonly #keyring: Keyring;
  readonly #store: DataKeyReader & KeyCheckReader;
  readonly #cache: LRUCache<string, DataKey>;

  constructor(
    keyring: Keyring,
    store: DataKeyReader & KeyCheckReader,
    options: { maxCachedKeys?: number } = {},
  ) {
    this.#keyring = keyring;
    this.#store = store;
    this.#cache = new LRUCache<string, DataKey>({ max: options.maxCachedKeys ?? DEFAULT_CACHED_KEYS });
  }

  /**
   * A new data key for a new owner, to store with it, wrapped under the store's current master key
   * (read through `queries`: pass the transaction that inserts the owner). Not this server's own
   * current key: while servers are restarted with a new key, the others may not hold it yet, and
   * once `keys:rotate` has switched the store to the new key, a key wrapped by the old one would be
   * left behind. The transaction holds the key check until it commits, so a switch waits for it.
   *
   * @throws LockboxError `UNAVAILABLE` when the store's current key is not loaded here (this server
   *   was not restarted with the new key before `keys:rotate`): the message names the fix.
   */
  async newDataKey(owner: OwnerRef, queries: KeyCheckReader = this.#store): Promise<WrappedDataKey> {
    const stored = await queries.lockKeyCheck();
    const masterKeyId = stored === undefined ? this.#keyring.currentKeyId : storedKeyId(stored);
    if (!this.#keyring.has(masterKeyId)) {
      throw new LockboxError(
        "UNAVAILABLE",
        `The store's master key is now '${masterKeyId}' (keys:rotate), which this server does not hold, ` +
          `so it cannot create data keys: restart it with the new master key (LOCKBOX_MASTER_KEY or ` +
          `--master-key-file) and the old one in LOCKBOX_PREVIOUS_MASTER_KEYS.`,
      );
    }
    const { key, wrapped } = this.#keyring.generateDataKey(owner, masterKeyId);
    this.#cache.set(cacheKey(owner), key);
    return { wrapped, masterKeyId };
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
    const keyId = this.#keyring.wrappedKeyId(wrapped.wrapped);
    if (!this.#keyring.has(keyId)) {
      // keys:rotate re-wrapped it under a key this server was not restarted with: not a corrupt row.
      throw new LockboxError(
        "UNAVAILABLE",
        `The ${owner.kind}'s data key is wrapped by master key '${keyId}', which this server does not hold: ` +
          `restart it with that key (LOCKBOX_MASTER_KEY or --master-key-file) and the old one in ` +
          `LOCKBOX_PREVIOUS_MASTER_KEYS.`,
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

/** Owners named in the start-up refusal; the count covers the rest. */
const LISTED_OWNERS = 10;

/**
 * Checks at start-up that every stored data key is wrapped by a loaded master key, so that a
 * rotation left unfinished (or a key dropped too early) stops the start with the fix instead of
 * failing on every read of those owners later.
 *
 * @throws LockboxError `VALIDATION_FAILED` naming the missing master key ids, how many data keys
 *   each wraps, the first owners, and the fix (never key material).
 */
export async function checkDataKeysLoaded(
  store: Pick<DataKeyStore, "countDataKeysByMasterKey" | "listDataKeyOwners">,
  keyring: Keyring,
): Promise<void> {
  const counts = await store.countDataKeysByMasterKey();
  const missing = [...counts.keys()].filter((id) => !keyring.has(id)).sort();
  if (missing.length === 0) return;
  const total = missing.reduce((sum, id) => sum + (counts.get(id) ?? 0), 0);
  const byKey = missing.map((id) => `'${id}' (${counts.get(id)})`).join(", ");
  const owners = await store.listDataKeyOwners(missing, LISTED_OWNERS);
  const listed = owners.map(
    (o) => `${o.owner.kind} '${o.name}' (${o.owner.id}, master key '${o.masterKeyId}')`,
  );
  const more = total > owners.length ? ` and ${total - owners.length} more` : "";
  throw new LockboxError(
    "VALIDATION_FAILED",
    `${total} data key(s) are wrapped by master key(s) that are not loaded: ${byKey}; the loaded ` +
      `keys are ${keyring.keyIds.map((id) => `'${id}'`).join(", ")}. Not readable: ${listed.join(", ")}${more}. ` +
      `Start with the old key(s) in LOCKBOX_PREVIOUS_MASTER_KEYS (keeping the current key), then run ` +
      `lockbox keys:rotate --new-master-key-file=<the current key's file> to re-wrap them under the current key ` +
      `'${keyring.currentKeyId}'; only then drop the old key.`,
  );
}

/** The key id of a stored key check; a malformed record names no key, which no keyring holds. */
function storedKeyId(stored: string): string {
  try {
    const keyId = (JSON.parse(stored) as { keyId?: unknown }).keyId;
    return typeof keyId === "string" ? keyId : "(unreadable key check)";
  } catch {
    return "(unreadable key check)";
  }
}

function cacheKey(owner: OwnerRef): string {
  return `${owner.kind}:${owner.id}`;
}
