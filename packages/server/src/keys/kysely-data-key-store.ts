import type { OwnerRef } from "@lockbox/core";
import { type KyselyContext, ownerTable } from "../db/lockbox-db.js";
import type { DataKeyOwner, DataKeyStore, WrappedDataKey } from "./data-key-store.js";
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

  async lockKeyCheck(): Promise<string | undefined> {
    const query = this.context.db.selectFrom("meta").select("value").where("key", "=", KEY_CHECK_META_KEY);
    // SQLite has no row locks (and needs none: its write transactions are serialized).
    const row = await (this.context.driver.dialect === "postgres"
      ? query.forShare()
      : query
    ).executeTakeFirst();
    return row?.value;
  }

  async countDataKeysByMasterKey(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const table of ["orgs", "sites"] as const) {
      const rows = await this.context.db
        .selectFrom(table)
        .select((eb) => ["data_key_master_id", eb.fn.countAll().as("n")])
        .groupBy("data_key_master_id")
        .execute();
      for (const row of rows) {
        counts.set(row.data_key_master_id, (counts.get(row.data_key_master_id) ?? 0) + Number(row.n));
      }
    }
    return counts;
  }

  async listDataKeyOwners(masterKeyIds: readonly string[], limit: number): Promise<DataKeyOwner[]> {
    const owners: DataKeyOwner[] = [];
    if (masterKeyIds.length === 0) return owners;
    for (const kind of ["org", "site"] as const) {
      if (owners.length >= limit) break;
      const rows = await this.context.db
        .selectFrom(ownerTable({ kind, id: "" }))
        .select(["id", "name", "data_key_master_id"])
        .where("data_key_master_id", "in", [...masterKeyIds])
        .orderBy("name")
        .limit(limit - owners.length)
        .execute();
      for (const r of rows)
        owners.push({ owner: { kind, id: r.id }, name: r.name, masterKeyId: r.data_key_master_id });
    }
    return owners;
  }

  async writeKeyCheck(check: string): Promise<void> {
    await this.context.db
      .insertInto("meta")
      .values({ key: KEY_CHECK_META_KEY, value: check })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value: check }))
      .execute();
  }
}
