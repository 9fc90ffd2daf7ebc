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
  readonly #maxBytes: number;
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  #epoch = 0;
  #enabled = true;

  constructor(options: { maxBytes?: number } = {}) {
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  /** Changes with every invalidation; pass the value read before resolving to {@link set}. */
  get epoch(): number {
    return this.#epoch;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(siteId: string, env: string): RuntimePayload | undefined {
    const key = `${siteId}\u0000${env}`;
    const entry = this.#entries.get(key);
    if (entry) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /** Stores a set resolved since `epoch`; ignored if anything was invalidated meanwhile, or when disabled. */
  set(siteId: string, env: string, payload: RuntimePayload, epoch: number): void {
    if (!this.#enabled || epoch !== this.#epoch || payload.body.length > this.#maxBytes) return;
    const key = `${siteId}\u0000${env}`;
    this.#remove(key);
    this.#entries.set(key, { ...payload, siteId });
    this.#bytes += payload.body.length;
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#remove(oldest);
    }
  }

  /** Drops every environment of one site. */
  invalidateSite(siteId: string): void {
    this.#epoch++;
    for (const [key, entry] of this.#entries) if (entry.siteId === siteId) this.#remove(key);
  }

  /** Drops everything. */
  clear(): void {
    this.#epoch++;
    this.#entries.clear();
    this.#bytes = 0;
  }

  /** While disabled (no change listener), nothing is cached: every request reads the store. */
  setEnabled(enabled: boolean): void {
    this.#enabled = enabled;
    this.clear();
  }

  #remove(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#bytes -= entry.body.length;
  }
}
