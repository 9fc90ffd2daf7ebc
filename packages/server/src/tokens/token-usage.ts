import type { TokenStore } from "./token-store.js";

/**
 * Remembers when tokens were last used and writes it in batches (every `flushIntervalMs`), so
 * authenticating a request never waits for a write. Bounded: at most one entry per token.
 * Recording is one map write, cheap enough for every `GET /site/secrets` (the hot path).
 */
export class TokenUsageRecorder {
  readonly #store: Pick<TokenStore, "touchTokens">;
  /** Token id → epoch milliseconds of its latest use since the last flush. */
  readonly #pending = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();

  constructor(store: Pick<TokenStore, "touchTokens">, options: { flushIntervalMs?: number } = {}) {
    this.#store = store;
    this.#timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 2000);
    this.#timer.unref();
  }

  /** Notes a use of the token `tokenId` (an authenticated request of any kind) at `atMs`. */
  record(tokenId: string, atMs = Date.now()): void {
    this.#pending.set(tokenId, atMs);
  }

  /** Writes what is pending; a failed write is dropped (last-use times are advisory). */
  flush(): Promise<void> {
    if (this.#pending.size === 0) return this.#flushing;
    const uses = [...this.#pending].map(([id, atMs]) => ({ id, at: new Date(atMs).toISOString() }));
    this.#pending.clear();
    this.#flushing = this.#flushing.then(() => this.#store.touchTokens(uses)).catch(() => {});
    return this.#flushing;
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
