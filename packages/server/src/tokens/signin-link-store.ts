import type { KyselyContext } from "../db/lockbox-db.js";

/** A one-time sign-in link as stored: never its secret, only the hash of it. */
export interface SigninLinkRow {
  readonly id: string;
  readonly hash: string;
  readonly userId: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly usedAt: string | null;
  /** The expiry of the token that made the link (null: it does not expire): the session's limit. */
  readonly sessionExpiresAt: string | null;
  /** The token that made the link: revoked, it takes its unused links with it (null: not recorded). */
  readonly createdByTokenId: string | null;
}

/**
 * The sign-in links' storage port (`lockbox ui`): one-time links of the web dashboard, stored by the
 * hash of their secret like tokens. The conventions of `db/ports.ts` apply.
 */
export interface SigninLinkStore {
  insertSigninLink(link: Omit<SigninLinkRow, "usedAt">): Promise<void>;
  findSigninLinkByHash(hash: string): Promise<SigninLinkRow | undefined>;
  /**
   * Marks an unused link used at `at`, in one statement so that two exchanges of one link cannot
   * both succeed. Returns false when it was already used (or is absent).
   */
  useSigninLink(id: string, at: string): Promise<boolean>;
  /** Deletes the user's links that were used or expired at `now`; returns how many. */
  deleteSpentSigninLinks(userId: string, now: string): Promise<number>;
}

/** {@link SigninLinkStore} over Kysely. */
export class KyselySigninLinkStore implements SigninLinkStore {
  constructor(private readonly context: KyselyContext) {}

  async insertSigninLink(link: Omit<SigninLinkRow, "usedAt">): Promise<void> {
    await this.context.write("create the sign-in link", () =>
      this.context.db
        .insertInto("signin_links")
        .values({
          id: link.id,
          hash: link.hash,
          user_id: link.userId,
          created_at: link.createdAt,
          expires_at: link.expiresAt,
          used_at: null,
          session_expires_at: link.sessionExpiresAt,
          created_by_token_id: link.createdByTokenId,
        })
        .execute(),
    );
  }

  async findSigninLinkByHash(hash: string): Promise<SigninLinkRow | undefined> {
    const row = await this.context.db
      .selectFrom("signin_links")
      .selectAll()
      .where("hash", "=", hash)
      .executeTakeFirst();
    return (
      row && {
        id: row.id,
        hash: row.hash,
        userId: row.user_id,
        createdAt: row.created_at,
        expiresAt: row.expires_at,
        usedAt: row.used_at,
        sessionExpiresAt: row.session_expires_at,
        createdByTokenId: row.created_by_token_id,
      }
    );
  }

  async useSigninLink(id: string, at: string): Promise<boolean> {
    const result = await this.context.db
      .updateTable("signin_links")
      .set({ used_at: at })
      .where("id", "=", id)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async deleteSpentSigninLinks(userId: string, now: string): Promise<number> {
    const result = await this.context.db
      .deleteFrom("signin_links")
      .where("user_id", "=", userId)
      .where((eb) => eb.or([eb("used_at", "is not", null), eb("expires_at", "<=", now)]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
