import type { DeliveryChange } from "./delivery.js";

/** A blocking read waiting for its set to change (see {@link HeldReads}). */
export interface HeldRead {
  readonly siteId: string;
  readonly tokenId: string;
  /** Epoch milliseconds after which it ends with {@link onExpire}. */
  readonly deadlineMs: number;
  /** Something it may depend on changed: re-check and answer, or keep waiting. */
  onWake(): void;
  /** The wait ended (deadline or shutdown): answer 304. */
  onExpire(): void;
}

/** How often deadlines are checked: a held read ends at most this late. */
const TICK_MS = 250;

/**
 * The blocking reads held on this server (`GET /site/secrets?wait=`), indexed so that a change wakes
 * only what it may concern: a site change its site's reads, a token change that token's reads, an
 * org change the reads of the sites it concerns (`DeliveryChange.concerns`: its sites, and those
 * whose owner is not known; every read without it). Reads are woken in the order they arrived, and
 * each re-resolves and answers only if its Version changed. No timer per read: one interval, running only while reads are held, ends those
 * whose deadline passed, found through deadline buckets of {@link TICK_MS}.
 */
export class HeldReads {
  readonly #bySite = new Map<string, Set<HeldRead>>();
  readonly #byToken = new Map<string, Set<HeldRead>>();
  readonly #byDeadline = new Map<number, Set<HeldRead>>();
  /** Every held read, in the order they arrived. */
  readonly #all = new Set<HeldRead>();
  readonly #now: () => number;
  #count = 0;
  #generation = 0;
  #interval: NodeJS.Timeout | undefined;
  #closed = false;

  /** `max`: reads held at once at most. */
  constructor(
    readonly max: number,
    options: { now?: () => number } = {},
  ) {
    this.#now = options.now ?? Date.now;
  }

  /** Reads held now (the `lockbox_held_requests` gauge). */
  get count(): number {
    return this.#count;
  }

  /** Whether {@link close} was called: the server is shutting down. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Changes with every change seen: read before resolving, pass to {@link hold} to miss none. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Holds `read` until a change wakes it or its deadline passes. Undefined when the cap is reached
   * or the server is closing (answer 304 at once); otherwise the function that releases it (call it
   * once the read has answered or its client has gone). A change seen since `generation` wakes it at once.
   */
  hold(read: HeldRead, generation: number): (() => void) | undefined {
    if (this.#closed || this.#count >= this.max) return undefined;
    add(this.#bySite, read.siteId, read);
    add(this.#byToken, read.tokenId, read);
    add(this.#byDeadline, bucketOf(read.deadlineMs), read);
    this.#all.add(read);
    this.#count++;
    this.#interval ??= setInterval(() => this.#expire(), TICK_MS).unref();
    let released = false;
    if (generation !== this.#generation) queueMicrotask(() => released || read.onWake());
    return () => {
      if (released) return;
      released = true;
      remove(this.#bySite, read.siteId, read);
      remove(this.#byToken, read.tokenId, read);
      remove(this.#byDeadline, bucketOf(read.deadlineMs), read);
      this.#all.delete(read);
      this.#count--;
      if (this.#count === 0) this.#stopInterval();
    };
  }

  /**
   * Wakes the reads `change` may concern (called for every committed change, local or not), or
   * every read when `change` is undefined (changes may have been missed).
   */
  wake(change: DeliveryChange | undefined): void {
    this.#generation++;
    if (this.#count === 0) return;
    let reads: Iterable<HeldRead>;
    if (change?.kind === "site") reads = this.#bySite.get(change.id) ?? [];
    else if (change?.kind === "token") reads = this.#byToken.get(change.id) ?? [];
    else {
      const concerns = change?.concerns;
      reads = concerns ? [...this.#all].filter((read) => concerns(read.siteId)) : this.#all;
    }
    // A copy: a woken read may release itself while we iterate.
    for (const read of [...reads]) read.onWake();
  }

  /** Ends every held read with its 304 and holds no more (graceful shutdown). */
  close(): void {
    this.#closed = true;
    for (const read of [...this.#all]) read.onExpire();
    this.#stopInterval();
  }

  #expire(): void {
    const now = this.#now();
    for (const [bucket, reads] of this.#byDeadline) {
      if (bucket > now) continue;
      for (const read of [...reads]) read.onExpire();
    }
  }

  #stopInterval(): void {
    if (this.#interval) clearInterval(this.#interval);
    this.#interval = undefined;
  }
}

/** The end of the tick a deadline falls in, so a read never ends before its deadline. */
function bucketOf(deadlineMs: number): number {
  return Math.ceil(deadlineMs / TICK_MS) * TICK_MS;
}

function add<K>(map: Map<K, Set<HeldRead>>, key: K, read: HeldRead): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(read);
}

function remove<K>(map: Map<K, Set<HeldRead>>, key: K, read: HeldRead): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(read);
  if (set.size === 0) map.delete(key);
}
