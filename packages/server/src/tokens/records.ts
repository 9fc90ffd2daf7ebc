/** Tokens as their store reads and writes them (SPEC §5): never the token, only its hash. */

import type { TokenKind } from "@lockbox/core";

export type { TokenKind };
export interface NewToken {
  readonly id: string;
  readonly kind: TokenKind;
  /** Hex SHA-256 of the whole token string. */
  readonly hash: string;
  /** For user tokens: whose. */
  readonly userId: string | null;
  /** For runtime and build tokens: the environment they are bound to (its site follows). */
  readonly environmentId: string | null;
  /** The user who minted it (null for the bootstrap admin token). */
  readonly createdBy: string | null;
  readonly expiresAt: string | null;
}
export interface TokenRow {
  readonly id: string;
  readonly kind: TokenKind;
  readonly hash: string;
  readonly userId: string | null;
  /** The email of `userId`, read with the token. */
  readonly userEmail: string | null;
  readonly siteId: string | null;
  /** The name of `siteId`, read with the token. */
  readonly siteName: string | null;
  readonly environmentId: string | null;
  readonly environmentName: string | null;
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

/**
 * Whether a token still works at `nowMs`: not revoked and not expired. Written as "still valid" so
 * that an unreadable expiry (NaN) counts as expired, never as forever.
 */
export function isTokenActive(token: Pick<TokenRow, "expiresAt" | "revokedAt">, nowMs: number): boolean {
  if (token.revokedAt !== null) return false;
  return token.expiresAt === null || Date.parse(token.expiresAt) > nowMs;
}
