import { LRUCache } from "lru-cache";
import type { RuntimePayload } from "./runtime-payload.js";

interface Entry extends RuntimePayload {
  readonly siteId: string;
  /** The site's owner org when resolved (null: a personal site); undefined when not known. */
  readonly orgId: string | null | undefined;
  /** The trust generation it was resolved in: only the current one is served as current. */
  readonly generation: number;
}

/**
 * Resolved, serialized sets by (site, environment), bounded by a byte budget (least recently used
 * go first). Invalidation is by site, by org (the sets of its sites, and of sites whose org is not
 * known), or whole. A fill that started before an
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
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  /** `maxBytes`: the budget for all bodies together, a positive whole number (default 64 MiB). */
  constructor(options: { maxBytes?: number } = {}) {
    this.#entries = new LRUCache<string, Entry>({
      maxSize: options.maxBytes ?? 64 * 1024 * 1024,
      // lru-cache wants sizes of at least 1; a serialized set is never empty anyway.
      sizeCalculation: (entry) => entry.body.length || 1,
      dispose: (_entry, _key, reason) => {
        if (reason === "evict") this.#evictions++;
      },
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

  /** Sets served as current ({@link get} found one), since start. */
  get hits(): number {
    return this.#hits;
  }

  /** {@link get}s that found no current set (the caller resolved), since start. */
  get misses(): number {
    return this.#misses;
  }

  /** Sets dropped to stay within the byte budget, since start. */
  get evictions(): number {
    return this.#evictions;
  }

  /** Whether sets are served as current (changes are known to arrive). */
  get trusted(): boolean {
    return this.#trusted;
  }

  /** How many sets are cached. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The current set of a site environment (now the most recently used): cached, trusted and
   * resolved in this generation; otherwise undefined and the caller reads the store. A caller that
   * will ask again through {@link get} on a miss (the runtime fast path, which falls through to the
   * route) passes `countMiss: false`, so that one request counts one miss.
   */
  get(siteId: string, env: string, options: { countMiss?: boolean } = {}): RuntimePayload | undefined {
    const entry = this.#trusted ? this.#entries.get(`${siteId}\u0000${env}`) : undefined;
    if (entry?.generation === this.#generation) {
      this.#hits++;
      return entry;
    }
    if (options.countMiss !== false) this.#misses++;
    return undefined;
  }

  /**
   * The set last delivered for a site environment, current or not: what is served while the store
   * is unreachable (no write can commit meanwhile). Undefined when none is cached.
   */
  lastDelivered(siteId: string, env: string): RuntimePayload | undefined {
    return this.#entries.get(`${siteId}\u0000${env}`);
  }

  /**
   * Stores a set resolved since `epoch`, of a site owned by `orgId` (null: personal; undefined: not
   * known, dropped by every org's change); ignored if anything was invalidated meanwhile.
   */
  set(siteId: string, env: string, payload: RuntimePayload, epoch: number, orgId?: string | null): void {
    if (epoch !== this.#epoch || payload.body.length > this.#entries.maxSize) return;
    this.#entries.set(`${siteId}\u0000${env}`, {
      ...payload,
      siteId,
      orgId,
      generation: this.#generation,
    });
  }

  /** Drops every environment of one site. */
  invalidateSite(siteId: string): void {
    this.#epoch++;
    const stale: string[] = [];
    for (const [key, entry] of this.#entries.entries()) if (entry.siteId === siteId) stale.push(key);
    for (const key of stale) this.#entries.delete(key);
  }

  /** Drops the sets of the org's sites, and of every site whose owner org is not known. */
  invalidateOrg(orgId: string): void {
    this.#epoch++;
    const stale: string[] = [];
    for (const [key, entry] of this.#entries.entries()) {
      if (entry.orgId === orgId || entry.orgId === undefined) stale.push(key);
    }
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
