import type { TokenKind } from "../tokens/records.js";

/** Who a runtime or build token is, as the delivery endpoints need it. */
export interface MachineIdentity {
  readonly tokenId: string;
  readonly kind: TokenKind;
  readonly siteId: string;
  readonly env: string;
  /** Epoch milliseconds, or null for no expiry. */
  readonly expiresAtMs: number | null;
}

/**
 * Authenticated runtime and build tokens by their plaintext, so the hot path neither hashes nor
 * reads the store per request (STYLE: a bounded map invalidated on revoke). Entries go on revoke
 * (by token id), on any change of their site (a deleted multidev takes its tokens), on expiry,
 * and least recently used beyond `maxEntries`. It lives only in memory, like the request that
 * carried the token.
 */
export class MachineTokenCache {
  readonly #maxEntries: number;
  readonly #byToken = new Map<string, MachineIdentity>();
  #epoch = 0;

  constructor(options: { maxEntries?: number } = {}) {
    this.#maxEntries = options.maxEntries ?? 100_000;
  }

  get epoch(): number {
    return this.#epoch;
  }

  get(token: string, nowMs = Date.now()): MachineIdentity | undefined {
    const identity = this.#byToken.get(token);
    if (!identity) return undefined;
    // An unreadable expiry (NaN) counts as expired.
    if (identity.expiresAtMs !== null && !(identity.expiresAtMs > nowMs)) {
      this.#byToken.delete(token);
      return undefined;
    }
    // Most recently used last, so eviction takes the least recently used.
    this.#byToken.delete(token);
    this.#byToken.set(token, identity);
    return identity;
  }

  /** Remembers a token authenticated since `epoch`, unless something was dropped meanwhile. */
  set(token: string, identity: MachineIdentity, epoch: number): void {
    if (epoch !== this.#epoch) return;
    this.#byToken.set(token, identity);
    if (this.#byToken.size > this.#maxEntries) {
      const oldest = this.#byToken.keys().next().value;
      if (oldest !== undefined) this.#byToken.delete(oldest);
    }
  }

  dropToken(tokenId: string): void {
    this.#drop((identity) => identity.tokenId === tokenId);
  }

  dropSite(siteId: string): void {
    this.#drop((identity) => identity.siteId === siteId);
  }

  clear(): void {
    this.#epoch++;
    this.#byToken.clear();
  }

  #drop(match: (identity: MachineIdentity) => boolean): void {
    this.#epoch++;
    for (const [token, identity] of this.#byToken) if (match(identity)) this.#byToken.delete(token);
  }
}
