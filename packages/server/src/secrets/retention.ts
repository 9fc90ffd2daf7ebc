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
      const batch = await this.stores.transaction(async (tx) => {
        if (!(await tx.retention.takePruningTurn())) return undefined;
        const expired = await tx.retention.expiredDeleted(cutoff, DELETED_PER_BATCH);
        // Their owners are locked (in one order, so two batches never wait on each other) so a
        // restore and the purge of the same secret run one after the other.
        const owners = uniqueOwners(expired.map((e) => e.owner));
        for (const owner of owners) await tx.lockOwner(owner);
        const purged = await tx.retention.purgeDeleted(
          expired.map((e) => e.secretId),
          cutoff,
        );
        const orphans = await tx.retention.pruneOrphanVersions(cutoff, DELETED_PER_BATCH);
        const pruned = await tx.retention.pruneVersions(this.policy.versions, this.#batchSize);
        const versions = pruned + purged.versions + orphans;
        if (purged.secrets + versions > 0) {
          await tx.audit.appendAudit({
            actor: "system",
            action: "secret.prune",
            target: `retention:versions=${versions},deleted-secrets=${purged.secrets}`,
            outcome: "success",
          });
        }
        return {
          versions,
          deletedSecrets: purged.secrets,
          more: expired.length === DELETED_PER_BATCH || pruned === this.#batchSize || orphans > 0,
        };
      });
      if (batch === undefined) return { versions, deletedSecrets, ran: false };
      versions += batch.versions;
      deletedSecrets += batch.deletedSecrets;
      if (!batch.more) break;
      // Let requests through between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return { versions, deletedSecrets, ran: true };
  }
}

function uniqueOwners(owners: readonly OwnerRef[]): OwnerRef[] {
  const byKey = new Map(owners.map((o) => [`${o.kind}:${o.id}`, o]));
  return [...byKey.keys()].sort().map((key) => byKey.get(key) as OwnerRef);
}
