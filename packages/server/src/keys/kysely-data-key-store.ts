import type { OwnerRef } from "@lockbox/core";
import { type KyselyContext, ownerTable } from "../db/lockbox-db.js";
import type { DataKeyStore, WrappedDataKey } from "./data-key-store.js";
import type { WrappedDataKeyRecord } from "./rotate.js";

/** The `meta` key of the master key check value. */
const KEY_CHECK_META_KEY = "master_key.check";

/** {@link DataKeyStore} over Kysely: the data key columns of `orgs` and `sites`, and one `meta` row. */
export class KyselyDataKeyStore implements DataKeyStore {
  constructor(private readonly context: KyselyContext) {}

  async findDataKey(owner: OwnerRef): Promise<WrappedDataKey | undefined> {
    const row = await this.context.db
      .selectFrom(ownerTable(owner))
      .select(["data_key", "data_key_master_id"])
      .where("id", "=", owner.id)
      .executeTakeFirst();
    return row && { wrapped: row.data_key, masterKeyId: row.data_key_master_id };
  }

  async listDataKeysNotWrappedBy(masterKeyId: string, limit: number): Promise<WrappedDataKeyRecord[]> {
    const records: WrappedDataKeyRecord[] = [];
    for (const kind of ["org", "site"] as const) {
      if (records.length >= limit) break;
      const rows = await this.context.db
        .selectFrom(ownerTable({ kind, id: "" }))
        .select(["id", "data_key", "data_key_master_id"])
        .where("data_key_master_id", "<>", masterKeyId)
        .orderBy("id")
        .limit(limit - records.length)
        .execute();
      for (const r of rows) {
        records.push({ owner: { kind, id: r.id }, wrapped: r.data_key, masterKeyId: r.data_key_master_id });
      }
    }
    return records;
  }

  async replaceWrappedDataKey(
    owner: OwnerRef,
    expected: Buffer,
    next: Buffer,
    masterKeyId: string,
  ): Promise<boolean> {
    const result = await this.context.db
      .updateTable(ownerTable(owner))
      .set({ data_key: next, data_key_master_id: masterKeyId })
      .where("id", "=", owner.id)
      .where("data_key", "=", expected)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async countDataKeys(): Promise<number> {
    const { db } = this.context;
    const orgs = await db
      .selectFrom("orgs")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    const sites = await db
      .selectFrom("sites")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    return Number(orgs.n) + Number(sites.n);
  }

  async readKeyCheck(): Promise<string | undefined> {
    const row = await this.context.db
      .selectFrom("meta")
      .select("value")
      .where("key", "=", KEY_CHECK_META_KEY)
      .executeTakeFirst();
    return row?.value;
  }

  async writeKeyCheck(check: string): Promise<void> {
    await this.context.db
      .insertInto("meta")
      .values({ key: KEY_CHECK_META_KEY, value: check })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value: check }))
      .execute();
  }
}
