import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuditBatchWriter, type AuditWriterStore } from "./audit-batch-writer.js";
import type { AuditStore } from "./audit-store.js";
import type { AuditEvent, AuditEventInput } from "./records.js";

type AuditTx = { readonly audit: Pick<AuditStore, "appendAuditEvents"> };

/**
 * Commits a transaction's events only when its function resolves (a rollback keeps none), and can
 * be made to fail or to hold transactions open until released.
 */
class FakeAuditStore implements AuditWriterStore {
  /** Committed transactions, each the targets of its events in append order. */
  readonly committed: string[][] = [];
  readonly events: AuditEventInput[] = [];
  failures = 0;
  open = 0;
  maxOpen = 0;
  #held: Promise<void> | undefined;
  #release: (() => void) | undefined;

  async transaction<T>(fn: (tx: AuditTx) => Promise<T>): Promise<T> {
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    try {
      await this.#held;
      if (this.failures > 0) {
        this.failures--;
        throw new Error("the database is unreachable");
      }
      const appended: AuditEventInput[] = [];
      const result = await fn({
        audit: {
          appendAuditEvents: async (events) => {
            appended.push(...events);
            return events.map(
              (event) => ({ ...event, seq: 0, id: "", at: event.at ?? "" }) as unknown as AuditEvent,
            );
          },
        },
      });
      this.committed.push(appended.map((e) => e.target));
      this.events.push(...appended);
      return result;
    } finally {
      this.open--;
    }
  }

  /** Holds every transaction until the returned function is called. */
  hold(): () => void {
    this.#held = new Promise((resolve) => {
      this.#release = resolve;
    });
    return () => {
      this.#held = undefined;
      this.#release?.();
    };
  }

  get written(): string[] {
    return this.committed.flat();
  }
}

function event(target: string, at?: string): AuditEventInput {
  return { actor: "token:t", action: "runtime.deliver", target, outcome: "success", ...(at ? { at } : {}) };
}

describe("AuditBatchWriter", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse("2030-01-01T00:00:00Z") });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("record() only queues: the events are written together flushIntervalMs after the first", async () => {
    const store = new FakeAuditStore();
    const writer = new AuditBatchWriter(store, { flushIntervalMs: 250 });
    writer.record(event("a"));
    await vi.advanceTimersByTimeAsync(200);
    writer.record(event("b"));
    expect([store.committed, writer.pending]).toEqual([[], 2]);
    // The timer runs from the first queued event, not the last.
    await vi.advanceTimersByTimeAsync(50);
    expect(store.committed).toEqual([["a", "b"]]);
    expect(writer.pending).toBe(0);
  });

  it("writes at once, without waiting for the timer, when maxBatch events wait", async () => {
    const store = new FakeAuditStore();
    const writer = new AuditBatchWriter(store, { maxBatch: 3, flushIntervalMs: 60_000 });
    writer.record(event("a"));
    writer.record(event("b"));
    await vi.advanceTimersByTimeAsync(0);
    expect(store.committed).toEqual([]);
    writer.record(event("c"));
    await vi.advanceTimersByTimeAsync(0);
    expect(store.committed).toEqual([["a", "b", "c"]]);
  });

  it("stamps each event with the time it was recorded, unless it has one", async () => {
    const store = new FakeAuditStore();
    const writer = new AuditBatchWriter(store, { flushIntervalMs: 250 });
    writer.record(event("a"));
    writer.record(event("b", "2029-12-31T23:00:00.000Z"));
    await vi.advanceTimersByTimeAsync(250);
    expect(store.events.map((e) => e.at)).toEqual(["2030-01-01T00:00:00.000Z", "2029-12-31T23:00:00.000Z"]);
  });

  it("flush() writes everything queued, in order, at most maxBatch events per transaction, one at a time", async () => {
    const store = new FakeAuditStore();
    const release = store.hold();
    const writer = new AuditBatchWriter(store, { maxBatch: 2, flushIntervalMs: 60_000 });
    for (const target of ["a", "b", "c", "d", "e"]) writer.record(event(target));
    const flushed = writer.flush();
    release();
    await flushed;
    expect(store.written).toEqual(["a", "b", "c", "d", "e"]);
    expect(store.committed.every((batch) => batch.length <= 2)).toBe(true);
    expect(store.maxOpen).toBe(1);
    expect(writer.pending).toBe(0);
  });

  it("close() stops the timer and writes what is queued", async () => {
    const store = new FakeAuditStore();
    const writer = new AuditBatchWriter(store, { flushIntervalMs: 250 });
    writer.record(event("a"));
    await writer.close();
    expect(store.committed).toEqual([["a"]]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.committed).toEqual([["a"]]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("keeps a failed batch, reports the error, and writes it first, in order, at the next flush", async () => {
    const store = new FakeAuditStore();
    const errors: unknown[] = [];
    const writer = new AuditBatchWriter(store, { flushIntervalMs: 250, onError: (e) => errors.push(e) });
    store.failures = 1;
    writer.record(event("a"));
    writer.record(event("b"));
    await vi.advanceTimersByTimeAsync(250);
    expect(errors).toEqual([expect.objectContaining({ message: "the database is unreachable" })]);
    expect([store.committed, writer.pending]).toEqual([[], 2]);
    // No retry loop: nothing is attempted until the next record() or flush().
    await vi.advanceTimersByTimeAsync(10_000);
    expect(store.committed).toEqual([]);
    writer.record(event("c"));
    await vi.advanceTimersByTimeAsync(250);
    expect(store.written).toEqual(["a", "b", "c"]);
    expect(errors).toHaveLength(1);
  });

  it("a batch whose transaction rolled back is written whole by the retry, not in part twice", async () => {
    const store = new FakeAuditStore();
    let attempts = 0;
    const failing: AuditWriterStore = {
      transaction: (fn) =>
        store.transaction((tx) =>
          fn({
            audit: {
              // The first attempt appends the batch's first event, then fails on the second.
              appendAuditEvents: async (events) => {
                if (++attempts > 1) return tx.audit.appendAuditEvents(events);
                await tx.audit.appendAuditEvents(events.slice(0, 1));
                throw new Error("constraint violated");
              },
            },
          }),
        ),
    };
    const flaky = new AuditBatchWriter(failing, { onError: () => {} });
    flaky.record(event("a"));
    flaky.record(event("b"));
    await flaky.flush();
    expect(store.committed).toEqual([]);
    await flaky.flush();
    expect(store.committed).toEqual([["a", "b"]]);
  });

  it("holds at most maxQueue events; beyond it drops new ones and counts them", async () => {
    const store = new FakeAuditStore();
    const writer = new AuditBatchWriter(store, { maxQueue: 3, flushIntervalMs: 250, onError: () => {} });
    store.failures = 1;
    for (const target of ["a", "b", "c", "d", "e"]) writer.record(event(target));
    expect([writer.pending, writer.dropped]).toEqual([3, 2]);
    await vi.advanceTimersByTimeAsync(250);
    expect([writer.pending, writer.dropped]).toEqual([3, 2]);
    await writer.flush();
    expect(store.written).toEqual(["a", "b", "c"]);
    writer.record(event("f"));
    expect([writer.pending, writer.dropped]).toEqual([1, 2]);
    await writer.close();
  });

  it("record() never throws, even when the store fails", async () => {
    const store = new FakeAuditStore();
    store.failures = 10;
    const writer = new AuditBatchWriter(store, { maxBatch: 1, onError: () => {} });
    expect(() => writer.record(event("a"))).not.toThrow();
    await vi.advanceTimersByTimeAsync(0);
    expect(writer.pending).toBe(1);
  });
});
