import type { StoreQueries } from "../store/secret-store.js";

/**
 * Remembers when tokens were last used and writes it in batches (every `flushIntervalMs`), so
 * authenticating a request never waits for a write. Bounded: at most one entry per token.
 */
export class TokenUsageRecorder {
  readonly #store: Pick<StoreQueries, "touchTokens">;
  readonly #pending = new Map<string, string>();
  readonly #timer: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();

  constructor(store: Pick<StoreQueries, "touchTokens">, options: { flushIntervalMs?: number } = {}) {
    this.#store = store;
    this.#timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 2000);
    this.#timer.unref();
  }

  record(tokenId: string, at = new Date()): void {
    this.#pending.set(tokenId, at.toISOString());
  }

  /** Writes what is pending; a failed write is dropped (last-use times are advisory). */
  flush(): Promise<void> {
    if (this.#pending.size === 0) return this.#flushing;
    const uses = [...this.#pending].map(([id, at]) => ({ id, at }));
    this.#pending.clear();
    this.#flushing = this.#flushing.then(() => this.#store.touchTokens(uses)).catch(() => {});
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
