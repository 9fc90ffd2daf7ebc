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

interface Entry {
  readonly identity: MachineIdentity;
  /** The trust generation it was authenticated in (see {@link MachineTokenCache.setTrusted}). */
  readonly generation: number;
}

/**
 * Authenticated runtime and build tokens by their plaintext, so the hot path neither hashes nor
 * reads the store per request (STYLE: a bounded map invalidated on revoke). Entries go on revoke
 * (by token id), on any change of their site (a deleted multidev takes its tokens), on expiry,
 * and least recently used beyond `maxEntries`. It lives only in memory, like the request that
 * carried the token.
 *
 * Trust works as in `RuntimeCache`: an identity is served as current only while changes arrive and
 * if it was authenticated since they last started arriving; otherwise it is kept as the last known
 * identity, used only while the store is unreachable.
 */
export class MachineTokenCache {
  readonly #byToken: LRUCache<string, Entry>;
  #epoch = 0;
  #generation = 0;
  #trusted = true;

  constructor(options: { maxEntries?: number } = {}) {
    this.#byToken = new LRUCache<string, Entry>({ max: options.maxEntries ?? 100_000 });
  }

  /** Changes with every drop; pass the value read before authenticating to {@link set}. */
  get epoch(): number {
    return this.#epoch;
  }

  /** The current identity of a cached, unexpired token (now the most recently used), or undefined. */
  get(token: string, nowMs = Date.now()): MachineIdentity | undefined {
    if (!this.#trusted) return undefined;
    const entry = this.#unexpired(token, nowMs);
    return entry?.generation === this.#generation ? entry.identity : undefined;
  }

  /** The identity a token last had, current or not, unless expired: for an unreachable store. */
  lastKnown(token: string, nowMs = Date.now()): MachineIdentity | undefined {
    return this.#unexpired(token, nowMs)?.identity;
  }

  /** Remembers a token authenticated since `epoch`, unless something was dropped meanwhile. */
  set(token: string, identity: MachineIdentity, epoch: number): void {
    if (epoch !== this.#epoch) return;
    this.#byToken.set(token, { identity, generation: this.#generation });
  }

  /** Forgets one plaintext (the store no longer knows it as a live token). */
  forget(token: string): void {
    // Only a token that was cached moves the epoch: refused garbage must not disturb other fills.
    if (this.#byToken.delete(token)) this.#epoch++;
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

  /** Whether changes are known to arrive; either way, every identity needs authenticating again. */
  setTrusted(trusted: boolean): void {
    this.#trusted = trusted;
    this.#generation++;
    this.#epoch++;
  }

  #unexpired(token: string, nowMs: number): Entry | undefined {
    const entry = this.#byToken.get(token);
    if (!entry) return undefined;
    // An unreadable expiry (NaN) counts as expired.
    const { expiresAtMs } = entry.identity;
    if (expiresAtMs !== null && !(expiresAtMs > nowMs)) {
      this.#byToken.delete(token);
      return undefined;
    }
    return entry;
  }

  #drop(match: (identity: MachineIdentity) => boolean): void {
    this.#epoch++;
    const dropped: string[] = [];
    for (const [token, entry] of this.#byToken.entries()) if (match(entry.identity)) dropped.push(token);
    for (const token of dropped) this.#byToken.delete(token);
  }
}
