/**
 * Per-key token buckets (SPEC §5: per token, per server, default 10 requests/s with a burst of 20).
 * Memory is bounded: at most `maxKeys` buckets are kept, the least recently used forgotten first
 * (a forgotten bucket starts full again).
 */
export class RateLimiter {
  readonly #ratePerSecond: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, { tokens: number; updatedMs: number }>();

  constructor(options: { ratePerSecond: number; burst: number; maxKeys?: number }) {
    this.#ratePerSecond = options.ratePerSecond;
    this.#burst = Math.max(1, options.burst);
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  /**
   * Takes one request from `key`'s bucket. Returns 0 when allowed, else the whole seconds to wait
   * before the next request would be allowed (at least 1).
   */
  take(key: string, nowMs = Date.now()): number {
    const bucket = this.#buckets.get(key);
    let tokens = this.#burst;
    if (bucket) {
      tokens = Math.min(
        this.#burst,
        bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * this.#ratePerSecond,
      );
      this.#buckets.delete(key);
    }
    if (tokens >= 1) {
      this.#buckets.set(key, { tokens: tokens - 1, updatedMs: nowMs });
      this.#evict();
      return 0;
    }
    // Refused: the bucket stays as it was (now the most recently used), so refusals add no drift.
    if (bucket) this.#buckets.set(key, bucket);
    return Math.max(1, Math.ceil((1 - tokens) / this.#ratePerSecond));
  }

  #evict(): void {
    while (this.#buckets.size > this.#maxKeys) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest === undefined) return;
      this.#buckets.delete(oldest);
    }
  }
}
