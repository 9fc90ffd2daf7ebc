import { LockboxError, type OwnerRef } from "@lockbox/core";
import { type Kysely, sql } from "kysely";
import type { Database } from "./database.js";
import type { ChangeRecorder, OwnerLocks, StoreChange, StoreDialect } from "./ports.js";
import { type StoreFault, StoreHealth } from "./store-faults.js";

/** How a dialect runs a write transaction, a consistent read, and maps its errors. */
export interface DialectDriver {
  readonly dialect: StoreDialect;
  /** Runs `fn` on one connection inside a write transaction (SQLite: `BEGIN IMMEDIATE`). */
  writeTransaction<T>(db: Kysely<Database>, fn: (conn: Kysely<Database>) => Promise<T>): Promise<T>;
  /** Runs `fn` so that all its reads see one snapshot. */
  consistentRead<T>(db: Kysely<Database>, fn: (conn: Kysely<Database>) => Promise<T>): Promise<T>;
  /** Locks one row of `table` by id for the rest of the transaction; false when the row is absent. */
  lockRow(conn: Kysely<Database>, table: "orgs" | "sites", id: string): Promise<boolean>;
  /** Serializes audit appends across every process on the database. */
  lockAudit(conn: Kysely<Database>): Promise<void>;
  /**
   * Tells other processes about a change when the transaction commits (PostgreSQL NOTIFY), with
   * `sentAtMs`: this clock's time just before the commit (receivers measure NOTIFY lag from it).
   */
  notify(conn: Kysely<Database>, change: StoreChange, sentAtMs: number): Promise<void>;
  /** The constraint a driver error broke, if it is a constraint error. */
  constraintOf(error: unknown): "unique" | "foreign-key" | "check" | undefined;
  /** Frees the dialect's resources (pool, file lock). */
  destroy(db: Kysely<Database>): Promise<void>;
}

/**
 * Where an area's Kysely store runs its queries: the pool, or one transaction's connection. Every
 * Kysely store is constructed over one of these, so the same class serves both.
 */
export class KyselyContext {
  constructor(
    /** The pool, or the connection of one transaction. */
    readonly db: Kysely<Database>,
    readonly driver: DialectDriver,
    /** Whether `db` is one transaction's connection, whose reads already see one snapshot. */
    private readonly inTransaction: boolean,
  ) {}

  /** Runs reads on one snapshot; inside a transaction the transaction already is one. */
  consistent<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.inTransaction ? fn(this.db) : this.driver.consistentRead(this.db, fn);
  }

  /** Runs a write and turns constraint violations into CONFLICT errors that name no value. */
  async write<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const constraint = this.driver.constraintOf(error);
      if (constraint === "unique") {
        throw new LockboxError("CONFLICT", `Cannot ${what}: it already exists.`, { cause: error });
      }
      if (constraint === "foreign-key") {
        throw new LockboxError(
          "CONFLICT",
          `Cannot ${what}: another record depends on it or it no longer exists.`,
          { cause: error },
        );
      }
      throw error;
    }
  }
}

/** One write transaction as the stores see it: its context, owner locks and change records. */
export interface TransactionHandle extends OwnerLocks, ChangeRecorder {
  readonly context: KyselyContext;
}

/**
 * The database handle shared by every area: the Kysely instance of one dialect, write
 * transactions, the change feed that keeps caches right, and the connection's life. It owns no
 * table: each area's Kysely store does its own queries over a {@link KyselyContext}.
 */
export class LockboxDb {
  readonly dialect: StoreDialect;
  /** The pool's context, for queries outside a transaction. */
  readonly context: KyselyContext;
  readonly #listeners = new Set<(change: StoreChange) => void>();

  constructor(
    /** The Kysely instance, for migrations and for tests that inspect rows below the ports. */
    readonly kysely: Kysely<Database>,
    private readonly driver: DialectDriver,
    /** Where faults of the store (unreachable, full) are tracked; see `faultClassifyingDialect`. */
    readonly health: StoreHealth = new StoreHealth(driver.dialect),
  ) {
    this.dialect = driver.dialect;
    this.context = new KyselyContext(kysely, driver, false);
  }

  /**
   * Runs `fn` in one read-write transaction and commits when it resolves (rolls back when it
   * throws). On SQLite the transaction starts with `BEGIN IMMEDIATE` (writers are serialized), on
   * PostgreSQL `lockOwner` takes a row lock, so two writers of the same owner run one after the
   * other. Changes recorded in it reach {@link onChange} listeners right after the commit.
   */
  async transaction<T>(fn: (tx: TransactionHandle) => Promise<T>): Promise<T> {
    const changes: StoreChange[] = [];
    const result = await this.driver.writeTransaction(this.kysely, async (conn) => {
      const done = await fn({
        context: new KyselyContext(conn, this.driver, true),
        lockOwner: (owner: OwnerRef) =>
          this.driver.lockRow(conn, owner.kind === "org" ? "orgs" : "sites", owner.id),
        recordChange: async (change: StoreChange) => {
          // One record per owner and transaction, however many of its slots the transaction writes.
          if (changes.some((c) => c.kind === change.kind && c.id === change.id)) return;
          changes.push(change);
        },
      });
      // Last, right before the commit, so the time they carry is close to the commit's.
      const sentAtMs = Date.now();
      for (const change of changes) await this.driver.notify(conn, change, sentAtMs);
      return done;
    });
    for (const change of changes) this.emitChange(change);
    return result;
  }

  /**
   * Calls `listener` with every change committed through this handle, synchronously right after its
   * transaction commits (so a caller can drop caches before it answers). Changes by other processes
   * arrive through `listenForChanges` on PostgreSQL. Returns an unsubscribe.
   */
  onChange(listener: (change: StoreChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Gives `change` to every listener; a listener's error never reaches the writer. */
  emitChange(change: StoreChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch {
        // Listeners are cache invalidations; they must not fail a committed write.
      }
    }
  }

  /**
   * Calls `listener` when a store fault begins (the disk is full, the database does not answer):
   * once per episode, for the operator's log. Returns an unsubscribe.
   */
  onFault(listener: (fault: StoreFault) => void): () => void {
    return this.health.onFault(listener);
  }

  /** Whether the database answers a trivial query (for `/readyz`). Never throws. */
  async ping(): Promise<boolean> {
    try {
      await sql`select 1`.execute(this.kysely);
      return true;
    } catch {
      return false;
    }
  }

  /** Closes every connection. The handle is unusable afterwards. */
  async close(): Promise<void> {
    await this.driver.destroy(this.kysely);
  }
}

/** Rows per page when a request gives no limit, and the bounds of a limit. */
export function limitOf(page: { limit?: number | undefined }): number {
  const limit = page.limit ?? 100;
  return Math.max(1, Math.min(1000, Math.trunc(limit)));
}

/** The current time as stored: ISO-8601 UTC. */
export const now = (): string => new Date().toISOString();

/** The table of an owner (its row holds its data key). */
export function ownerTable(owner: OwnerRef): "orgs" | "sites" {
  return owner.kind === "org" ? "orgs" : "sites";
}
