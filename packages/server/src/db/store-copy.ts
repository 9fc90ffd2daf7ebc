import { LockboxError } from "@lockbox/core";
import { type Kysely, sql } from "kysely";
import type { Database } from "./database.js";
import type { LockboxDb } from "./lockbox-db.js";
import { STORE_TABLES, type StoreTable, type StoreTableName } from "./tables.js";

/**
 * Row-level copy of a whole store into an empty one, the engine of `lockbox backup` and `lockbox
 * store:copy`: every table of {@link STORE_TABLES} in foreign-key order, in batches, read from one
 * snapshot of the source and written in one transaction of the target. Rows travel as stored:
 * values stay sealed (ciphertext) and data keys stay wrapped, so the copy needs no master key.
 */

/** Rows per table. */
export type TableCounts = Record<StoreTableName, number>;

/** What {@link copyStoreRows} is given. */
export interface CopyRowsOptions {
  /** How the target is named in an error (never a connection string's credentials). */
  readonly targetLabel: string;
  /** Rows read and written at a time (default 500). */
  readonly batchSize?: number | undefined;
  /** Called after every batch with the rows copied so far and the rows to copy in all. */
  readonly onProgress?: ((done: number, total: number) => void) | undefined;
}

const DEFAULT_BATCH_SIZE = 500;

/** The number of rows of every table, as `db` (a pool or one snapshot) sees them. */
export async function countRows(db: Kysely<Database>): Promise<TableCounts> {
  const counts = {} as TableCounts;
  for (const table of STORE_TABLES) {
    const result = await sql<{
      n: number | string;
    }>`select count(*) as n from ${sql.table(table.name)}`.execute(db);
    counts[table.name] = Number(result.rows[0]?.n ?? 0);
  }
  return counts;
}

/** Throws CONFLICT, naming the tables that hold rows and the fix, unless every table of `db` is empty. */
export async function requireEmptyStore(db: Kysely<Database>, label: string): Promise<void> {
  const counts = await countRows(db);
  const filled = STORE_TABLES.filter((t) => counts[t.name] > 0).map((t) => `${t.name}: ${counts[t.name]}`);
  if (filled.length > 0) {
    throw new LockboxError(
      "CONFLICT",
      `The target store ${label} is not empty (${filled.join(", ")} rows): a copy goes into an empty store only, and nothing was changed. ` +
        "Create a new database (createdb) or name a new SQLite file, and copy into it.",
    );
  }
}

/**
 * Copies every row of `source` into `target`, which must be empty (checked inside the target's
 * transaction, so nothing is written otherwise). Reads see one snapshot of the source (SQLite: one
 * read transaction, which a server's writes in WAL mode do not disturb; PostgreSQL: REPEATABLE READ,
 * READ ONLY), so the copy is consistent while servers keep writing. Answers the rows copied per table.
 */
export async function copyStoreRows(
  source: LockboxDb,
  target: LockboxDb,
  options: CopyRowsOptions,
): Promise<TableCounts> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new LockboxError(
      "VALIDATION_FAILED",
      `Invalid batch size '${batchSize}': use a positive whole number.`,
    );
  }
  return source.context.consistent(async (read) => {
    const counts = await countRows(read);
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    let done = 0;
    options.onProgress?.(done, total);
    await target.transaction(async (tx) => {
      const write = tx.context.db;
      await requireEmptyStore(write, options.targetLabel);
      for (const table of STORE_TABLES) {
        let after: unknown[] | undefined;
        for (;;) {
          const rows = await readBatch(read, table, after, batchSize);
          if (rows.length === 0) break;
          await (write as unknown as Kysely<Record<string, Record<string, unknown>>>)
            .insertInto(table.name)
            .values(rows)
            .execute();
          done += rows.length;
          options.onProgress?.(done, total);
          if (rows.length < batchSize) break;
          const last = rows[rows.length - 1] as Record<string, unknown>;
          after = table.key.map((column) => last[column]);
        }
      }
    });
    return counts;
  });
}

/** The next `limit` rows of `table` after the primary key `after`, in primary-key order (keyset paging). */
async function readBatch(
  db: Kysely<Database>,
  table: StoreTable,
  after: readonly unknown[] | undefined,
  limit: number,
): Promise<Record<string, unknown>[]> {
  const key = sql.join(table.key.map((column) => sql.ref(column)));
  const where = after === undefined ? sql`` : sql`where (${key}) > (${sql.join([...after])})`;
  const result = await sql<
    Record<string, unknown>
  >`select * from ${sql.table(table.name)} ${where} order by ${key} limit ${limit}`.execute(db);
  return result.rows;
}
