import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { kyselyStores, type LockboxStores } from "../stores.js";
import { useContractDatabase } from "../testing/store-fixtures.js";
import type { TestDatabase } from "../testing/test-databases.js";
import { auditEventHash, GENESIS_HASH } from "./audit-hash.js";

/**
 * The contract of the audit log's port (`AuditStore`) that every implementation must pass, run
 * against each dialect with `auditStoreContract(name, createDatabase)`: one gapless hash chain under
 * concurrent appends, its recorded head, and filtered listing.
 */
export function auditStoreContract(name: string, createDatabase: () => Promise<TestDatabase>): void {
  describe(`AuditStore contract (${name})`, () => {
    const database = useContractDatabase(createDatabase);
    const { newOrg } = database;
    let stores: LockboxStores;
    beforeAll(() => {
      stores = database.stores;
    });

    it("chains audit events with hashes, gapless under concurrent appends, and records the head", async () => {
      const org = await newOrg();
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          stores.transaction((tx) =>
            tx.audit.appendAudit({
              actor: "system",
              action: "test.append",
              target: `n:${i}`,
              orgId: org.id,
              environment: i % 2 ? "live" : null,
              outcome: "success",
            }),
          ),
        ),
      );
      const chain = await stores.audit.readAuditChain(0, 100_000);
      let prev = GENESIS_HASH;
      chain.forEach((event, index) => {
        expect(event.seq).toBe(index + 1);
        expect(event.prevHash).toBe(prev);
        const { hash, ...rest } = event;
        expect(hash).toBe(auditEventHash(rest));
        prev = hash;
      });
      const last = chain.at(-1);
      expect(await stores.audit.readAuditHead()).toBe(`${last?.seq}:${last?.hash}`);
      const forOrg = await stores.audit.listAudit({ orgId: org.id, limit: 5 });
      expect(forOrg).toHaveLength(5);
      expect(forOrg[0]?.seq).toBeGreaterThan(forOrg[1]?.seq ?? Number.POSITIVE_INFINITY);
      expect(await stores.audit.listAudit({ orgId: randomUUID() })).toEqual([]);
    });

    it("appends a batch in order as one run of the chain, even beside single appends (and, on SQLite, across INSERT statements)", async () => {
      const org = await newOrg();
      const input = (target: string) => ({
        actor: "system",
        action: "test.batch",
        target,
        orgId: org.id,
        outcome: "success" as const,
      });
      const batch = Array.from({ length: 1_201 }, (_, i) => input(`b:${i}`));
      const [appended] = await Promise.all([
        stores.transaction((tx) => tx.audit.appendAuditEvents(batch)),
        ...Array.from({ length: 5 }, (_, i) =>
          stores.transaction((tx) => tx.audit.appendAudit(input(`single:${i}`))),
        ),
      ]);
      expect(appended.map((event) => event.target)).toEqual(batch.map((event) => event.target));
      appended.forEach((event, index) => {
        if (index > 0)
          expect([event.seq, event.prevHash]).toEqual([
            (appended[index - 1]?.seq ?? 0) + 1,
            appended[index - 1]?.hash,
          ]);
      });
      const chain = await stores.audit.readAuditChain(0, 100_000);
      let prev = GENESIS_HASH;
      chain.forEach((event, index) => {
        expect([event.seq, event.prevHash]).toEqual([index + 1, prev]);
        const { hash, ...rest } = event;
        expect(hash).toBe(auditEventHash(rest));
        prev = hash;
      });
      expect(chain.filter((event) => event.target.startsWith("b:"))).toHaveLength(1_201);
      const last = chain.at(-1);
      expect(await stores.audit.readAuditHead()).toBe(`${last?.seq}:${last?.hash}`);
      expect(await stores.transaction((tx) => tx.audit.appendAuditEvents([]))).toEqual([]);
    });

    it("stores every field of a batch exactly as given, whatever characters it holds, and nulls as nulls", async () => {
      const org = await newOrg();
      const awkward = [
        'a "quoted" {brace}, comma',
        "back\\slash",
        "NULL",
        "",
        "new\nline",
        "ünïcødé ☃",
        "{}",
      ];
      const batch = awkward.map((text, i) => ({
        actor: text,
        action: "test.fields",
        target: `${text}:${i}`,
        environment: i % 2 ? text : null,
        orgId: org.id,
        siteId: null,
        outcome: "success" as const,
        requestId: i % 2 ? null : text,
      }));
      const appended = await stores.transaction((tx) => tx.audit.appendAuditEvents(batch));
      const stored = (await stores.audit.readAuditChain((appended[0]?.seq ?? 1) - 1, batch.length)).map(
        ({ actor, target, environment, siteId, requestId }) => ({
          actor,
          target,
          environment,
          siteId,
          requestId,
        }),
      );
      expect(stored).toEqual(
        batch.map(({ actor, target, environment, siteId, requestId }) => ({
          actor,
          target,
          environment,
          siteId,
          requestId,
        })),
      );
      const chain = await stores.audit.readAuditChain(0, 100_000);
      for (const event of chain) {
        const { hash, ...rest } = event;
        expect(hash).toBe(auditEventHash(rest));
      }
    });

    it("reads no head before the first append, then the last committed event's, never a rolled-back one's", async () => {
      const fresh = await createDatabase();
      const db = await fresh.open();
      try {
        const own = kyselyStores(db);
        expect(await own.audit.readAuditHead()).toBeUndefined();
        const append = (target: string) =>
          own.transaction((tx) =>
            tx.audit.appendAudit({ actor: "system", action: "test.head", target, outcome: "success" }),
          );
        const first = await append("first");
        expect(first.seq).toBe(1);
        expect(await own.audit.readAuditHead()).toBe(`1:${first.hash}`);
        await expect(
          own.transaction(async (tx) => {
            await tx.audit.appendAudit({
              actor: "system",
              action: "test.head",
              target: "x",
              outcome: "success",
            });
            throw new Error("abort");
          }),
        ).rejects.toThrow("abort");
        expect(await own.audit.readAuditHead()).toBe(`1:${first.hash}`);
        const second = await append("second");
        expect([second.seq, second.prevHash]).toEqual([2, first.hash]);
        expect(await own.audit.readAuditHead()).toBe(`2:${second.hash}`);
      } finally {
        await db.close();
        await fresh.drop();
      }
    });
  });
}
