import { closeSync, existsSync, openSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { LockboxError } from "@lockbox/core";
import { sql } from "kysely";
import { type AuditVerification, verifyAuditChain } from "./audit/audit-verify.js";
import { defaultMasterKeyFile, isPostgresUrl, openDb } from "./config.js";
import type { LockboxDb } from "./db/lockbox-db.js";
import { openSqliteDb } from "./db/sqlite.js";
import { copyStoreRows, countRows, requireEmptyStore, type TableCounts } from "./db/store-copy.js";
import { requireKnownTables, STORE_TABLES } from "./db/tables.js";
import { runtimeVersions } from "./delivery/runtime-versions.js";
import { makeDirectory } from "./files.js";
import { createLockbox, type Lockbox } from "./lockbox.js";

/**
 * `lockbox backup` and `lockbox store:copy`: a consistent copy of a live store into a new SQLite
 * file, and a whole store into an empty one (SQLite → PostgreSQL, or a backup back into service),
 * checked afterwards. See db/store-copy.ts for how rows travel.
 */

/** What `lockbox backup` is given. */
export interface BackupOptions {
  /** The live store: a SQLite path or a postgres:// URL. */
  readonly db: string;
  /** The backup file to create; an existing file is refused. */
  readonly to: string;
  readonly batchSize?: number | undefined;
  readonly onProgress?: ((done: number, total: number) => void) | undefined;
}

/** What a backup wrote. */
export interface BackupResult {
  readonly file: string;
  readonly rows: TableCounts;
}

/**
 * Writes a consistent snapshot of the store `db` (servers may keep writing) into the new SQLite
 * file `to`: every row as stored, values sealed and data keys wrapped, so the file is useless
 * without the master key and making it needs none. On failure the partial file is removed.
 */
export async function backupStore(options: BackupOptions): Promise<BackupResult> {
  const file = resolve(options.to);
  if (!isPostgresUrl(options.db) && resolve(options.db) === file) {
    throw new LockboxError(
      "VALIDATION_FAILED",
      "The backup file must not be the store itself: name a new file.",
    );
  }
  claimNewFile(file);
  let source: LockboxDb | undefined;
  let target: LockboxDb | undefined;
  try {
    source = await openDb(options.db, { exclusive: false, migrate: false });
    await requireKnownTables(source.kysely, "to back up");
    target = await openSqliteDb({ path: file });
    const rows = await copyStoreRows(source, target, {
      targetLabel: `'${options.to}'`,
      batchSize: options.batchSize,
      onProgress: options.onProgress,
    });
    // One self-contained file (no -wal beside it), ready to be moved.
    await sql`PRAGMA journal_mode = DELETE`.execute(target.kysely);
    return { file, rows };
  } catch (error) {
    await target?.close().catch(() => {});
    target = undefined;
    for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(`${file}${suffix}`, { force: true });
    throw error;
  } finally {
    await target?.close();
    await source?.close();
  }
}

/** Creates `file` (0600), refusing one that exists: a backup never overwrites anything. */
function claimNewFile(file: string): void {
  makeDirectory(dirname(file));
  try {
    closeSync(openSync(file, "wx", 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    throw new LockboxError(
      "CONFLICT",
      `The backup file '${file}' already exists: a backup never overwrites a file. Name a new file (for example with the date in it) or move the old one away.`,
    );
  }
}

/** What `lockbox store:copy` is given. */
export interface CopyStoreOptions {
  readonly from: string;
  /** An empty store (migrated or new); a new SQLite file is created. */
  readonly to: string;
  /** Where `LOCKBOX_MASTER_KEY` comes from. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The master key's file, instead of `LOCKBOX_MASTER_KEY` or the key file beside a SQLite source. */
  readonly masterKeyFile?: string | undefined;
  readonly batchSize?: number | undefined;
  readonly onProgress?: ((done: number, total: number) => void) | undefined;
}

/** One table's rows on both sides after a copy. */
export interface TableCheck {
  readonly table: string;
  readonly source: number;
  readonly target: number;
}

/** What `lockbox store:copy` copied and what its checks found. */
export interface CopyStoreResult {
  readonly tables: readonly TableCheck[];
  readonly audit: AuditVerification;
  /** Site environments whose runtime `Version` was compared. */
  readonly environments: number;
  /** `site.env` whose runtime `Version` differs, or exists on one side only. */
  readonly versionMismatches: readonly string[];
  /** Every check passed. */
  readonly ok: boolean;
}

/**
 * Copies the store `from` into the empty store `to`, then checks the copy: rows per table on both
 * sides, the target's audit chain, and every site environment's runtime `Version` on both sides
 * (needs the master key, which is checked against the source before anything is written). The
 * source should not change meanwhile (stop its servers, or copy from a backup file): a change after
 * the copy's snapshot shows as a mismatch.
 */
export async function copyStore(options: CopyStoreOptions): Promise<CopyStoreResult> {
  if (sameStore(options.from, options.to)) {
    throw new LockboxError(
      "VALIDATION_FAILED",
      "--from and --to name the same store: copy into a new, empty one.",
    );
  }
  const keyOptions = { env: options.env, masterKeyFile: masterKeyFileFor(options) };
  const targetIsNewFile = !isPostgresUrl(options.to) && !existsSync(options.to);
  const source = await createLockbox({ db: options.from, ...keyOptions, migrate: false });
  let target: Lockbox | undefined;
  try {
    await requireKnownTables(source.db.kysely, "to copy");
    const targetDb = await openDb(options.to, { exclusive: true });
    try {
      await requireKnownTables(targetDb.kysely, "to copy into");
      await requireEmptyStore(targetDb.kysely, describeStore(options.to));
      await copyStoreRows(source.db, targetDb, {
        targetLabel: describeStore(options.to),
        batchSize: options.batchSize,
        onProgress: options.onProgress,
      });
    } catch (error) {
      await targetDb.close();
      if (targetIsNewFile)
        for (const suffix of ["", "-wal", "-shm"]) rmSync(`${options.to}${suffix}`, { force: true });
      throw error;
    }
    await targetDb.close();
    target = await createLockbox({ db: options.to, ...keyOptions });
    return await checkCopy(source, target);
  } finally {
    await target?.close();
    await source.close();
  }
}

/** Rows per table, the target's audit chain, and every runtime `Version`, on both sides. */
async function checkCopy(source: Lockbox, target: Lockbox): Promise<CopyStoreResult> {
  const [sourceRows, targetRows] = [await countRows(source.db.kysely), await countRows(target.db.kysely)];
  const tables = STORE_TABLES.map((t) => ({
    table: t.name,
    source: sourceRows[t.name],
    target: targetRows[t.name],
  }));
  const audit = await verifyAuditChain(target.stores.audit);
  const versionsOf = (lockbox: Lockbox) =>
    runtimeVersions({
      sites: lockbox.stores.sites,
      environments: lockbox.stores.environments,
      secrets: lockbox.secrets,
      versionKey: lockbox.keyring.versionKey(),
    });
  const [before, after] = [await versionsOf(source), await versionsOf(target)];
  const versionMismatches = [...new Set([...before.keys(), ...after.keys()])]
    .filter((key) => before.get(key) !== after.get(key))
    .sort();
  return {
    tables,
    audit,
    environments: before.size,
    versionMismatches,
    ok: audit.ok && versionMismatches.length === 0 && tables.every((t) => t.source === t.target),
  };
}

/**
 * The master key for both sides: `--master-key-file`, else `LOCKBOX_MASTER_KEY`, else embedded
 * mode's key file beside a SQLite source (a new SQLite target has none yet).
 */
function masterKeyFileFor(options: CopyStoreOptions): string | undefined {
  if (options.masterKeyFile !== undefined || options.env.LOCKBOX_MASTER_KEY !== undefined) {
    return options.masterKeyFile;
  }
  const beside = defaultMasterKeyFile(options.from);
  return beside !== undefined && existsSync(beside) ? beside : undefined;
}

function sameStore(a: string, b: string): boolean {
  if (isPostgresUrl(a) !== isPostgresUrl(b)) return false;
  return isPostgresUrl(a) ? a === b : resolve(a) === resolve(b);
}

/** A store for messages: the SQLite path, or PostgreSQL's host and database (never credentials). */
function describeStore(db: string): string {
  if (!isPostgresUrl(db)) return `'${db}'`;
  try {
    const url = new URL(db);
    return `PostgreSQL at ${url.host}${url.pathname}`;
  } catch {
    return "PostgreSQL";
  }
}
