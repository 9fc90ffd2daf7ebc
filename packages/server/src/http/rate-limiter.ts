import { LRUCache } from "lru-cache";

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Per-key token buckets (SPEC §5: per token, per server, default 10 requests/s with a burst of 20).
 * Memory is bounded: at most `maxKeys` buckets are kept, the least recently used forgotten first
 * (a forgotten bucket starts full again).
 */
export class RateLimiter {
  readonly #ratePerSecond: number;
  readonly #burst: number;
  readonly #buckets: LRUCache<string, Bucket>;

  constructor(options: { ratePerSecond: number; burst: number; maxKeys?: number }) {
    this.#ratePerSecond = options.ratePerSecond;
    this.#burst = Math.max(1, options.burst);
    this.#buckets = new LRUCache<string, Bucket>({ max: options.maxKeys ?? 100_000 });
  }

  /**
   * Takes one request from `key`'s bucket. Returns 0 when allowed, else the whole seconds to wait
   * before the next request would be allowed (at least 1).
   */
  take(key: string, nowMs = Date.now()): number {
    // get() makes the bucket the most recently used, refused or not.
    const bucket = this.#buckets.get(key);
    if (!bucket) {
      this.#buckets.set(key, { tokens: this.#burst - 1, updatedMs: nowMs });
      return 0;
    }
    const tokens = Math.min(
      this.#burst,
      bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * this.#ratePerSecond,
    );
    // Refused: the bucket stays as it was, so repeated refusals add no rounding drift.
    if (tokens < 1) return Math.max(1, Math.ceil((1 - tokens) / this.#ratePerSecond));
    bucket.tokens = tokens - 1;
    bucket.updatedMs = nowMs;
    return 0;
  }
}
