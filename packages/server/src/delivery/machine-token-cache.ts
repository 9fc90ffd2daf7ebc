import { LRUCache } from "lru-cache";
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
  readonly #byToken: LRUCache<string, MachineIdentity>;
  #epoch = 0;

  constructor(options: { maxEntries?: number } = {}) {
    this.#byToken = new LRUCache<string, MachineIdentity>({ max: options.maxEntries ?? 100_000 });
  }

  /** Changes with every drop; pass the value read before authenticating to {@link set}. */
  get epoch(): number {
    return this.#epoch;
  }

  /** The identity of a cached, unexpired token (now the most recently used), or undefined. */
  get(token: string, nowMs = Date.now()): MachineIdentity | undefined {
    const identity = this.#byToken.get(token);
    if (!identity) return undefined;
    // An unreadable expiry (NaN) counts as expired.
    if (identity.expiresAtMs !== null && !(identity.expiresAtMs > nowMs)) {
      this.#byToken.delete(token);
      return undefined;
    }
    return identity;
  }

  /** Remembers a token authenticated since `epoch`, unless something was dropped meanwhile. */
  set(token: string, identity: MachineIdentity, epoch: number): void {
    if (epoch !== this.#epoch) return;
    this.#byToken.set(token, identity);
  }

  /** Forgets every plaintext of a token (revoked, or otherwise changed). */
  dropToken(tokenId: string): void {
    this.#drop((identity) => identity.tokenId === tokenId);
  }

  /** Forgets every token of a site (changed or deleted: a deleted multidev takes its tokens). */
  dropSite(siteId: string): void {
    this.#drop((identity) => identity.siteId === siteId);
  }

  /** Forgets every token. */
  clear(): void {
    this.#epoch++;
    this.#byToken.clear();
  }

  #drop(match: (identity: MachineIdentity) => boolean): void {
    this.#epoch++;
    const dropped: string[] = [];
    for (const [token, identity] of this.#byToken.entries()) if (match(identity)) dropped.push(token);
    for (const token of dropped) this.#byToken.delete(token);
  }
}
