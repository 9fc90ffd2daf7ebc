import { randomBytes, randomUUID } from "node:crypto";
import type { OwnerRef } from "@lockbox/core";
import { describe, expect, it } from "vitest";
import { Keyring } from "./keyring.js";
import { type DataKeyRepository, rewrapAllDataKeys, type WrappedDataKeyRecord } from "./rotate.js";

interface Row {
  owner: OwnerRef;
  wrapped: Buffer;
  masterKeyId: string;
}

/** An in-memory store of wrapped data keys that behaves as the port requires (CAS included). */
class InMemoryDataKeyRepository implements DataKeyRepository {
  readonly rows = new Map<string, Row>();
  readonly listLimits: number[] = [];
  replaceCalls = 0;
  /** Runs just before a compare-and-swap, to simulate a concurrent writer. */
  beforeReplace: ((owner: OwnerRef) => void) | undefined;
  /** Throws after this many successful replacements, to simulate an interrupted run. */
  failAfter: number | undefined;

  add(owner: OwnerRef, wrapped: Buffer, keyring: Keyring): void {
    this.rows.set(rowKey(owner), { owner, wrapped, masterKeyId: keyring.wrappedKeyId(wrapped) });
  }

  async listDataKeysNotWrappedBy(masterKeyId: string, limit: number): Promise<WrappedDataKeyRecord[]> {
    this.listLimits.push(limit);
    return [...this.rows.values()]
      .filter((row) => row.masterKeyId !== masterKeyId)
      .slice(0, limit)
      .map((row) => ({ ...row, wrapped: Buffer.from(row.wrapped) }));
  }

  async replaceWrappedDataKey(
    owner: OwnerRef,
    expected: Buffer,
    next: Buffer,
    masterKeyId: string,
  ): Promise<boolean> {
    this.beforeReplace?.(owner);
    if (this.failAfter !== undefined && this.replaceCalls >= this.failAfter) {
      throw new Error("connection lost");
    }
    const row = this.rows.get(rowKey(owner));
    if (row === undefined || !row.wrapped.equals(expected)) {
      return false;
    }
    this.replaceCalls += 1;
    this.rows.set(rowKey(owner), { owner, wrapped: Buffer.from(next), masterKeyId });
    return true;
  }

  async countDataKeys(): Promise<number> {
    return this.rows.size;
  }
}

function rowKey(owner: OwnerRef): string {
  return `${owner.kind}:${owner.id}`;
}

function owner(index: number): OwnerRef {
  return { kind: index % 3 === 0 ? "org" : "site", id: randomUUID() };
}

/** A repository of `count` data keys under `oldKey`, and the data key ids they must keep. */
function seed(count: number, oldKey: Buffer) {
  const oldRing = Keyring.fromKeys(oldKey);
  const repo = new InMemoryDataKeyRepository();
  const dataKeyIds = new Map<string, string>();
  for (let index = 0; index < count; index++) {
    const who = owner(index);
    const { key, wrapped } = oldRing.generateDataKey(who);
    repo.add(who, wrapped, oldRing);
    dataKeyIds.set(rowKey(who), key.id);
  }
  return { repo, dataKeyIds };
}

describe("rewrapAllDataKeys()", () => {
  it("re-wraps every data key under the new master key in batches, keeping each data key", async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const { repo, dataKeyIds } = seed(25, oldKey);
    const ring = Keyring.fromKeys(newKey, [oldKey]);

    const result = await rewrapAllDataKeys(repo, ring, { batchSize: 10 });

    expect(result).toEqual({ rewrapped: 25 });
    expect(repo.listLimits).toEqual([10, 10, 10, 10]);
    const newOnly = Keyring.fromKeys(newKey);
    for (const row of repo.rows.values()) {
      expect(row.masterKeyId).toBe(newOnly.currentKeyId);
      expect(newOnly.wrappedKeyId(row.wrapped)).toBe(newOnly.currentKeyId);
      expect(newOnly.unwrapDataKey(row.owner, row.wrapped).id).toBe(dataKeyIds.get(rowKey(row.owner)));
    }
  });

  it("reports progress from 0 to the total after each batch", async () => {
    const oldKey = randomBytes(32);
    const { repo } = seed(25, oldKey);
    const calls: [number, number][] = [];
    await rewrapAllDataKeys(repo, Keyring.fromKeys(randomBytes(32), [oldKey]), {
      batchSize: 10,
      onProgress: (done, total) => calls.push([done, total]),
    });
    expect(calls).toEqual([
      [0, 25],
      [10, 25],
      [20, 25],
      [25, 25],
    ]);
  });

  it("is idempotent: a second run re-wraps nothing and leaves every row unchanged", async () => {
    const oldKey = randomBytes(32);
    const { repo } = seed(7, oldKey);
    const ring = Keyring.fromKeys(randomBytes(32), [oldKey]);
    await rewrapAllDataKeys(repo, ring, { batchSize: 3 });
    const before = [...repo.rows.values()].map((row) => Buffer.from(row.wrapped));
    const calls: [number, number][] = [];

    const second = await rewrapAllDataKeys(repo, ring, {
      onProgress: (done, total) => calls.push([done, total]),
    });

    expect(second).toEqual({ rewrapped: 0 });
    expect([...repo.rows.values()].map((row) => row.wrapped)).toEqual(before);
    expect(calls.at(-1)).toEqual([7, 7]);
  });

  it("finishes an interrupted rotation when run again", async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const { repo, dataKeyIds } = seed(12, oldKey);
    const ring = Keyring.fromKeys(newKey, [oldKey]);
    repo.failAfter = 5;
    await expect(rewrapAllDataKeys(repo, ring, { batchSize: 4 })).rejects.toThrow("connection lost");
    repo.failAfter = undefined;

    const resumed = await rewrapAllDataKeys(repo, ring, { batchSize: 4 });

    expect(resumed).toEqual({ rewrapped: 7 });
    const newOnly = Keyring.fromKeys(newKey);
    for (const row of repo.rows.values()) {
      expect(newOnly.unwrapDataKey(row.owner, row.wrapped).id).toBe(dataKeyIds.get(rowKey(row.owner)));
    }
  });

  it("skips, without overwriting, a data key deleted or re-wrapped concurrently (compare-and-swap)", async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const { repo } = seed(6, oldKey);
    const ring = Keyring.fromKeys(newKey, [oldKey]);
    const [deleted, raced] = [...repo.rows.values()];
    if (deleted === undefined || raced === undefined) throw new Error("seed failed");
    const racedWrapped = ring.rewrap(raced.owner, raced.wrapped);
    repo.beforeReplace = (who) => {
      if (who.id === deleted.owner.id) repo.rows.delete(rowKey(who));
      // Another keys:rotate process wins the race for this owner.
      if (who.id === raced.owner.id) repo.add(who, racedWrapped, ring);
    };

    const result = await rewrapAllDataKeys(repo, ring, { batchSize: 10 });

    expect(result).toEqual({ rewrapped: 4 });
    expect(repo.rows.has(rowKey(deleted.owner))).toBe(false);
    expect(repo.rows.get(rowKey(raced.owner))?.wrapped.equals(racedWrapped)).toBe(true);
    expect([...repo.rows.values()].every((row) => row.masterKeyId === ring.currentKeyId)).toBe(true);
  });

  it("picks up a data key created under the old master key while it runs", async () => {
    const oldKey = randomBytes(32);
    const { repo } = seed(3, oldKey);
    const oldRing = Keyring.fromKeys(oldKey);
    const ring = Keyring.fromKeys(randomBytes(32), [oldKey]);
    let created = false;
    repo.beforeReplace = () => {
      if (!created) {
        created = true;
        const who = owner(1);
        repo.add(who, oldRing.generateDataKey(who).wrapped, oldRing);
      }
    };

    const result = await rewrapAllDataKeys(repo, ring, { batchSize: 2 });

    expect(result).toEqual({ rewrapped: 4 });
    expect([...repo.rows.values()].every((row) => row.masterKeyId === ring.currentKeyId)).toBe(true);
  });

  it("re-wraps keys from several old master keys at once", async () => {
    const first = randomBytes(32);
    const second = randomBytes(32);
    const { repo } = seed(3, first);
    const secondRing = Keyring.fromKeys(second);
    const who = owner(2);
    repo.add(who, secondRing.generateDataKey(who).wrapped, secondRing);
    const ring = Keyring.fromKeys(randomBytes(32), [first, second]);

    expect(await rewrapAllDataKeys(repo, ring)).toEqual({ rewrapped: 4 });
  });

  it("stops with the unwrap error when a key's master key is not loaded, keeping earlier work", async () => {
    const oldKey = randomBytes(32);
    const { repo } = seed(3, oldKey);
    const stranger = Keyring.fromKeys(randomBytes(32));
    const who = owner(1);
    repo.add(who, stranger.generateDataKey(who).wrapped, stranger);
    const ring = Keyring.fromKeys(randomBytes(32), [oldKey]);

    await expect(rewrapAllDataKeys(repo, ring)).rejects.toMatchObject({
      code: "INTEGRITY_FAILED",
      message: expect.stringContaining(`master key '${stranger.currentKeyId}', which is not loaded`),
    });
    expect([...repo.rows.values()].filter((row) => row.masterKeyId === ring.currentKeyId)).toHaveLength(3);
  });

  it("gives up with CONFLICT when a key keeps changing under it instead of looping forever", async () => {
    const oldKey = randomBytes(32);
    const { repo } = seed(1, oldKey);
    const oldRing = Keyring.fromKeys(oldKey);
    const ring = Keyring.fromKeys(randomBytes(32), [oldKey]);
    // A rival rotation keeps re-wrapping the key under the old master key.
    repo.beforeReplace = (who) => repo.add(who, oldRing.generateDataKey(who).wrapped, oldRing);

    await expect(rewrapAllDataKeys(repo, ring)).rejects.toMatchObject({ code: "CONFLICT" });
  });

  it("rejects a batch size that is not an integer from 1 to 10 000", async () => {
    const { repo } = seed(1, randomBytes(32));
    for (const batchSize of [0, -1, 1.5, 10_001, Number.NaN]) {
      await expect(
        rewrapAllDataKeys(repo, Keyring.fromKeys(randomBytes(32)), { batchSize }),
      ).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
      });
    }
  });
});
