import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KyselyStore } from "../db/kysely-store.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { AuditBatchWriter } from "./audit-batch-writer.js";
import { verifyAuditChain } from "./audit-verify.js";

describe.each(await contractDatabases())("audit chain ($name)", ({ create }) => {
  let database: TestDatabase;
  let store: KyselyStore;
  beforeEach(async () => {
    database = await create();
    store = await database.open();
  });
  afterEach(async () => {
    await store.close();
    await database.drop();
  });

  const append = (count: number) =>
    store.transaction(async (tx) => {
      for (let i = 0; i < count; i++) {
        await tx.appendAudit({
          actor: "user:1",
          action: "secret.set",
          target: `secret:${i}`,
          outcome: "success",
        });
      }
    });

  it("verify() accepts an untouched chain and an empty one", async () => {
    expect(await verifyAuditChain(store)).toEqual({ ok: true, checked: 0 });
    await append(25);
    expect(await verifyAuditChain(store, { batchSize: 7 })).toEqual({ ok: true, checked: 25 });
  });

  it("verify() names an event whose fields were altered", async () => {
    await append(10);
    await store.kysely
      .updateTable("audit_events")
      .set({ action: "secret.delete" })
      .where("seq", "=", 4)
      .execute();
    expect(await verifyAuditChain(store, { batchSize: 3 })).toMatchObject({
      ok: false,
      seq: 4,
      problem: "altered",
    });
  });

  it("verify() names an altered event even when its hash was recomputed", async () => {
    await append(10);
    await store.kysely
      .updateTable("audit_events")
      .set({ hash: "f".repeat(64) })
      .where("seq", "=", 6)
      .execute();
    expect(await verifyAuditChain(store)).toMatchObject({ ok: false, seq: 6, problem: "altered" });
  });

  it("verify() names a deleted event in the middle of the chain", async () => {
    await append(10);
    await store.kysely.deleteFrom("audit_events").where("seq", "=", 5).execute();
    const result = await verifyAuditChain(store);
    expect(result).toMatchObject({ ok: false, seq: 5, problem: "missing" });
    expect(result.ok ? "" : result.message).toBe("Audit event #5 is missing: the chain jumps to #6.");
  });

  it("verify() notices events removed from the end of the chain", async () => {
    await append(10);
    await store.kysely.deleteFrom("audit_events").where("seq", ">", 8).execute();
    expect(await verifyAuditChain(store)).toMatchObject({ ok: false, seq: 9, problem: "truncated" });
  });

  it("the batch writer appends every recorded event in order, off the caller's path", async () => {
    const writer = new AuditBatchWriter(store, { maxBatch: 50, flushIntervalMs: 10 });
    for (let i = 0; i < 120; i++) {
      writer.record({ actor: "token:t", action: "runtime.deliver", target: `v:${i}`, outcome: "success" });
    }
    expect(writer.pending).toBeGreaterThan(0);
    await writer.close();
    const chain = await store.readAuditChain(0, 1000);
    expect(chain.map((e) => e.target)).toEqual(Array.from({ length: 120 }, (_, i) => `v:${i}`));
    expect(await verifyAuditChain(store)).toEqual({ ok: true, checked: 120 });
  });

  it("the batch writer keeps events and reports the error when the store fails", async () => {
    const errors: unknown[] = [];
    const writer = new AuditBatchWriter(store, { onError: (e) => errors.push(e) });
    writer.record({ actor: "token:t", action: "runtime.deliver", target: "v", outcome: "success" });
    await store.close();
    await writer.flush();
    expect(errors).toHaveLength(1);
    expect(writer.pending).toBe(1);
    store = await database.open();
  });
});
