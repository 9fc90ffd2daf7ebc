import type { PageRequest } from "../db/ports.js";

/**
 * The tokens' storage port (SPEC §5): user, runtime and build tokens, stored only by the hash of the
 * token. The conventions of `db/ports.ts` apply. Implemented over Kysely in `kysely-token-store.ts`.
 */
export interface TokenStore {
  insertToken(token: NewToken): Promise<TokenRow>;
  /** A token by the hash of its secret part, revoked or not (callers check `revokedAt`). */
  findTokenByHash(hash: string): Promise<TokenRow | undefined>;
  findTokenById(id: string): Promise<TokenRow | undefined>;
  /** Tokens in id order, filtered by their user or by the site of their environment. */
  listTokens(filter: { userId?: string; siteId?: string } & PageRequest): Promise<TokenRow[]>;
  /** Marks a token revoked. Returns false when absent or already revoked. */
  revokeToken(id: string, at: string): Promise<boolean>;
  /** Records last use of tokens (batched by the caller); a later time never goes back. */
  touchTokens(uses: ReadonlyArray<{ id: string; at: string }>): Promise<void>;
}

export type TokenKind = "user" | "runtime" | "build";
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
