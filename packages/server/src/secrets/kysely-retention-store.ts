import type { OwnerRef } from "@lockbox/core";
import { sql } from "kysely";
import type { KyselyContext } from "../db/lockbox-db.js";
import { ownerOfRow } from "./kysely-secret-store.js";

/**
 * The retention's deletes, over Kysely on both dialects. Every method runs inside the pruning
 * transaction; each statement touches at most the batch's rows.
 */
export interface RetentionStore {
  /**
   * Makes this transaction the only pruning one on the database: true when it got the turn (SQLite:
   * always, writers are serialized; PostgreSQL: a transaction-level advisory lock, false when another
   * server is pruning).
   */
  takePruningTurn(): Promise<boolean>;
  /**
   * Deletes up to `limit` versions that are older than the last `keep` of their slot and older than
   * the slot's newest version holding a value (which is never deleted: it is the current value, or
   * what a restore brings back). Returns how many.
   */
  pruneVersions(keep: number, limit: number): Promise<number>;
  /**
   * Deletes the versions of up to `limit` secrets that are neither current nor kept as deleted and
   * whose last version is older than `before` (ISO time): secrets deleted before deleted secrets were
   * kept (migration 0003), whose history nothing else would ever remove. Returns how many versions.
   */
  pruneOrphanVersions(before: string, limit: number): Promise<number>;
  /** Up to `limit` deleted secrets deleted before `before` (ISO time), oldest first. */
  expiredDeleted(before: string, limit: number): Promise<{ secretId: string; owner: OwnerRef }[]>;
  /**
   * Forgets deleted secrets still deleted before `before` (one not restored meanwhile), with their
   * versions. Call with their owners locked. Returns how many secrets and versions went.
   */
  purgeDeleted(secretIds: readonly string[], before: string): Promise<{ secrets: number; versions: number }>;
}

/** The advisory lock key of pruning on PostgreSQL ("lockbox-retention"). */
const RETENTION_LOCK_KEY = 0x6c6b_7274n;

/** {@link RetentionStore} over Kysely. */
export class KyselyRetentionStore implements RetentionStore {
  constructor(private readonly context: KyselyContext) {}

  async takePruningTurn(): Promise<boolean> {
    if (this.context.driver.dialect !== "postgres") return true;
    const result = await sql<{ turn: boolean }>`select pg_try_advisory_xact_lock(${sql.lit(
      RETENTION_LOCK_KEY.toString(),
    )}::bigint) as turn`.execute(this.context.db);
    return result.rows[0]?.turn === true;
  }

  async pruneVersions(keep: number, limit: number): Promise<number> {
    // Row values (`(a, b, c) in (select …)`) work on PostgreSQL and SQLite ≥ 3.15. The two maxima are
    // index lookups on the primary key (secret_id, env, version).
    const result = await sql`
      delete from secret_versions where (secret_id, env, version) in (
        select v.secret_id, v.env, v.version from secret_versions v
        where v.version <= (
            select max(m.version) from secret_versions m where m.secret_id = v.secret_id and m.env = v.env
          ) - ${keep}
          and v.version < (
            select max(m.version) from secret_versions m
            where m.secret_id = v.secret_id and m.env = v.env and m.ciphertext is not null
          )
        limit ${limit}
      )`.execute(this.context.db);
    return Number(result.numAffectedRows ?? 0n);
  }

  async pruneOrphanVersions(before: string, limit: number): Promise<number> {
    // A secret's first version is written in the transaction that creates its row, and a delete
    // writes its deleted_secrets row in the same transaction as its delete version: a committed
    // version without either row can only be a secret deleted before migration 0003.
    const result = await sql`
      delete from secret_versions where secret_id in (
        select v.secret_id from secret_versions v
        where not exists (select 1 from secrets s where s.id = v.secret_id)
          and not exists (select 1 from deleted_secrets d where d.secret_id = v.secret_id)
        group by v.secret_id
        having max(v.at) < ${before}
        limit ${limit}
      )`.execute(this.context.db);
    return Number(result.numAffectedRows ?? 0n);
  }

  async expiredDeleted(before: string, limit: number): Promise<{ secretId: string; owner: OwnerRef }[]> {
    const rows = await this.context.db
      .selectFrom("deleted_secrets")
      .select(["secret_id", "org_id", "site_id"])
      .where("deleted_at", "<", before)
      .orderBy("deleted_at")
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      secretId: r.secret_id,
      owner: ownerOfRow(r),
    }));
  }

  async purgeDeleted(
    secretIds: readonly string[],
    before: string,
  ): Promise<{ secrets: number; versions: number }> {
    if (secretIds.length === 0) return { secrets: 0, versions: 0 };
    const { db } = this.context;
    const still = await db
      .selectFrom("deleted_secrets")
      .select("secret_id")
      .where("secret_id", "in", [...secretIds])
      .where("deleted_at", "<", before)
      .execute();
    const ids = still.map((r) => r.secret_id);
    if (ids.length === 0) return { secrets: 0, versions: 0 };
    const versions = await db.deleteFrom("secret_versions").where("secret_id", "in", ids).executeTakeFirst();
    const secrets = await db.deleteFrom("deleted_secrets").where("secret_id", "in", ids).executeTakeFirst();
    return { secrets: Number(secrets.numDeletedRows), versions: Number(versions.numDeletedRows) };
  }
}
