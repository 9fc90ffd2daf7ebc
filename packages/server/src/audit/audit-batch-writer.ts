import type { Transactional } from "../db/ports.js";
import type { AuditStore } from "./audit-store.js";
import type { AuditEventInput } from "./records.js";

/** What the writer needs: transactions that can append audit events. */
export type AuditWriterStore = Transactional<{ readonly audit: Pick<AuditStore, "appendAuditEvents"> }>;

export interface AuditBatchWriterOptions {
  /** Flush when this many events wait (default 200). */
  readonly maxBatch?: number;
  /** Flush at least this often while events wait (default 250 ms). */
  readonly flushIntervalMs?: number;
  /** Events held at most; beyond it new events are dropped and counted (default 50 000). */
  readonly maxQueue?: number;
  /** Called when a flush fails; the events of that flush are kept and retried. Never given values. */
  readonly onError?: (error: unknown) => void;
}

/**
 * Appends delivery events (SPEC §5: first delivery of each `Version` to each token) off the hot
 * path: `record()` only queues, and a timer appends queued events in one transaction per batch.
 * Events keep their original time (`at` is stamped when recorded). Call `close()` on shutdown to
 * flush what is left.
 */
export class AuditBatchWriter {
  readonly #store: AuditWriterStore;
  readonly #maxBatch: number;
  readonly #maxQueue: number;
  readonly #flushIntervalMs: number;
  readonly #onError: (error: unknown) => void;
  #queue: AuditEventInput[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #dropped = 0;

  constructor(store: AuditWriterStore, options: AuditBatchWriterOptions = {}) {
    this.#store = store;
    this.#maxBatch = options.maxBatch ?? 200;
    this.#maxQueue = options.maxQueue ?? 50_000;
    this.#flushIntervalMs = options.flushIntervalMs ?? 250;
    this.#onError = options.onError ?? (() => {});
  }

  /** Events dropped because the queue was full (the store was unreachable for long). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Events waiting to be written. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Queues an event; returns at once and never throws. */
  record(event: AuditEventInput): void {
    if (this.#queue.length >= this.#maxQueue) {
      this.#dropped++;
      return;
    }
    this.#queue.push({ ...event, at: event.at ?? new Date().toISOString() });
    if (this.#queue.length >= this.#maxBatch) {
      void this.flush();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.flush();
      }, this.#flushIntervalMs);
      this.#timer.unref();
    }
  }

  /** Writes every queued event now; resolves when they are committed (or the attempt failed). */
  async flush(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
    if (this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#maxBatch);
    let written = false;
    this.#flushing = this.#store
      .transaction(async (tx) => {
        await tx.audit.appendAuditEvents(batch);
        written = true;
      })
      .catch((error: unknown) => {
        written = false;
        this.#queue.unshift(...batch);
        this.#onError(error);
      })
      .finally(() => {
        this.#flushing = undefined;
      });
    await this.#flushing;
    // After a failure the rest waits for the next record() or close(), instead of spinning.
    if (written && this.#queue.length > 0) await this.flush();
  }

  /** Stops the timer and flushes what is queued. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}
