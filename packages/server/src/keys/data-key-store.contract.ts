import { randomUUID } from "node:crypto";
import type { OwnerRef } from "@lockbox/core";
import { beforeAll, describe, expect, it } from "vitest";
import { kyselyStores, type LockboxStores } from "../stores.js";
import { useContractDatabase } from "../testing/store-fixtures.js";
import type { TestDatabase } from "../testing/test-databases.js";

/**
 * The contract of the keys' port (`DataKeyStore`) that every implementation must pass, run against
 * each dialect with `dataKeyStoreContract(name, createDatabase)`: owners' wrapped data keys, their
 * compare-and-swap rewrap, and the master key check value.
 */
export function dataKeyStoreContract(name: string, createDatabase: () => Promise<TestDatabase>): void {
  describe(`DataKeyStore contract (${name})`, () => {
    const database = useContractDatabase(createDatabase);
    const { newOrg } = database;
    let stores: LockboxStores;
    beforeAll(() => {
      stores = database.stores;
    });

    it("rewraps data keys only when they still hold the expected bytes", async () => {
      const org = await newOrg();
      const owner: OwnerRef = { kind: "org", id: org.id };
      const before = await stores.dataKeys.findDataKey(owner);
      expect(before?.masterKeyId).toBe("mk-1");
      const pending = await stores.dataKeys.listDataKeysNotWrappedBy("mk-2", 100_000);
      expect(pending.some((r) => r.owner.id === org.id)).toBe(true);
      expect(
        await stores.dataKeys.replaceWrappedDataKey(owner, Buffer.from("stale"), Buffer.from("new"), "mk-2"),
      ).toBe(false);
      expect(
        await stores.dataKeys.replaceWrappedDataKey(
          owner,
          before?.wrapped ?? Buffer.alloc(0),
          Buffer.from("new"),
          "mk-2",
        ),
      ).toBe(true);
      expect(await stores.dataKeys.findDataKey(owner)).toEqual({
        wrapped: Buffer.from("new"),
        masterKeyId: "mk-2",
      });
      expect(await stores.dataKeys.countDataKeys()).toBeGreaterThan(0);
    });

    it("reads no key check on a new database, then the last one written, after a reopen too", async () => {
      const fresh = await createDatabase();
      let db = await fresh.open();
      try {
        const own = kyselyStores(db);
        expect(await own.dataKeys.readKeyCheck()).toBeUndefined();
        await own.dataKeys.writeKeyCheck('{"id":"mk-1","check":"a"}');
        expect(await own.dataKeys.readKeyCheck()).toBe('{"id":"mk-1","check":"a"}');
        await own.dataKeys.writeKeyCheck('{"id":"mk-2","check":"b"}');
        expect(await own.dataKeys.readKeyCheck()).toBe('{"id":"mk-2","check":"b"}');
        await db.close();
        db = await fresh.open();
        expect(await kyselyStores(db).dataKeys.readKeyCheck()).toBe('{"id":"mk-2","check":"b"}');
      } finally {
        await db.close();
        await fresh.drop();
      }
    });

    it("counts data keys by master key, lists their owners by name, and reads the key check (held until commit on PostgreSQL)", async () => {
      const fresh = await createDatabase();
      const db = await fresh.open();
      try {
        const own = kyselyStores(db);
        const key = (masterKeyId: string) => ({ wrapped: Buffer.from(masterKeyId), masterKeyId });
        const org = await own.orgs.insertOrg({ id: randomUUID(), name: "acme", dataKey: key("mk-old") });
        await own.orgs.insertOrg({ id: randomUUID(), name: "beta", dataKey: key("mk-new") });
        const site = await own.sites.insertSite({
          id: randomUUID(),
          name: "acme-site",
          owner: { orgId: org.id },
          dataKey: key("mk-old"),
        });
        expect(Object.fromEntries(await own.dataKeys.countDataKeysByMasterKey())).toEqual({
          "mk-old": 2,
          "mk-new": 1,
        });
        expect(await own.dataKeys.listDataKeyOwners(["mk-old"], 10)).toEqual([
          { owner: { kind: "org", id: org.id }, name: "acme", masterKeyId: "mk-old" },
          { owner: { kind: "site", id: site.id }, name: "acme-site", masterKeyId: "mk-old" },
        ]);
        expect(await own.dataKeys.listDataKeyOwners(["mk-old"], 1)).toHaveLength(1);
        expect(await own.dataKeys.listDataKeyOwners([], 10)).toEqual([]);

        await own.dataKeys.writeKeyCheck('{"keyId":"mk-old"}');
        if (db.dialect !== "postgres") {
          expect(await own.transaction((tx) => tx.dataKeys.lockKeyCheck())).toBe('{"keyId":"mk-old"}');
          return;
        }
        // A switch of the current key waits for a transaction that read it to wrap a new data key.
        let release = () => {};
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        let read: string | undefined;
        const creating = own.transaction(async (tx) => {
          read = await tx.dataKeys.lockKeyCheck();
          await held;
        });
        while (read === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
        let switched = false;
        const switching = own
          .transaction(async (tx) => {
            await tx.dataKeys.writeKeyCheck('{"keyId":"mk-new"}');
          })
          .then(() => {
            switched = true;
          });
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect([read, switched]).toEqual(['{"keyId":"mk-old"}', false]);
        release();
        await creating;
        await switching;
        expect(await own.transaction((tx) => tx.dataKeys.lockKeyCheck())).toBe('{"keyId":"mk-new"}');
      } finally {
        await db.close();
        await fresh.drop();
      }
    });
  });
}
