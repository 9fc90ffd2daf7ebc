import { LockboxError, type OwnerRef, SERVER_DEFAULTS } from "@lockbox/core";
import type { AuditStore } from "../audit/audit-store.js";
import type { OwnerLocks, Transactional } from "../db/ports.js";
import type { RetentionStore } from "./kysely-retention-store.js";

/** How long history is kept: the last `versions` of each slot, deleted secrets for `deletedDays`. */
export interface RetentionPolicy {
  readonly versions: number;
  readonly deletedDays: number;
}

/** Issue 9's defaults: 100 versions per slot, deleted secrets for 30 days. */
export const DEFAULT_RETENTION: RetentionPolicy = {
  versions: SERVER_DEFAULTS.retainVersions,
  deletedDays: SERVER_DEFAULTS.retainDeletedDays,
};

/** Largest `--retain-versions` / `--retain-deleted-days` (a 32-bit version number; ~27 years). */
const MAX_RETAIN_VERSIONS = 2 ** 31 - 1;
const MAX_RETAIN_DAYS = 10_000;

/** Parses `--retain-versions=N` / `--retain-deleted-days=D`: a positive whole number. */
export function parseRetention(
  flag: "--retain-versions" | "--retain-deleted-days",
  text: string | number,
): number {
  const max = flag === "--retain-versions" ? MAX_RETAIN_VERSIONS : MAX_RETAIN_DAYS;
  const value = /^\d+$/.test(String(text).trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    const example = flag === "--retain-versions" ? DEFAULT_RETENTION.versions : DEFAULT_RETENTION.deletedDays;
    throw new LockboxError(
      "VALIDATION_FAILED",
      `Invalid ${flag} '${text}': use a whole number from 1 to ${max}, for example ${example}.`,
    );
  }
  return value;
}

export interface RetentionTx extends OwnerLocks {
  readonly retention: RetentionStore;
  readonly audit: Pick<AuditStore, "appendAudit">;
}

export interface PruneOptions {
  readonly policy?: RetentionPolicy | undefined;
  /** Versions deleted per statement (default 500). */
  readonly batchSize?: number | undefined;
  /** Milliseconds between runs (default 15 minutes); the first run comes after `firstRunMs` (default 1 minute). */
  readonly intervalMs?: number | undefined;
  readonly firstRunMs?: number | undefined;
  /** The clock, for tests (default `Date.now`). */
  readonly now?: (() => number) | undefined;
  /** Told when a run fails (a store outage); the next run tries again. Never given a value. */
  readonly onError?: ((error: unknown) => void) | undefined;
}

/** What one run removed. */
export interface PruneResult {
  readonly versions: number;
  readonly deletedSecrets: number;
  /** False when another server was pruning (PostgreSQL), so this run did nothing. */
  readonly ran: boolean;
}

const DAY_MS = 86_400_000;
/** Deleted secrets forgotten per transaction: each takes its versions with it. */
const DELETED_PER_BATCH = 50;

/**
 * Background pruning of history (issue 9): versions beyond the last N of each slot, and deleted
 * secrets (with their versions) after D days. It runs in small batches — one transaction of at most
 * `batchSize` versions or {@link DELETED_PER_BATCH} deleted secrets each, audited as one
 * `secret.prune` event with the counts (never names or values) — on an unref'd timer that
 * {@link close} stops. The newest version holding a value of each slot is never removed. With
 * several servers on one PostgreSQL, one prunes at a time (an advisory lock); the others skip.
 */
export class RetentionPruner {
  readonly policy: RetentionPolicy;
  readonly #batchSize: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #closed = false;

  constructor(
    private readonly stores: Transactional<RetentionTx>,
    private readonly options: PruneOptions = {},
  ) {
    this.policy = options.policy ?? DEFAULT_RETENTION;
    this.#batchSize = options.batchSize ?? 500;
    this.#now = options.now ?? Date.now;
  }

  /** Starts the background runs. */
  start(): void {
    if (this.#closed || this.#timer) return;
    const schedule = (ms: number) => {
      this.#timer = setTimeout(() => {
        this.#running = this.pruneOnce()
          .catch((error: unknown) => this.options.onError?.(error))
          .finally(() => {
            this.#running = undefined;
            if (!this.#closed) schedule(this.options.intervalMs ?? 15 * 60_000);
          });
      }, ms);
      this.#timer.unref();
    };
    schedule(this.options.firstRunMs ?? 60_000);
  }

  /** Stops the timer and waits for a run in progress to end (after its current batch). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  /** One run: batches until nothing is left to prune (or the pruner is closed). */
  async pruneOnce(): Promise<PruneResult> {
    let versions = 0;
    let deletedSecrets = 0;
    const cutoff = new Date(this.#now() - this.policy.deletedDays * DAY_MS).toISOString();
    while (!this.#closed) {
      const purged = await this.#batch((tx) => this.#purgeExpired(tx, cutoff));
      // Versions are pruned in a transaction of their own, holding no owner lock: its scan of the
      // history must not make writes to the purged secrets' owners wait.
      const pruned = purged && (await this.#batch((tx) => this.#pruneVersions(tx, cutoff)));
      if (purged === undefined || pruned === undefined) return { versions, deletedSecrets, ran: false };
      versions += purged.versions + pruned.versions;
      deletedSecrets += purged.deletedSecrets;
      if (!purged.more && !pruned.more) break;
      // Let requests through between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return { versions, deletedSecrets, ran: true };
  }

  /**
   * One audited transaction of `work`, when this server has the pruning turn (undefined otherwise):
   * one `secret.prune` event with the counts, never names or values.
   */
  #batch(work: (tx: RetentionTx) => Promise<Batch>): Promise<Batch | undefined> {
    return this.stores.transaction(async (tx) => {
      if (!(await tx.retention.takePruningTurn())) return undefined;
      const batch = await work(tx);
      if (batch.versions + batch.deletedSecrets > 0) {
        await tx.audit.appendAudit({
          actor: "system",
          action: "secret.prune",
          target: `retention:versions=${batch.versions},deleted-secrets=${batch.deletedSecrets}`,
          outcome: "success",
        });
      }
      return batch;
    });
  }

  /** Deleted secrets past the retention days, with their versions. */
  async #purgeExpired(tx: RetentionTx, cutoff: string): Promise<Batch> {
    const expired = await tx.retention.expiredDeleted(cutoff, DELETED_PER_BATCH);
    // Their owners are locked (in one order, so two batches never wait on each other) so a restore
    // and the purge of the same secret run one after the other.
    for (const owner of uniqueOwners(expired.map((e) => e.owner))) await tx.lockOwner(owner);
    const purged = await tx.retention.purgeDeleted(
      expired.map((e) => e.secretId),
      cutoff,
    );
    return {
      versions: purged.versions,
      deletedSecrets: purged.secrets,
      more: expired.length === DELETED_PER_BATCH,
    };
  }

  /**
   * Versions beyond the last N of each slot (never a slot's newest value, so a concurrent write or
   * restore loses nothing), and the history of secrets deleted before deleted secrets were kept.
   */
  async #pruneVersions(tx: RetentionTx, cutoff: string): Promise<Batch> {
    const orphans = await tx.retention.pruneOrphanVersions(cutoff, DELETED_PER_BATCH);
    const pruned = await tx.retention.pruneVersions(this.policy.versions, this.#batchSize);
    return { versions: orphans + pruned, deletedSecrets: 0, more: orphans > 0 || pruned === this.#batchSize };
  }
}

/** What one pruning transaction removed, and whether more may be left. */
interface Batch {
  readonly versions: number;
  readonly deletedSecrets: number;
  readonly more: boolean;
}

function uniqueOwners(owners: readonly OwnerRef[]): OwnerRef[] {
  const byKey = new Map(owners.map((o) => [`${o.kind}:${o.id}`, o]));
  return [...byKey.keys()].sort().map((key) => byKey.get(key) as OwnerRef);
}
