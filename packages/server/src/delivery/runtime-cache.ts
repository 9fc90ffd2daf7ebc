import { LRUCache } from "lru-cache";
import type { RuntimePayload } from "./runtime-payload.js";

interface Entry extends RuntimePayload {
  readonly siteId: string;
}

/**
 * Resolved, serialized sets by (site, environment), bounded by a byte budget (least recently used
 * go first). Invalidation is by site, or whole (an org's change, a lost change listener). A fill
 * that started before an invalidation is refused (`epoch`), so a slow read can never put a stale
 * set back after a write dropped it.
 */
export class RuntimeCache {
  readonly #entries: LRUCache<string, Entry>;
  #epoch = 0;
  #enabled = true;

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

  /** The cached set of a site environment (now the most recently used), or undefined. */
  get(siteId: string, env: string): RuntimePayload | undefined {
    return this.#entries.get(`${siteId}\u0000${env}`);
  }

  /** Stores a set resolved since `epoch`; ignored if anything was invalidated meanwhile, or when disabled. */
  set(siteId: string, env: string, payload: RuntimePayload, epoch: number): void {
    if (!this.#enabled || epoch !== this.#epoch || payload.body.length > this.#entries.maxSize) return;
    this.#entries.set(`${siteId}\u0000${env}`, { ...payload, siteId });
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

  /** While disabled (no change listener), nothing is cached: every request reads the store. */
  setEnabled(enabled: boolean): void {
    this.#enabled = enabled;
    this.clear();
  }
}
