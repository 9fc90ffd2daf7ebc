import type { PageRequest } from "../db/ports.js";
import type { NewToken, TokenRow } from "./records.js";

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
  /**
   * The runtime and build tokens `createdBy` minted that are not revoked (expired ones included:
   * the caller judges expiry with its clock), in id order, at most 1000: those bound to `siteId`,
   * or to any site `orgId` owns or supports.
   */
  listUnrevokedSiteTokensMintedBy(filter: {
    createdBy: string;
    siteId?: string;
    orgId?: string;
  }): Promise<TokenRow[]>;
  /** Marks a token revoked. Returns false when absent or already revoked. */
  revokeToken(id: string, at: string): Promise<boolean>;
  /** Records last use of tokens (batched by the caller); a later time never goes back. */
  touchTokens(uses: ReadonlyArray<{ id: string; at: string }>): Promise<void>;
}
