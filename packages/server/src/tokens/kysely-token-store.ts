import { LockboxError } from "@lockbox/core";
import { type Selectable, sql } from "kysely";
import type { Database } from "../db/database.js";
import { type KyselyContext, limitOf, now } from "../db/lockbox-db.js";
import type { PageRequest } from "../db/ports.js";
import type { NewToken, TokenKind, TokenRow } from "./records.js";
import type { TokenStore } from "./token-store.js";

/** {@link TokenStore} over Kysely. */
export class KyselyTokenStore implements TokenStore {
  constructor(private readonly context: KyselyContext) {}

  async insertToken(token: NewToken): Promise<TokenRow> {
    const row = {
      id: token.id,
      kind: token.kind,
      hash: token.hash,
      user_id: token.userId,
      environment_id: token.environmentId,
      created_by: token.createdBy,
      created_at: now(),
      expires_at: token.expiresAt,
      last_used_at: null,
      revoked_at: null,
    };
    await this.context.write("create the token", () =>
      this.context.db.insertInto("tokens").values(row).execute(),
    );
    const stored = await this.findTokenById(token.id);
    if (!stored) throw new LockboxError("INTERNAL", "The token was not stored.");
    return stored;
  }

  /** Tokens with their environment, site and user named, in one query. */
  #tokens() {
    return this.context.db
      .selectFrom("tokens")
      .leftJoin("environments", "environments.id", "tokens.environment_id")
      .leftJoin("sites", "sites.id", "environments.site_id")
      .leftJoin("users", "users.id", "tokens.user_id")
      .selectAll("tokens")
      .select([
        "environments.site_id as site_id",
        "environments.name as environment_name",
        "sites.name as site_name",
        "users.email as user_email",
      ]);
  }

  async findTokenByHash(hash: string): Promise<TokenRow | undefined> {
    const row = await this.#tokens().where("tokens.hash", "=", hash).executeTakeFirst();
    return row && toToken(row);
  }

  async findTokenById(id: string): Promise<TokenRow | undefined> {
    const row = await this.#tokens().where("tokens.id", "=", id).executeTakeFirst();
    return row && toToken(row);
  }

  async listTokens(filter: { userId?: string; siteId?: string } & PageRequest): Promise<TokenRow[]> {
    let q = this.#tokens().orderBy("tokens.id").limit(limitOf(filter));
    if (filter.after !== undefined) q = q.where("tokens.id", ">", filter.after);
    if (filter.userId !== undefined) q = q.where("tokens.user_id", "=", filter.userId);
    if (filter.siteId !== undefined) q = q.where("environments.site_id", "=", filter.siteId);
    return (await q.execute()).map(toToken);
  }

  async listUnrevokedSiteTokensMintedBy(filter: {
    createdBy: string;
    siteId?: string;
    orgId?: string;
  }): Promise<TokenRow[]> {
    let q = this.#tokens()
      .where("tokens.created_by", "=", filter.createdBy)
      .where("tokens.kind", "in", ["runtime", "build"])
      .where("tokens.revoked_at", "is", null)
      .orderBy("tokens.id")
      .limit(limitOf({ limit: 1000 }));
    if (filter.siteId !== undefined) q = q.where("environments.site_id", "=", filter.siteId);
    const { orgId } = filter;
    if (orgId !== undefined) {
      q = q.where((eb) =>
        eb.or([
          eb("sites.owner_org_id", "=", orgId),
          eb(
            "sites.id",
            "in",
            eb.selectFrom("site_supporting_orgs").select("site_id").where("org_id", "=", orgId),
          ),
        ]),
      );
    }
    return (await q.execute()).map(toToken);
  }

  async revokeToken(id: string, at: string): Promise<boolean> {
    const result = await this.context.db
      .updateTable("tokens")
      .set({ revoked_at: at })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async touchTokens(uses: ReadonlyArray<{ id: string; at: string }>): Promise<void> {
    // One statement per chunk: each token's time by `CASE id`, kept only when later than the stored one.
    for (let i = 0; i < uses.length; i += TOUCH_CHUNK) {
      const chunk = uses.slice(i, i + TOUCH_CHUNK);
      const at = sql<string>`(case ${sql.ref("id")} ${sql.join(
        chunk.map((use) => sql`when ${use.id} then ${use.at}`),
        sql` `,
      )} end)`;
      await this.context.db
        .updateTable("tokens")
        .set({ last_used_at: at })
        .where(
          "id",
          "in",
          chunk.map((use) => use.id),
        )
        .where((eb) => eb.or([eb("last_used_at", "is", null), eb("last_used_at", "<", at)]))
        .execute();
    }
  }
}

/** Tokens per last-use statement (5 parameters each). */
const TOUCH_CHUNK = 200;

function toToken(
  r: Selectable<Database["tokens"]> & {
    site_id: string | null;
    environment_name: string | null;
    site_name: string | null;
    user_email: string | null;
  },
): TokenRow {
  return {
    id: r.id,
    kind: r.kind as TokenKind,
    hash: r.hash,
    userId: r.user_id,
    userEmail: r.user_email,
    siteId: r.site_id,
    siteName: r.site_name,
    environmentId: r.environment_id,
    environmentName: r.environment_name,
    createdBy: r.created_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}
