import { LockboxError, type OwnerRef } from "@lockbox/core";
import type { Keyring } from "./keyring.js";

/** One owner's stored data key, as the rotation reads it. */
export interface WrappedDataKeyRecord {
  readonly owner: OwnerRef;
  /** The envelope sealed by {@link Keyring.generateDataKey} or {@link Keyring.rewrap}. */
  readonly wrapped: Buffer;
  /** Id of the master key that wrapped it, as stored next to it (equal to its envelope header's). */
  readonly masterKeyId: string;
}

/**
 * The storage the rotation needs: the port the store implements for `keys:rotate`. Every method may be
 * called while servers keep serving and creating or deleting owners.
 */
export interface DataKeyRepository {
  /**
   * Up to `limit` stored data keys whose `masterKeyId` is not `masterKeyId`, in any order.
   * Returns an empty array when every data key is wrapped by `masterKeyId`.
   */
  listDataKeysNotWrappedBy(masterKeyId: string, limit: number): Promise<WrappedDataKeyRecord[]>;
  /**
   * Atomically replaces `owner`'s wrapped data key with `next` (and its stored master key id with
   * `masterKeyId`) only when the stored wrapped key still equals `expected` byte for byte
   * (compare-and-swap). Returns `false`, changing nothing, when it differs or the owner is gone.
   */
  replaceWrappedDataKey(
    owner: OwnerRef,
    expected: Buffer,
    next: Buffer,
    masterKeyId: string,
  ): Promise<boolean>;
  /** The number of stored data keys (one per org and site). */
  countDataKeys(): Promise<number>;
}

/** Options of {@link rewrapAllDataKeys}. */
export interface RewrapOptions {
  /** Data keys read per batch; an integer from 1 to 10 000. Defaults to 100. */
  readonly batchSize?: number;
  /**
   * Called before the first batch with `done = 0` and after each batch; the last call has
   * `done = total`. `total` is the number of data keys counted at the start; `done` counts the keys
   * handled by this run (re-wrapped, or skipped because they changed concurrently), at most `total`.
   * Keys already under the current master key are never listed, so a resumed run jumps to `total`.
   */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Result of {@link rewrapAllDataKeys}. */
export interface RewrapResult {
  /** Data keys this run re-wrapped; 0 when every key already was under the current master key. */
  readonly rewrapped: number;
}

const DEFAULT_BATCH_SIZE = 100;
const MAX_BATCH_SIZE = 10_000;
// A key listed this often has lost every compare-and-swap: something keeps re-wrapping it the other way.
const MAX_ATTEMPTS_PER_KEY = 5;

/**
 * Re-wraps every stored data key under `keyring.currentKeyId`, batch by batch, for `keys:rotate`. Each
 * key is unwrapped with whichever loaded key wrapped it and written back with compare-and-swap, so:
 * - it is safe while servers keep serving: the data keys themselves do not change, a key deleted or
 *   re-wrapped concurrently is skipped (the CAS fails), and a key created meanwhile under an old
 *   master key is picked up by a later batch;
 * - it is idempotent and resumable: keys already under the current master key are never listed, so an
 *   interrupted run is finished by running it again, and a second run re-wraps nothing.
 *
 * @throws LockboxError `INTEGRITY_FAILED` when a data key is wrapped by a master key the keyring does
 *   not hold or fails its integrity check (keys re-wrapped before it stay re-wrapped).
 * @throws LockboxError `CONFLICT` when one key keeps changing under the rotation (another rotation to
 *   a different master key is running).
 * @throws LockboxError `VALIDATION_FAILED` when `batchSize` is not an integer from 1 to 10 000.
 */
export async function rewrapAllDataKeys(
  repo: DataKeyRepository,
  keyring: Keyring,
  options: RewrapOptions = {},
): Promise<RewrapResult> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new LockboxError(
      "VALIDATION_FAILED",
      `The rotation batch size must be an integer from 1 to ${MAX_BATCH_SIZE} (got ${batchSize}).`,
    );
  }
  const target = keyring.currentKeyId;
  const total = await repo.countDataKeys();
  const report = (done: number) => options.onProgress?.(Math.min(done, total), total);
  const attempts = new Map<string, number>();
  let handled = 0;
  let rewrapped = 0;
  report(0);
  for (;;) {
    const batch = await repo.listDataKeysNotWrappedBy(target, batchSize);
    if (batch.length === 0) {
      break;
    }
    for (const record of batch) {
      countAttempt(attempts, record.owner);
      const next = keyring.rewrap(record.owner, record.wrapped);
      if (await repo.replaceWrappedDataKey(record.owner, record.wrapped, next, target)) {
        rewrapped += 1;
      }
      handled += 1;
    }
    report(handled);
  }
  if (handled < total) {
    report(total);
  }
  return { rewrapped };
}

function countAttempt(attempts: Map<string, number>, owner: OwnerRef): void {
  const key = `${owner.kind}:${owner.id}`;
  const count = (attempts.get(key) ?? 0) + 1;
  if (count > MAX_ATTEMPTS_PER_KEY) {
    throw new LockboxError(
      "CONFLICT",
      `Data key of ${owner.kind} '${owner.id}' changed under the rotation ${MAX_ATTEMPTS_PER_KEY} times: ` +
        `is another keys:rotate running with a different master key? Run keys:rotate again once it has finished.`,
    );
  }
  attempts.set(key, count);
}
