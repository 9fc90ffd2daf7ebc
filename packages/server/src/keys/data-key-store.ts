import type { OwnerRef } from "@lockbox/core";
import type { DataKeyRepository } from "./rotate.js";

/**
 * The keys' storage port: each owner's data key, wrapped by a master key and stored in the owner's
 * row, and the check value of the store's current master key (the one new data keys are wrapped
 * by). Implemented over Kysely in `kysely-data-key-store.ts`. Includes what `keys:rotate` needs
 * ({@link DataKeyRepository}).
 */
export interface DataKeyStore extends DataKeyRepository {
  /** The owner's wrapped data key, or undefined when the owner does not exist. */
  findDataKey(owner: OwnerRef): Promise<WrappedDataKey | undefined>;
  /** The recorded master key check value (JSON), or undefined on a store never opened with a key. */
  readKeyCheck(): Promise<string | undefined>;
  /**
   * The recorded key check, as {@link readKeyCheck}, read so that it cannot change until this
   * transaction ends (PostgreSQL: `FOR SHARE`; SQLite: `BEGIN IMMEDIATE` already serializes writers).
   * A transaction that wraps a new data key reads it here: `keys:rotate` switching the current key
   * then waits for that transaction, and lists its data key once it has committed.
   */
  lockKeyCheck(): Promise<string | undefined>;
  /** Records the master key check value, replacing any previous one. */
  writeKeyCheck(check: string): Promise<void>;
  /** How many data keys each master key wraps (by master key id), over orgs and sites. */
  countDataKeysByMasterKey(): Promise<Map<string, number>>;
  /** Up to `limit` owners (with their names) whose data key is wrapped by one of `masterKeyIds`. */
  listDataKeyOwners(masterKeyIds: readonly string[], limit: number): Promise<DataKeyOwner[]>;
}

/** A data key as stored: wrapped, with the id of the master key that wrapped it. */
export interface WrappedDataKey {
  readonly wrapped: Buffer;
  readonly masterKeyId: string;
}

/** Whose data key it is, for messages: the owner, its name, and the master key wrapping it. */
export interface DataKeyOwner {
  readonly owner: OwnerRef;
  readonly name: string;
  readonly masterKeyId: string;
}
