import type { OwnerRef } from "@lockbox/core";

/**
 * What every area's storage port shares: the dialect names, the change records that keep caches
 * right, owner locks, and the shape of a transaction over several areas' stores.
 *
 * Conventions of every port:
 * - Everything binds by UUID. Names are looked up once, at the edge, and never stored as references.
 * - `findX` returns `undefined` when absent; nothing throws for a missing row.
 * - Writes that break a database constraint throw `LockboxError("CONFLICT")`; services check first
 *   so that users see the precise message, and the constraint only settles races.
 * - Values arrive and leave sealed (`Buffer` envelopes): no store sees plaintext.
 * - Timestamps are ISO-8601 UTC strings, so both dialects sort and compare them alike.
 */
export type StoreDialect = "sqlite" | "postgres";

/**
 * A committed change that can alter resolution results or token identities. Ids only: payloads
 * cross processes (PostgreSQL NOTIFY, under 8000 bytes) and never carry names or values.
 * `site`: a site's secrets, owner, environments or tokens changed; `org`: an org's secrets
 * changed (every site it owns); `token`: a token was revoked.
 */
export type StoreChange =
  | { readonly kind: "site"; readonly id: string }
  | { readonly kind: "org"; readonly id: string }
  | { readonly kind: "token"; readonly id: string };

/** Row locks on owners (orgs and sites), held until the transaction ends. */
export interface OwnerLocks {
  /**
   * Locks the owner's row until the transaction ends, so that rules over its secrets, environments
   * and tokens cannot race (SQLite: the transaction's `BEGIN IMMEDIATE` already serializes writers;
   * PostgreSQL: a row lock). Returns false when the owner does not exist (any more).
   */
  lockOwner(owner: OwnerRef): Promise<boolean>;
}

/** Records, inside a transaction, what it changes for caches. */
export interface ChangeRecorder {
  /**
   * Records that this transaction changes what a site resolves, or who a token is. After commit the
   * change goes to the database handle's change listeners; on PostgreSQL it is also sent with
   * NOTIFY, which the database delivers to every listening process only if the transaction commits.
   */
  recordChange(change: StoreChange): Promise<void>;
}

/** A store that runs work in one read-write transaction; `Tx` is what the work may use. */
export interface Transactional<Tx> {
  /**
   * Runs `fn` in one read-write transaction and commits when it resolves (rolls back when it
   * throws, rethrowing the error). A rule that reads and then writes must run in here and lock the
   * owner first. Transactions do not nest.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}

/** One page of a list ordered by a unique key. */
export interface PageRequest {
  /** Maximum rows, 1–1000 (default 100). */
  readonly limit?: number | undefined;
  /** Rows whose sort key is strictly after this cursor (the last row's name, email or id). */
  readonly after?: string | undefined;
}
