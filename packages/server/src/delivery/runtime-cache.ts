import { LRUCache } from "lru-cache";
import type { RuntimePayload } from "./runtime-payload.js";

interface Entry extends RuntimePayload {
  readonly siteId: string;
  /** The trust generation it was resolved in: only the current one is served as current. */
  readonly generation: number;
}

/**
 * Resolved, serialized sets by (site, environment), bounded by a byte budget (least recently used
 * go first). Invalidation is by site, or whole (an org's change). A fill that started before an
 * invalidation is refused (`epoch`), so a slow read can never put a stale set back after a write
 * dropped it.
 *
 * Trust: a set is served as current ({@link get}) only while changes are known to arrive (the
 * change listener is up) and only if it was resolved since they last started arriving. Losing or
 * regaining the listener starts a new generation: every set then needs revalidation (a read of the
 * store) before it is served as current again, but is kept as the last delivered set
 * ({@link lastDelivered}) for when the store cannot be read at all.
 */
export class RuntimeCache {
  readonly #entries: LRUCache<string, Entry>;
  #epoch = 0;
  #generation = 0;
  #trusted = true;

  /** `maxBytes`: the budget for all bodies together, a positive whole number (default 64 MiB). */
  constructor(options: { maxBytes?: number } = {}) {
    this.#entries = new LRUCache<string, Entry>({
      maxSize: options.maxBytes ?? 64 * 1024 * 1024,
      // lru-cache wants sizes of at least 1; a serialized set is never empty anyway.
      sizeCalculation: (entry) => entry.body.length || 1,
    });
  }

  /** Changes with every invalidation; pass the value read before resolving to {@link set}. */
  get epoch(): number {
    return this.#epoch;
  }

  /** The bytes of every cached body together. */
  get bytes(): number {
    return this.#entries.calculatedSize;
  }

  /** How many sets are cached. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The current set of a site environment (now the most recently used): cached, trusted and
   * resolved in this generation; otherwise undefined and the caller reads the store.
   */
  get(siteId: string, env: string): RuntimePayload | undefined {
    if (!this.#trusted) return undefined;
    const entry = this.#entries.get(`${siteId}\u0000${env}`);
    return entry?.generation === this.#generation ? entry : undefined;
  }

  /**
   * The set last delivered for a site environment, current or not: what is served while the store
   * is unreachable (no write can commit meanwhile). Undefined when none is cached.
   */
  lastDelivered(siteId: string, env: string): RuntimePayload | undefined {
    return this.#entries.get(`${siteId}\u0000${env}`);
  }

  /** Stores a set resolved since `epoch`; ignored if anything was invalidated meanwhile. */
  set(siteId: string, env: string, payload: RuntimePayload, epoch: number): void {
    if (epoch !== this.#epoch || payload.body.length > this.#entries.maxSize) return;
    this.#entries.set(`${siteId}\u0000${env}`, { ...payload, siteId, generation: this.#generation });
  }

  /** Drops every environment of one site. */
  invalidateSite(siteId: string): void {
    this.#epoch++;
    const stale: string[] = [];
    for (const [key, entry] of this.#entries.entries()) if (entry.siteId === siteId) stale.push(key);
    for (const key of stale) this.#entries.delete(key);
  }

  /** Drops everything. */
  clear(): void {
    this.#epoch++;
    this.#entries.clear();
  }

  /**
   * Whether changes are known to arrive (the change listener is up). Either way a new generation
   * starts: nothing cached is served as current until it has been resolved again, and fills that
   * started before are refused. While untrusted, every request reads the store.
   */
  setTrusted(trusted: boolean): void {
    this.#trusted = trusted;
    this.#generation++;
    this.#epoch++;
  }
}
