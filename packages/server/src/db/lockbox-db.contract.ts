import { randomUUID } from "node:crypto";
import { isLockboxError, type OwnerRef } from "@lockbox/core";
import { beforeAll, describe, expect, it } from "vitest";
import type { LockboxStores } from "../stores.js";
import { useContractDatabase, wrappedKey } from "../testing/store-fixtures.js";
import type { TestDatabase } from "../testing/test-databases.js";
import type { LockboxDb } from "./lockbox-db.js";

/**
 * The contract of the database handle (`LockboxDb`) and of transactions across every area's stores
 * (`kyselyStores(db).transaction`), run against each dialect with `lockboxDbContract(name,
 * createDatabase)`: whole rollback, owner locks, serialized read-then-write rules, change
 * publication after commit, ping, and constraint errors as CONFLICT.
 */
export function lockboxDbContract(name: string, createDatabase: () => Promise<TestDatabase>): void {
  describe(`LockboxDb contract (${name})`, () => {
    const database = useContractDatabase(createDatabase);
    const { newOrg, newSecret } = database;
    let db: LockboxDb;
    let stores: LockboxStores;
    beforeAll(() => {
      db = database.db;
      stores = database.stores;
    });

    it("rolls a transaction back whole, audit event included, when it throws", async () => {
      const org = await newOrg();
      const before = (await stores.audit.readAuditChain(0, 100_000)).length;
      await expect(
        stores.transaction(async (tx) => {
          await tx.lockOwner({ kind: "org", id: org.id });
          await tx.secrets.insertSecret({
            id: randomUUID(),
            owner: { kind: "org", id: org.id },
            name: "ROLLED",
            type: "env",
            scopes: ["ic"],
          });
          await tx.audit.appendAudit({
            actor: "system",
            action: "test.rollback",
            target: "x",
            outcome: "success",
          });
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect(await stores.secrets.findSecret({ kind: "org", id: org.id }, "ROLLED")).toBeUndefined();
      expect((await stores.audit.readAuditChain(0, 100_000)).length).toBe(before);
    });

    it("reports a missing owner from lockOwner", async () => {
      expect(await stores.transaction((tx) => tx.lockOwner({ kind: "site", id: randomUUID() }))).toBe(false);
    });

    it("serializes concurrent read-then-write transactions on one owner", async () => {
      const org = await newOrg();
      const owner: OwnerRef = { kind: "org", id: org.id };
      const counter = await newSecret(owner, "COUNTER", "0");
      const writers = 12;
      await Promise.all(
        Array.from({ length: writers }, () =>
          stores.transaction(async (tx) => {
            await tx.lockOwner(owner);
            const [current] = await tx.secrets.listSecrets(owner);
            const next = Number(current?.base.toString() ?? "0") + 1;
            await new Promise((resolve) => setTimeout(resolve, 2));
            await tx.secrets.putValue(counter.id, null, Buffer.from(String(next)));
          }),
        ),
      );
      const [final] = await stores.secrets.listSecrets(owner);
      expect(final?.base.toString()).toBe(String(writers));
    });

    it("publishes recorded changes to listeners after commit, and never after a rollback", async () => {
      const seen: string[] = [];
      const unsubscribe = db.onChange((change) => seen.push(`${change.kind}:${change.id}`));
      await stores.transaction(async (tx) => {
        await tx.recordChange({ kind: "site", id: "committed" });
        expect(seen).toEqual([]);
      });
      expect(seen).toEqual(["site:committed"]);
      await stores
        .transaction(async (tx) => {
          await tx.recordChange({ kind: "org", id: "rolled-back" });
          throw new Error("abort");
        })
        .catch(() => {});
      unsubscribe();
      await stores.transaction((tx) => tx.recordChange({ kind: "token", id: "after-unsubscribe" }));
      expect(seen).toEqual(["site:committed"]);
    });

    it("answers ping while open", async () => {
      expect(await db.ping()).toBe(true);
    });

    it("throws CONFLICT, not a driver error, for a constraint broken inside a transaction", async () => {
      const org = await newOrg();
      const error = await stores
        .transaction(async (tx) => {
          await tx.orgs.insertOrg({ id: randomUUID(), name: org.name, dataKey: wrappedKey("dup") });
        })
        .catch((e: unknown) => e);
      expect(isLockboxError(error, "CONFLICT")).toBe(true);
    });
  });
}
