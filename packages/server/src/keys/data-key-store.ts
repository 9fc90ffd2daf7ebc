import type { OwnerRef } from "@lockbox/core";
import type { DataKeyRepository } from "./rotate.js";

/**
 * The keys' storage port: each owner's data key, wrapped by a master key and stored in the owner's
 * row, and the check value of the master key the store was last brought under. Implemented over
 * Kysely in `kysely-data-key-store.ts`. Includes what `keys:rotate` needs ({@link DataKeyRepository}).
 */
export interface DataKeyStore extends DataKeyRepository {
  /** The owner's wrapped data key, or undefined when the owner does not exist. */
  findDataKey(owner: OwnerRef): Promise<WrappedDataKey | undefined>;
  /** The recorded master key check value (JSON), or undefined on a store never opened with a key. */
  readKeyCheck(): Promise<string | undefined>;
  /** Records the master key check value, replacing any previous one. */
  writeKeyCheck(check: string): Promise<void>;
}

/** A data key as stored: wrapped, with the id of the master key that wrapped it. */
export interface WrappedDataKey {
  readonly wrapped: Buffer;
  readonly masterKeyId: string;
}
