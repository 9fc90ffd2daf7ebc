import { randomUUID } from "node:crypto";
import { LockboxError, type OwnerRef, SCOPE_ORDER, type Scope, type SecretType } from "@lockbox/core";
import { type Kysely, type Selectable, sql } from "kysely";
import { auditEventHash, GENESIS_HASH } from "../audit/audit-hash.js";
import type { Database } from "./database.js";
import type {
  AuditEvent,
  AuditEventInput,
  AuditFilter,
  AuditOutcome,
  EnvironmentKind,
  EnvironmentRow,
  MemberRow,
  MembershipRow,
  NewOrg,
  NewSecret,
  NewSite,
  NewToken,
  NewUser,
  OrgRole,
  OrgRow,
  PageRequest,
  SecretRow,
  SecretStore,
  SiteOwner,
  SiteRow,
  SiteSecrets,
  StoreChange,
  StoreDialect,
  StoredSecret,
  StoreQueries,
  StoreTx,
  TokenKind,
  TokenRow,
  UserRow,
  WrappedDataKey,
  WrappedDataKeyRecord,
} from "./secret-store.js";

const STANDARD_ENVIRONMENTS = ["dev", "test", "live"] as const;
const AUDIT_HEAD_KEY = "audit.head";
const BASE_ENV = "";

const now = (): string => new Date().toISOString();

/** How a dialect runs a write transaction, a consistent read, and maps its errors. */
export interface DialectDriver {
  readonly dialect: StoreDialect;
  /** Runs `fn` on one connection inside a write transaction (SQLite: `BEGIN IMMEDIATE`). */
  writeTransaction<T>(db: Kysely<Database>, fn: (conn: Kysely<Database>) => Promise<T>): Promise<T>;
  /** Runs `fn` so that all its reads see one snapshot. */
  consistentRead<T>(db: Kysely<Database>, fn: (conn: Kysely<Database>) => Promise<T>): Promise<T>;
  /** Locks one row of `table` by id for the rest of the transaction; false when the row is absent. */
  lockRow(conn: Kysely<Database>, table: "orgs" | "sites", id: string): Promise<boolean>;
  /** Serializes audit appends across every process on the database. */
  lockAudit(conn: Kysely<Database>): Promise<void>;
  /** Tells other processes about a change when the transaction commits (PostgreSQL NOTIFY). */
  notify(conn: Kysely<Database>, change: StoreChange): Promise<void>;
  /** The constraint a driver error broke, if it is a constraint error. */
  constraintOf(error: unknown): "unique" | "foreign-key" | "check" | undefined;
  /** Frees the dialect's resources (pool, file lock). */
  destroy(db: Kysely<Database>): Promise<void>;
}

/** Every query of the port over one Kysely executor: the store's pool or a transaction's connection. */
class KyselyQueries implements StoreQueries {
  constructor(
    protected readonly db: Kysely<Database>,
    protected readonly driver: DialectDriver,
  ) {}

  /** Runs a write and turns constraint violations into CONFLICT errors that name no value. */
  protected async write<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const constraint = this.driver.constraintOf(error);
      if (constraint === "unique") {
        throw new LockboxError("CONFLICT", `Cannot ${what}: it already exists.`, { cause: error });
      }
      if (constraint === "foreign-key") {
        throw new LockboxError(
          "CONFLICT",
          `Cannot ${what}: another record depends on it or it no longer exists.`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }

  // --- metadata -------------------------------------------------------------------------------
  async getMeta(key: string): Promise<string | undefined> {
    const row = await this.db.selectFrom("meta").select("value").where("key", "=", key).executeTakeFirst();
    return row?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db
      .insertInto("meta")
      .values({ key, value })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
      .execute();
  }

  // --- users ----------------------------------------------------------------------------------
  async insertUser(user: NewUser): Promise<UserRow> {
    const row = {
      id: user.id,
      email: user.email.toLowerCase(),
      is_admin: user.isAdmin ? 1 : 0,
      created_at: now(),
    };
    await this.write(`create user '${row.email}'`, () => this.db.insertInto("users").values(row).execute());
    return toUser(row);
  }

  async findUserById(id: string): Promise<UserRow | undefined> {
    const row = await this.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toUser(row);
  }

  async findUserByEmail(email: string): Promise<UserRow | undefined> {
    const row = await this.db
      .selectFrom("users")
      .selectAll()
      .where("email", "=", email.toLowerCase())
      .executeTakeFirst();
    return row && toUser(row);
  }

  async listUsers(page: PageRequest): Promise<UserRow[]> {
    let q = this.db.selectFrom("users").selectAll().orderBy("email").limit(limitOf(page));
    if (page.after !== undefined) q = q.where("email", ">", page.after);
    return (await q.execute()).map(toUser);
  }

  async findFirstAdmin(): Promise<UserRow | undefined> {
    const row = await this.db
      .selectFrom("users")
      .selectAll()
      .where("is_admin", "=", 1)
      .orderBy("created_at")
      .orderBy("id")
      .executeTakeFirst();
    return row && toUser(row);
  }

  // --- organizations --------------------------------------------------------------------------
  async insertOrg(org: NewOrg): Promise<OrgRow> {
    const row = {
      id: org.id,
      name: org.name,
      data_key: org.dataKey.wrapped,
      data_key_master_id: org.dataKey.masterKeyId,
      created_at: now(),
    };
    await this.write(`create organization '${org.name}'`, () =>
      this.db.insertInto("orgs").values(row).execute(),
    );
    return toOrg(row);
  }

  async findOrgById(id: string): Promise<OrgRow | undefined> {
    const row = await this.db.selectFrom("orgs").select(ORG_COLUMNS).where("id", "=", id).executeTakeFirst();
    return row && toOrg(row);
  }

  async findOrgByName(name: string): Promise<OrgRow | undefined> {
    const row = await this.db
      .selectFrom("orgs")
      .select(ORG_COLUMNS)
      .where("name", "=", name)
      .executeTakeFirst();
    return row && toOrg(row);
  }

  async listOrgs(filter: { memberUserId?: string } & PageRequest): Promise<OrgRow[]> {
    let q = this.db.selectFrom("orgs").select(ORG_COLUMNS).orderBy("name").limit(limitOf(filter));
    if (filter.after !== undefined) q = q.where("name", ">", filter.after);
    if (filter.memberUserId !== undefined) {
      const userId = filter.memberUserId;
      q = q.where((eb) =>
        eb.exists(
          eb
            .selectFrom("memberships")
            .select("memberships.org_id")
            .whereRef("memberships.org_id", "=", "orgs.id")
            .where("memberships.user_id", "=", userId),
        ),
      );
    }
    return (await q.execute()).map(toOrg);
  }

  async countSitesOwnedByOrg(orgId: string): Promise<number> {
    const row = await this.db
      .selectFrom("sites")
      .select((eb) => eb.fn.countAll().as("n"))
      .where("owner_org_id", "=", orgId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async deleteOrg(orgId: string): Promise<boolean> {
    const result = await this.write("delete the organization", () =>
      this.db.deleteFrom("orgs").where("id", "=", orgId).executeTakeFirst(),
    );
    return result.numDeletedRows > 0n;
  }

  // --- memberships ----------------------------------------------------------------------------
  async upsertMembership(orgId: string, userId: string, role: OrgRole): Promise<MembershipRow> {
    const row = { org_id: orgId, user_id: userId, role, created_at: now() };
    await this.write("add the member", () =>
      this.db
        .insertInto("memberships")
        .values(row)
        .onConflict((oc) => oc.columns(["org_id", "user_id"]).doUpdateSet({ role }))
        .execute(),
    );
    const stored = await this.findMembership(orgId, userId);
    if (!stored) throw new LockboxError("INTERNAL", "The membership was not stored.");
    return stored;
  }

  async findMembership(orgId: string, userId: string): Promise<MembershipRow | undefined> {
    const row = await this.db
      .selectFrom("memberships")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return row && toMembership(row);
  }

  async deleteMembership(orgId: string, userId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom("memberships")
      .where("org_id", "=", orgId)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async listMemberships(orgId: string): Promise<MemberRow[]> {
    const rows = await this.db
      .selectFrom("memberships")
      .innerJoin("users", "users.id", "memberships.user_id")
      .selectAll("memberships")
      .select("users.email")
      .where("memberships.org_id", "=", orgId)
      .orderBy("users.email")
      .execute();
    return rows.map((r) => ({ ...toMembership(r), email: r.email }));
  }

  // --- sites ----------------------------------------------------------------------------------
  async insertSite(site: NewSite): Promise<SiteRow> {
    const at = now();
    const row = {
      id: site.id,
      name: site.name,
      owner_org_id: site.owner.orgId ?? null,
      owner_user_id: site.owner.userId ?? null,
      data_key: site.dataKey.wrapped,
      data_key_master_id: site.dataKey.masterKeyId,
      created_at: at,
    };
    await this.write(`create site '${site.name}'`, async () => {
      await this.db.insertInto("sites").values(row).execute();
      await this.db
        .insertInto("environments")
        .values(
          STANDARD_ENVIRONMENTS.map((name) => ({
            id: randomUUID(),
            site_id: site.id,
            name,
            kind: "standard",
            created_at: at,
          })),
        )
        .execute();
    });
    return toSite(row);
  }

  async findSiteById(id: string): Promise<SiteRow | undefined> {
    const row = await this.db
      .selectFrom("sites")
      .select(SITE_COLUMNS)
      .where("id", "=", id)
      .executeTakeFirst();
    return row && toSite(row);
  }

  async findSiteByName(name: string): Promise<SiteRow | undefined> {
    const row = await this.db
      .selectFrom("sites")
      .select(SITE_COLUMNS)
      .where("name", "=", name)
      .executeTakeFirst();
    return row && toSite(row);
  }

  async listSites(filter: { visibleToUserId?: string; orgId?: string } & PageRequest): Promise<SiteRow[]> {
    let q = this.db.selectFrom("sites").select(SITE_COLUMNS).orderBy("name").limit(limitOf(filter));
    if (filter.after !== undefined) q = q.where("name", ">", filter.after);
    if (filter.orgId !== undefined) {
      const orgId = filter.orgId;
      q = q.where((eb) =>
        eb.or([
          eb("owner_org_id", "=", orgId),
          eb.exists(
            eb
              .selectFrom("site_supporting_orgs")
              .select("site_supporting_orgs.site_id")
              .whereRef("site_supporting_orgs.site_id", "=", "sites.id")
              .where("site_supporting_orgs.org_id", "=", orgId),
          ),
        ]),
      );
    }
    if (filter.visibleToUserId !== undefined) {
      const userId = filter.visibleToUserId;
      q = q.where((eb) =>
        eb.or([
          eb("owner_user_id", "=", userId),
          eb.exists(
            eb
              .selectFrom("site_team")
              .select("site_team.site_id")
              .whereRef("site_team.site_id", "=", "sites.id")
              .where("site_team.user_id", "=", userId),
          ),
          eb.exists(
            eb
              .selectFrom("memberships")
              .select("memberships.org_id")
              .whereRef("memberships.org_id", "=", "sites.owner_org_id")
              .where("memberships.user_id", "=", userId),
          ),
          eb.exists(
            eb
              .selectFrom("site_supporting_orgs")
              .innerJoin("memberships", "memberships.org_id", "site_supporting_orgs.org_id")
              .select("site_supporting_orgs.site_id")
              .whereRef("site_supporting_orgs.site_id", "=", "sites.id")
              .where("memberships.user_id", "=", userId),
          ),
        ]),
      );
    }
    return (await q.execute()).map(toSite);
  }

  async updateSiteOwner(siteId: string, owner: SiteOwner): Promise<boolean> {
    return this.write("transfer the site", async () => {
      const result = await this.db
        .updateTable("sites")
        .set({ owner_org_id: owner.orgId ?? null, owner_user_id: owner.userId ?? null })
        .where("id", "=", siteId)
        .executeTakeFirst();
      if (owner.orgId !== undefined) await this.removeSupportingOrg(siteId, owner.orgId);
      return result.numUpdatedRows > 0n;
    });
  }

  async deleteSite(siteId: string): Promise<boolean> {
    const result = await this.db.deleteFrom("sites").where("id", "=", siteId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async addSupportingOrg(siteId: string, orgId: string): Promise<void> {
    await this.write("add the supporting organization", () =>
      this.db
        .insertInto("site_supporting_orgs")
        .values({ site_id: siteId, org_id: orgId })
        .onConflict((oc) => oc.doNothing())
        .execute(),
    );
  }

  async removeSupportingOrg(siteId: string, orgId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom("site_supporting_orgs")
      .where("site_id", "=", siteId)
      .where("org_id", "=", orgId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async listSupportingOrgs(siteId: string): Promise<OrgRow[]> {
    const rows = await this.db
      .selectFrom("site_supporting_orgs")
      .innerJoin("orgs", "orgs.id", "site_supporting_orgs.org_id")
      .select(["orgs.id", "orgs.name", "orgs.created_at"])
      .where("site_supporting_orgs.site_id", "=", siteId)
      .orderBy("orgs.name")
      .execute();
    return rows.map(toOrg);
  }

  async addTeamMember(siteId: string, userId: string): Promise<void> {
    await this.write("add the team member", () =>
      this.db
        .insertInto("site_team")
        .values({ site_id: siteId, user_id: userId })
        .onConflict((oc) => oc.doNothing())
        .execute(),
    );
  }

  async removeTeamMember(siteId: string, userId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom("site_team")
      .where("site_id", "=", siteId)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async listTeamMembers(siteId: string): Promise<UserRow[]> {
    const rows = await this.db
      .selectFrom("site_team")
      .innerJoin("users", "users.id", "site_team.user_id")
      .selectAll("users")
      .where("site_team.site_id", "=", siteId)
      .orderBy("users.email")
      .execute();
    return rows.map(toUser);
  }

  async isTeamMember(siteId: string, userId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom("site_team")
      .select("site_id")
      .where("site_id", "=", siteId)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return row !== undefined;
  }

  // --- environments ---------------------------------------------------------------------------
  async insertEnvironment(siteId: string, name: string): Promise<EnvironmentRow> {
    const row = { id: randomUUID(), site_id: siteId, name, kind: "multidev", created_at: now() };
    await this.write(`create environment '${name}'`, () =>
      this.db.insertInto("environments").values(row).execute(),
    );
    return toEnvironment(row);
  }

  async findEnvironment(siteId: string, name: string): Promise<EnvironmentRow | undefined> {
    const row = await this.db
      .selectFrom("environments")
      .selectAll()
      .where("site_id", "=", siteId)
      .where("name", "=", name)
      .executeTakeFirst();
    return row && toEnvironment(row);
  }

  async listEnvironments(siteId: string): Promise<EnvironmentRow[]> {
    const rows = await this.db.selectFrom("environments").selectAll().where("site_id", "=", siteId).execute();
    const order = (e: { kind: string; name: string }) =>
      e.kind === "standard" ? STANDARD_ENVIRONMENTS.indexOf(e.name as "dev") : STANDARD_ENVIRONMENTS.length;
    return rows
      .sort((a, b) => order(a) - order(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(toEnvironment);
  }

  async deleteEnvironment(siteId: string, name: string): Promise<boolean> {
    await this.db
      .deleteFrom("secret_values")
      .where("env", "=", name)
      .where("secret_id", "in", (eb) => eb.selectFrom("secrets").select("id").where("site_id", "=", siteId))
      .execute();
    // Tokens bound to the environment go with it (ON DELETE CASCADE).
    const result = await this.db
      .deleteFrom("environments")
      .where("site_id", "=", siteId)
      .where("name", "=", name)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  // --- data keys ------------------------------------------------------------------------------
  async findDataKey(owner: OwnerRef): Promise<WrappedDataKey | undefined> {
    const table = ownerTable(owner);
    const row = await this.db
      .selectFrom(table)
      .select(["data_key", "data_key_master_id"])
      .where("id", "=", owner.id)
      .executeTakeFirst();
    return row && { wrapped: row.data_key, masterKeyId: row.data_key_master_id };
  }

  async listDataKeysNotWrappedBy(masterKeyId: string, limit: number): Promise<WrappedDataKeyRecord[]> {
    const records: WrappedDataKeyRecord[] = [];
    for (const kind of ["org", "site"] as const) {
      if (records.length >= limit) break;
      const rows = await this.db
        .selectFrom(ownerTable({ kind, id: "" }))
        .select(["id", "data_key", "data_key_master_id"])
        .where("data_key_master_id", "<>", masterKeyId)
        .orderBy("id")
        .limit(limit - records.length)
        .execute();
      for (const r of rows) {
        records.push({ owner: { kind, id: r.id }, wrapped: r.data_key, masterKeyId: r.data_key_master_id });
      }
    }
    return records;
  }

  async replaceWrappedDataKey(
    owner: OwnerRef,
    expected: Buffer,
    next: Buffer,
    masterKeyId: string,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable(ownerTable(owner))
      .set({ data_key: next, data_key_master_id: masterKeyId })
      .where("id", "=", owner.id)
      .where("data_key", "=", expected)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async countDataKeys(): Promise<number> {
    const orgs = await this.db
      .selectFrom("orgs")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    const sites = await this.db
      .selectFrom("sites")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    return Number(orgs.n) + Number(sites.n);
  }

  // --- secrets --------------------------------------------------------------------------------
  async findSecret(owner: OwnerRef, name: string): Promise<SecretRow | undefined> {
    const row = await this.db
      .selectFrom("secrets")
      .selectAll()
      .where(ownerColumn(owner), "=", owner.id)
      .where("name", "=", name)
      .executeTakeFirst();
    if (!row) return undefined;
    const envs = await this.db
      .selectFrom("secret_values")
      .select("env")
      .where("secret_id", "=", row.id)
      .where("env", "<>", BASE_ENV)
      .orderBy("env")
      .execute();
    return toSecret(
      row,
      envs.map((e) => e.env),
    );
  }

  async listSecrets(owner: OwnerRef): Promise<StoredSecret[]> {
    // Two index lookups rather than a join: a join's plan depends on table statistics, and a
    // PostgreSQL without them (a fresh import, autovacuum off) scans every value of every site.
    const secrets = await this.db
      .selectFrom("secrets")
      .selectAll()
      .where(ownerColumn(owner), "=", owner.id)
      .execute();
    if (secrets.length === 0) return [];
    const values = await this.db
      .selectFrom("secret_values")
      .select(["secret_id", "env", "ciphertext"])
      .where(
        "secret_id",
        "in",
        secrets.map((s) => s.id),
      )
      .execute();
    return groupSecrets(secrets, values);
  }

  /** Runs reads on one snapshot; inside a transaction the transaction already is one. */
  protected consistent<T>(fn: (conn: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.driver.consistentRead(this.db, fn);
  }

  async loadSiteSecrets(siteId: string): Promise<SiteSecrets | undefined> {
    return this.consistent(async (conn) => {
      const reader = new KyselyQueries(conn, this.driver);
      const site = await reader.findSiteById(siteId);
      if (!site) return undefined;
      const ownerOrg = site.ownerOrgId === null ? undefined : await reader.findOrgById(site.ownerOrgId);
      const siteSecrets = await reader.listSecrets({ kind: "site", id: site.id });
      const orgSecrets = ownerOrg ? await reader.listSecrets({ kind: "org", id: ownerOrg.id }) : [];
      return { site, ownerOrg, siteSecrets, orgSecrets };
    });
  }

  async insertSecret(secret: NewSecret): Promise<SecretRow> {
    const at = now();
    const row = {
      id: secret.id,
      org_id: secret.owner.kind === "org" ? secret.owner.id : null,
      site_id: secret.owner.kind === "site" ? secret.owner.id : null,
      name: secret.name,
      type: secret.type,
      scopes: formatScopes(secret.scopes),
      created_at: at,
      updated_at: at,
    };
    await this.write(`create secret '${secret.name}'`, () =>
      this.db.insertInto("secrets").values(row).execute(),
    );
    return toSecret(row, []);
  }

  async deleteSecret(secretId: string): Promise<boolean> {
    const result = await this.db.deleteFrom("secrets").where("id", "=", secretId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async putValue(secretId: string, env: string | null, sealed: Buffer): Promise<void> {
    const at = now();
    await this.write("store the value", async () => {
      await this.db
        .insertInto("secret_values")
        .values({ secret_id: secretId, env: env ?? BASE_ENV, ciphertext: sealed, updated_at: at })
        .onConflict((oc) =>
          oc.columns(["secret_id", "env"]).doUpdateSet({ ciphertext: sealed, updated_at: at }),
        )
        .execute();
      await this.db.updateTable("secrets").set({ updated_at: at }).where("id", "=", secretId).execute();
    });
  }

  async deleteOverride(secretId: string, env: string): Promise<boolean> {
    if (env === BASE_ENV) return false;
    const result = await this.db
      .deleteFrom("secret_values")
      .where("secret_id", "=", secretId)
      .where("env", "=", env)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  // --- tokens ---------------------------------------------------------------------------------
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
    await this.write("create the token", () => this.db.insertInto("tokens").values(row).execute());
    const stored = await this.findTokenById(token.id);
    if (!stored) throw new LockboxError("INTERNAL", "The token was not stored.");
    return stored;
  }

  private tokenQuery() {
    return this.db
      .selectFrom("tokens")
      .leftJoin("environments", "environments.id", "tokens.environment_id")
      .selectAll("tokens")
      .select(["environments.site_id as site_id", "environments.name as environment_name"]);
  }

  async findTokenByHash(hash: string): Promise<TokenRow | undefined> {
    const row = await this.tokenQuery().where("tokens.hash", "=", hash).executeTakeFirst();
    return row && toToken(row);
  }

  async findTokenById(id: string): Promise<TokenRow | undefined> {
    const row = await this.tokenQuery().where("tokens.id", "=", id).executeTakeFirst();
    return row && toToken(row);
  }

  async listTokens(filter: { userId?: string; siteId?: string } & PageRequest): Promise<TokenRow[]> {
    let q = this.tokenQuery().orderBy("tokens.id").limit(limitOf(filter));
    if (filter.after !== undefined) q = q.where("tokens.id", ">", filter.after);
    if (filter.userId !== undefined) q = q.where("tokens.user_id", "=", filter.userId);
    if (filter.siteId !== undefined) q = q.where("environments.site_id", "=", filter.siteId);
    return (await q.execute()).map(toToken);
  }

  async revokeToken(id: string, at: string): Promise<boolean> {
    const result = await this.db
      .updateTable("tokens")
      .set({ revoked_at: at })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async touchTokens(uses: ReadonlyArray<{ id: string; at: string }>): Promise<void> {
    for (const use of uses) {
      await this.db
        .updateTable("tokens")
        .set({ last_used_at: use.at })
        .where("id", "=", use.id)
        .where((eb) => eb.or([eb("last_used_at", "is", null), eb("last_used_at", "<", use.at)]))
        .execute();
    }
  }

  // --- audit ----------------------------------------------------------------------------------
  async listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    let q = this.db.selectFrom("audit_events").selectAll().orderBy("seq", "desc").limit(limitOf(filter));
    if (filter.orgId !== undefined) q = q.where("org_id", "=", filter.orgId);
    if (filter.siteId !== undefined) q = q.where("site_id", "=", filter.siteId);
    if (filter.since !== undefined) q = q.where("at", ">=", filter.since);
    if (filter.beforeSeq !== undefined) q = q.where("seq", "<", filter.beforeSeq);
    return (await q.execute()).map(toAudit);
  }

  async readAuditChain(afterSeq: number, limit: number): Promise<AuditEvent[]> {
    const rows = await this.db
      .selectFrom("audit_events")
      .selectAll()
      .where("seq", ">", afterSeq)
      .orderBy("seq")
      .limit(limit)
      .execute();
    return rows.map(toAudit);
  }
}

/** The queries of one transaction, plus its locks and audit appends. */
class KyselyTx extends KyselyQueries implements StoreTx {
  /** Changes recorded in this transaction, published by the store after commit. */
  readonly changes: StoreChange[] = [];

  async recordChange(change: StoreChange): Promise<void> {
    this.changes.push(change);
    await this.driver.notify(this.db, change);
  }

  protected override consistent<T>(fn: (conn: Kysely<Database>) => Promise<T>): Promise<T> {
    return fn(this.db);
  }

  async lockOwner(owner: OwnerRef): Promise<boolean> {
    return this.driver.lockRow(this.db, ownerTable(owner), owner.id);
  }

  async appendAudit(input: AuditEventInput): Promise<AuditEvent> {
    await this.driver.lockAudit(this.db);
    const last = await this.db
      .selectFrom("audit_events")
      .select(["seq", "hash"])
      .orderBy("seq", "desc")
      .limit(1)
      .executeTakeFirst();
    const unhashed = {
      seq: last ? Number(last.seq) + 1 : 1,
      id: randomUUID(),
      at: input.at ?? now(),
      actor: input.actor,
      action: input.action,
      target: input.target,
      environment: input.environment ?? null,
      orgId: input.orgId ?? null,
      siteId: input.siteId ?? null,
      outcome: input.outcome,
      requestId: input.requestId ?? null,
      prevHash: last?.hash ?? GENESIS_HASH,
    };
    const event: AuditEvent = { ...unhashed, hash: auditEventHash(unhashed) };
    await this.db
      .insertInto("audit_events")
      .values({
        seq: event.seq,
        id: event.id,
        at: event.at,
        actor: event.actor,
        action: event.action,
        target: event.target,
        environment: event.environment,
        org_id: event.orgId,
        site_id: event.siteId,
        outcome: event.outcome,
        request_id: event.requestId,
        prev_hash: event.prevHash,
        hash: event.hash,
      })
      .execute();
    await this.setMeta(AUDIT_HEAD_KEY, `${event.seq}:${event.hash}`);
    return event;
  }
}

/**
 * The {@link SecretStore} over Kysely, for SQLite and PostgreSQL alike. Dialect differences live in
 * the {@link DialectDriver}: how a write transaction starts, how a row is locked, how errors read.
 */
export class KyselyStore extends KyselyQueries implements SecretStore {
  readonly dialect: StoreDialect;

  constructor(db: Kysely<Database>, driver: DialectDriver) {
    super(db, driver);
    this.dialect = driver.dialect;
  }

  /** The Kysely instance, for migrations and for tests that inspect rows below the port. */
  get kysely(): Kysely<Database> {
    return this.db;
  }

  readonly #listeners = new Set<(change: StoreChange) => void>();

  async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    let changes: StoreChange[] = [];
    const result = await this.driver.writeTransaction(this.db, (conn) => {
      const tx = new KyselyTx(conn, this.driver);
      changes = tx.changes;
      return fn(tx);
    });
    for (const change of changes) this.emitChange(change);
    return result;
  }

  onChange(listener: (change: StoreChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Gives `change` to every listener; a listener's error never reaches the writer. */
  emitChange(change: StoreChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch {
        // Listeners are cache invalidations; they must not fail a committed write.
      }
    }
  }

  async ping(): Promise<boolean> {
    try {
      await sql`select 1`.execute(this.db);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.driver.destroy(this.db);
  }
}

/** The audit chain head recorded with every append, `"<seq>:<hash>"`, so truncation is visible. */
export const AUDIT_HEAD_META_KEY = AUDIT_HEAD_KEY;

// --- row mapping ----------------------------------------------------------------------------------

const ORG_COLUMNS = ["id", "name", "created_at"] as const;
const SITE_COLUMNS = ["id", "name", "owner_org_id", "owner_user_id", "created_at"] as const;

function limitOf(page: { limit?: number | undefined }): number {
  const limit = page.limit ?? 100;
  return Math.max(1, Math.min(1000, Math.trunc(limit)));
}

function ownerTable(owner: OwnerRef): "orgs" | "sites" {
  return owner.kind === "org" ? "orgs" : "sites";
}

function ownerColumn(owner: OwnerRef): "org_id" | "site_id" {
  return owner.kind === "org" ? "org_id" : "site_id";
}

function formatScopes(scopes: readonly Scope[]): string {
  return SCOPE_ORDER.filter((s) => scopes.includes(s)).join(",");
}

function parseStoredScopes(stored: string): Scope[] {
  const parts = stored.split(",");
  return SCOPE_ORDER.filter((s) => parts.includes(s));
}

function toUser(r: Selectable<Database["users"]>): UserRow {
  return { id: r.id, email: r.email, isAdmin: Number(r.is_admin) === 1, createdAt: r.created_at };
}

function toOrg(r: { id: string; name: string; created_at: string }): OrgRow {
  return { id: r.id, name: r.name, createdAt: r.created_at };
}

function toMembership(r: Selectable<Database["memberships"]>): MembershipRow {
  return { orgId: r.org_id, userId: r.user_id, role: r.role as OrgRole, createdAt: r.created_at };
}

function toSite(r: {
  id: string;
  name: string;
  owner_org_id: string | null;
  owner_user_id: string | null;
  created_at: string;
}): SiteRow {
  return {
    id: r.id,
    name: r.name,
    ownerOrgId: r.owner_org_id,
    ownerUserId: r.owner_user_id,
    createdAt: r.created_at,
  };
}

function toEnvironment(r: Selectable<Database["environments"]>): EnvironmentRow {
  return {
    id: r.id,
    siteId: r.site_id,
    name: r.name,
    kind: r.kind as EnvironmentKind,
    createdAt: r.created_at,
  };
}

function toSecret(r: Selectable<Database["secrets"]>, overrideEnvs: string[]): SecretRow {
  const owner: OwnerRef =
    r.org_id !== null ? { kind: "org", id: r.org_id } : { kind: "site", id: r.site_id ?? "" };
  return {
    id: r.id,
    owner,
    name: r.name,
    type: r.type as SecretType,
    scopes: parseStoredScopes(r.scopes),
    overrideEnvs,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function groupSecrets(
  secrets: Array<Selectable<Database["secrets"]>>,
  values: Array<{ secret_id: string; env: string; ciphertext: Buffer }>,
): StoredSecret[] {
  const byId = new Map(
    secrets.map((row) => [
      row.id,
      { base: undefined as Buffer | undefined, overrides: new Map<string, Buffer>() },
    ]),
  );
  for (const value of values) {
    const entry = byId.get(value.secret_id);
    if (!entry) continue;
    if (value.env === BASE_ENV) entry.base = value.ciphertext;
    else entry.overrides.set(value.env, value.ciphertext);
  }
  const stored: StoredSecret[] = [];
  for (const row of secrets) {
    const entry = byId.get(row.id);
    // A secret and its base value are written in one transaction; without a base, the secret was
    // deleted between the two reads (outside a snapshot), so it is no longer there.
    if (!entry?.base) continue;
    const sortedEnvs = [...entry.overrides.keys()].sort();
    stored.push({
      ...toSecret(row, sortedEnvs),
      base: entry.base,
      overrides: new Map(sortedEnvs.map((env) => [env, entry.overrides.get(env) as Buffer])),
    });
  }
  return stored.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function toToken(
  r: Selectable<Database["tokens"]> & { site_id: string | null; environment_name: string | null },
): TokenRow {
  return {
    id: r.id,
    kind: r.kind as TokenKind,
    hash: r.hash,
    userId: r.user_id,
    siteId: r.site_id,
    environmentId: r.environment_id,
    environmentName: r.environment_name,
    createdBy: r.created_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

function toAudit(r: Selectable<Database["audit_events"]>): AuditEvent {
  return {
    seq: Number(r.seq),
    id: r.id,
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    environment: r.environment,
    orgId: r.org_id,
    siteId: r.site_id,
    outcome: r.outcome as AuditOutcome,
    requestId: r.request_id,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
