import {
  canonicalScopes,
  LockboxError,
  type OwnerRef,
  SCOPE_ORDER,
  type Scope,
  type SecretType,
} from "@lockbox/core";
import type { CompiledQuery, InferResult, Kysely, Selectable } from "kysely";
import type { Database } from "../db/database.js";
import { type KyselyContext, now } from "../db/lockbox-db.js";
import type { StoreDialect } from "../db/ports.js";
import { preparedOnPostgres } from "../db/prepared-statements.js";
import type {
  NewSecret,
  OwnSiteSecrets,
  SecretRow,
  SecretStore,
  SiteSecrets,
  StoredSecret,
} from "./secret-store.js";

/** The `env` of a secret's base value in `secret_values`. */
const BASE_ENV = "";

/** {@link SecretStore} over Kysely. */
export class KyselySecretStore implements SecretStore {
  constructor(private readonly context: KyselyContext) {}

  async findSecret(owner: OwnerRef, name: string): Promise<SecretRow | undefined> {
    const { db } = this.context;
    const row = await db
      .selectFrom("secrets")
      .selectAll()
      .where(ownerColumn(owner), "=", owner.id)
      .where("name", "=", name)
      .executeTakeFirst();
    if (!row) return undefined;
    const envs = await db
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

  listSecrets(owner: OwnerRef): Promise<StoredSecret[]> {
    return listSecretsOn(this.context.db, owner);
  }

  loadSiteSecrets(siteId: string): Promise<SiteSecrets | undefined> {
    return this.context.consistent(async (conn) => {
      const site = await conn
        .selectFrom("sites")
        .select(["id", "owner_org_id"])
        .where("id", "=", siteId)
        .executeTakeFirst();
      if (!site) return undefined;
      const ownerOrgId = site.owner_org_id ?? undefined;
      const siteSecrets = await listSecretsOn(conn, { kind: "site", id: site.id });
      const orgSecrets = ownerOrgId ? await listSecretsOn(conn, { kind: "org", id: ownerOrgId }) : [];
      return { siteId: site.id, ownerOrgId, siteSecrets, orgSecrets };
    });
  }

  async loadOwnSiteSecrets(siteId: string): Promise<OwnSiteSecrets | undefined> {
    // One statement, driven by the site's primary key and then the two owner indexes: it sees one
    // snapshot without a transaction (a round trip each for BEGIN and COMMIT on PostgreSQL).
    const { db, driver } = this.context;
    let compiled = OWN_SITE_QUERIES[driver.dialect];
    if (!compiled) {
      compiled = ownSiteStatement(db, driver.dialect);
      OWN_SITE_QUERIES[driver.dialect] = compiled;
    }
    const { rows } = await db.executeQuery<OwnSiteRow>({ ...compiled, parameters: [siteId] });
    const first = rows[0];
    if (!first) return undefined;
    const secrets = new Map<string, Selectable<Database["secrets"]>>();
    const values: Array<{ secret_id: string; env: string; ciphertext: Buffer }> = [];
    for (const row of rows) {
      if (row.id === null) continue;
      if (!secrets.has(row.id)) {
        secrets.set(row.id, {
          id: row.id,
          org_id: row.org_id,
          site_id: row.site_id,
          name: row.name as string,
          type: row.type as string,
          scopes: row.scopes as string,
          created_at: row.created_at as string,
          updated_at: row.updated_at as string,
        });
      }
      if (row.env !== null && row.ciphertext !== null) {
        values.push({ secret_id: row.id, env: row.env, ciphertext: row.ciphertext });
      }
    }
    return {
      siteId,
      ownerOrgId: first.owner_org_id ?? undefined,
      siteSecrets: groupSecrets([...secrets.values()], values),
    };
  }

  async insertSecret(secret: NewSecret): Promise<SecretRow> {
    const at = now();
    const row = {
      id: secret.id,
      org_id: secret.owner.kind === "org" ? secret.owner.id : null,
      site_id: secret.owner.kind === "site" ? secret.owner.id : null,
      name: secret.name,
      type: secret.type,
      scopes: storedScopes(secret.scopes),
      created_at: at,
      updated_at: at,
    };
    await this.context.write(`create secret '${secret.name}'`, () =>
      this.context.db.insertInto("secrets").values(row).execute(),
    );
    return toSecret(row, []);
  }

  async deleteSecret(secretId: string): Promise<boolean> {
    const result = await this.context.db.deleteFrom("secrets").where("id", "=", secretId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async findValue(secretId: string, env: string | null): Promise<Buffer | undefined> {
    const row = await this.context.db
      .selectFrom("secret_values")
      .select("ciphertext")
      .where("secret_id", "=", secretId)
      .where("env", "=", env ?? BASE_ENV)
      .executeTakeFirst();
    return row?.ciphertext;
  }

  async putValue(secretId: string, env: string | null, sealed: Buffer): Promise<void> {
    const at = now();
    const { db } = this.context;
    await this.context.write("store the value", async () => {
      // The value names its secret's owner (the key SQLite clusters a site's values by), read from
      // the secret itself rather than trusted from the caller.
      const secret = await db
        .selectFrom("secrets")
        .select(["org_id", "site_id"])
        .where("id", "=", secretId)
        .executeTakeFirst();
      if (!secret) {
        throw new LockboxError("CONFLICT", "Cannot store the value: its secret no longer exists.");
      }
      await db
        .insertInto("secret_values")
        .values({
          owner_id: ownerOfRow(secret).id,
          secret_id: secretId,
          env: env ?? BASE_ENV,
          ciphertext: sealed,
          updated_at: at,
        })
        .onConflict((oc) =>
          oc.columns(["secret_id", "env"]).doUpdateSet({ ciphertext: sealed, updated_at: at }),
        )
        .execute();
      await db.updateTable("secrets").set({ updated_at: at }).where("id", "=", secretId).execute();
    });
  }

  async deleteOverride(secretId: string, env: string): Promise<boolean> {
    if (env === BASE_ENV) return false;
    const result = await this.context.db
      .deleteFrom("secret_values")
      .where("secret_id", "=", secretId)
      .where("env", "=", env)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}

/**
 * The statement of `loadOwnSiteSecrets`, compiled once per dialect (building and compiling a Kysely
 * query costs about as much as running this one); its one parameter is the site's id. On SQLite the
 * site is read from the covering index `sites_owner_rows` (migration 0009), named with `INDEXED BY`:
 * the planner picks it only when `ANALYZE` has run since it was made, and otherwise reads the primary
 * key's index and then the row. On PostgreSQL it is prepared on each connection, planned once.
 */
export function ownSiteStatement(db: Kysely<Database>, dialect: StoreDialect): CompiledQuery<OwnSiteRow> {
  const compiled = ownSiteQuery(db).compile();
  if (dialect === "postgres") return preparedOnPostgres(compiled);
  const from = 'from "sites" ';
  if (!compiled.sql.includes(from)) throw new Error(`ownSiteQuery no longer reads ${from}`);
  return { ...compiled, sql: compiled.sql.replace(from, 'from "sites" indexed by "sites_owner_rows" ') };
}

function ownSiteQuery(db: Kysely<Database>) {
  return (
    db
      .selectFrom("sites")
      .leftJoin("secrets", "secrets.site_id", "sites.id")
      // By owner and secret: on SQLite the values are clustered by owner, so a site's are one range.
      .leftJoin("secret_values", (join) =>
        join
          .onRef("secret_values.owner_id", "=", "sites.id")
          .onRef("secret_values.secret_id", "=", "secrets.id"),
      )
      .select([
        "sites.owner_org_id as owner_org_id",
        "secrets.id as id",
        "secrets.org_id as org_id",
        "secrets.site_id as site_id",
        "secrets.name as name",
        "secrets.type as type",
        "secrets.scopes as scopes",
        "secrets.created_at as created_at",
        "secrets.updated_at as updated_at",
        "secret_values.env as env",
        "secret_values.ciphertext as ciphertext",
      ])
      .where("sites.id", "=", "")
  );
}
type OwnSiteRow = InferResult<ReturnType<typeof ownSiteQuery>>[number];
const OWN_SITE_QUERIES: Partial<Record<StoreDialect, CompiledQuery<OwnSiteRow>>> = {};

async function listSecretsOn(db: Kysely<Database>, owner: OwnerRef): Promise<StoredSecret[]> {
  // Two index lookups rather than a join: a join's plan depends on table statistics, and a
  // PostgreSQL without them (a fresh import, autovacuum off) scans every value of every site.
  const secrets = await db
    .selectFrom("secrets")
    .selectAll()
    .where(ownerColumn(owner), "=", owner.id)
    .execute();
  if (secrets.length === 0) return [];
  const values = await db
    .selectFrom("secret_values")
    .select(["secret_id", "env", "ciphertext"])
    .where("owner_id", "=", owner.id)
    .where(
      "secret_id",
      "in",
      secrets.map((s) => s.id),
    )
    .execute();
  return groupSecrets(secrets, values);
}

function ownerColumn(owner: OwnerRef): "org_id" | "site_id" {
  return owner.kind === "org" ? "org_id" : "site_id";
}

/** Scopes as stored: canonical order, comma-separated without spaces (`web,user`). */
export function storedScopes(scopes: readonly Scope[]): string {
  return canonicalScopes(scopes).join(",");
}

export function parseStoredScopes(stored: string): Scope[] {
  const parts = stored.split(",");
  return SCOPE_ORDER.filter((s) => parts.includes(s));
}

/** The owner of a row that names it by `org_id` or `site_id` (exactly one is set). */
export function ownerOfRow(r: { readonly org_id: string | null; readonly site_id: string | null }): OwnerRef {
  return r.org_id !== null ? { kind: "org", id: r.org_id } : { kind: "site", id: r.site_id ?? "" };
}

function toSecret(r: Selectable<Database["secrets"]>, overrideEnvs: string[]): SecretRow {
  return {
    id: r.id,
    owner: ownerOfRow(r),
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
