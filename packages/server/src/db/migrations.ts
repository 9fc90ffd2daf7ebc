import { type Kysely, type Migration, type MigrationProvider, sql } from "kysely";
import type { StoreDialect } from "./ports.js";

/**
 * The schema, as an ordered list of migrations that run at start. Kysely's migrator records what
 * ran in `kysely_migration` and, on PostgreSQL, holds an advisory lock while migrating, so several
 * servers starting together migrate once. Never edit a released migration: add the next one.
 *
 * Owners are real foreign keys (`org_id` / `site_id`, exactly one set) so deletions cascade in the
 * database: a site takes its environments, secrets, values and tokens with it; an org that still
 * owns a site cannot be deleted (RESTRICT). Base values are stored with `env = ''`.
 */
export function migrationProvider(dialect: StoreDialect): MigrationProvider {
  const bytes = dialect === "postgres" ? sql`bytea` : sql`blob`;
  const bigint = dialect === "postgres" ? sql`bigint` : sql`integer`;
  const migrations: Record<string, Migration> = {
    "0001-initial": {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("meta")
          .addColumn("key", "text", (c) => c.primaryKey())
          .addColumn("value", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("users")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("email", "text", (c) => c.notNull().unique())
          .addColumn("is_admin", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("created_at", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("orgs")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", (c) => c.notNull().unique())
          .addColumn("data_key", bytes, (c) => c.notNull())
          .addColumn("data_key_master_id", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("memberships")
          .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("role", "text", (c) => c.notNull().check(sql`role in ('admin', 'member')`))
          .addColumn("created_at", "text", (c) => c.notNull())
          .addPrimaryKeyConstraint("memberships_pk", ["org_id", "user_id"])
          .execute();
        await db.schema.createIndex("memberships_user").on("memberships").column("user_id").execute();
        await db.schema
          .createTable("sites")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", (c) => c.notNull().unique())
          .addColumn("owner_org_id", "text", (c) => c.references("orgs.id").onDelete("restrict"))
          .addColumn("owner_user_id", "text", (c) => c.references("users.id").onDelete("restrict"))
          .addColumn("data_key", bytes, (c) => c.notNull())
          .addColumn("data_key_master_id", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addCheckConstraint("sites_one_owner", sql`(owner_org_id is null) <> (owner_user_id is null)`)
          .execute();
        await db.schema.createIndex("sites_owner_org").on("sites").column("owner_org_id").execute();
        await db.schema.createIndex("sites_owner_user").on("sites").column("owner_user_id").execute();
        await db.schema
          .createTable("site_supporting_orgs")
          .addColumn("site_id", "text", (c) => c.notNull().references("sites.id").onDelete("cascade"))
          .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
          .addPrimaryKeyConstraint("site_supporting_orgs_pk", ["site_id", "org_id"])
          .execute();
        await db.schema
          .createIndex("site_supporting_orgs_org")
          .on("site_supporting_orgs")
          .column("org_id")
          .execute();
        await db.schema
          .createTable("site_team")
          .addColumn("site_id", "text", (c) => c.notNull().references("sites.id").onDelete("cascade"))
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addPrimaryKeyConstraint("site_team_pk", ["site_id", "user_id"])
          .execute();
        await db.schema.createIndex("site_team_user").on("site_team").column("user_id").execute();
        await db.schema
          .createTable("environments")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("site_id", "text", (c) => c.notNull().references("sites.id").onDelete("cascade"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('standard', 'multidev')`))
          .addColumn("created_at", "text", (c) => c.notNull())
          .addUniqueConstraint("environments_site_name", ["site_id", "name"])
          .execute();
        await db.schema
          .createTable("secrets")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.references("orgs.id").onDelete("cascade"))
          .addColumn("site_id", "text", (c) => c.references("sites.id").onDelete("cascade"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("type", "text", (c) => c.notNull().check(sql`type in ('runtime', 'env', 'composer')`))
          .addColumn("scopes", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("updated_at", "text", (c) => c.notNull())
          .addCheckConstraint("secrets_one_owner", sql`(org_id is null) <> (site_id is null)`)
          .addUniqueConstraint("secrets_org_name", ["org_id", "name"])
          .addUniqueConstraint("secrets_site_name", ["site_id", "name"])
          .execute();
        await db.schema
          .createTable("secret_values")
          .addColumn("secret_id", "text", (c) => c.notNull().references("secrets.id").onDelete("cascade"))
          .addColumn("env", "text", (c) => c.notNull())
          .addColumn("ciphertext", bytes, (c) => c.notNull())
          .addColumn("updated_at", "text", (c) => c.notNull())
          .addPrimaryKeyConstraint("secret_values_pk", ["secret_id", "env"])
          .execute();
        await db.schema
          .createTable("tokens")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('user', 'runtime', 'build')`))
          .addColumn("hash", "text", (c) => c.notNull().unique())
          .addColumn("user_id", "text", (c) => c.references("users.id").onDelete("cascade"))
          .addColumn("environment_id", "text", (c) => c.references("environments.id").onDelete("cascade"))
          .addColumn("created_by", "text")
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("expires_at", "text")
          .addColumn("last_used_at", "text")
          .addColumn("revoked_at", "text")
          .execute();
        await db.schema.createIndex("tokens_user").on("tokens").column("user_id").execute();
        await db.schema.createIndex("tokens_environment").on("tokens").column("environment_id").execute();
        await db.schema
          .createTable("audit_events")
          .addColumn("seq", bigint, (c) => c.primaryKey())
          .addColumn("id", "text", (c) => c.notNull().unique())
          .addColumn("at", "text", (c) => c.notNull())
          .addColumn("actor", "text", (c) => c.notNull())
          .addColumn("action", "text", (c) => c.notNull())
          .addColumn("target", "text", (c) => c.notNull())
          .addColumn("environment", "text")
          .addColumn("org_id", "text")
          .addColumn("site_id", "text")
          .addColumn("outcome", "text", (c) => c.notNull())
          .addColumn("request_id", "text")
          .addColumn("prev_hash", "text", (c) => c.notNull())
          .addColumn("hash", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("audit_events_org")
          .on("audit_events")
          .columns(["org_id", "seq"])
          .execute();
        await db.schema
          .createIndex("audit_events_site")
          .on("audit_events")
          .columns(["site_id", "seq"])
          .execute();
        await db.schema.createIndex("audit_events_at").on("audit_events").column("at").execute();
      },
    },
    // Every write to a value slot (a secret's base value or one override) adds a version. No foreign
    // key to `secrets`: a deleted secret's versions are kept (restore, retention); the owner's key
    // cascades, since without the owner's data key they could never be opened again.
    "0002-secret-versions": {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("secret_versions")
          .addColumn("secret_id", "text", (c) => c.notNull())
          .addColumn("env", "text", (c) => c.notNull())
          .addColumn("version", "integer", (c) => c.notNull())
          .addColumn("org_id", "text", (c) => c.references("orgs.id").onDelete("cascade"))
          .addColumn("site_id", "text", (c) => c.references("sites.id").onDelete("cascade"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("action", "text", (c) =>
            c.notNull().check(sql`action in ('set', 'delete', 'rollback', 'restore')`),
          )
          .addColumn("ciphertext", bytes)
          .addColumn("actor", "text", (c) => c.notNull())
          .addColumn("at", "text", (c) => c.notNull())
          .addCheckConstraint("secret_versions_one_owner", sql`(org_id is null) <> (site_id is null)`)
          .addPrimaryKeyConstraint("secret_versions_pk", ["secret_id", "env", "version"])
          .execute();
        await db.schema
          .createIndex("secret_versions_site")
          .on("secret_versions")
          .columns(["site_id", "name"])
          .execute();
        await db.schema
          .createIndex("secret_versions_org")
          .on("secret_versions")
          .columns(["org_id", "name"])
          .execute();
      },
    },
    // A deleted secret's metadata, kept (with its versions, by secret id) for the retention period so
    // that it can be restored; `envs` (a JSON array) names the overrides it had when deleted.
    "0003-deleted-secrets": {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("deleted_secrets")
          .addColumn("secret_id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.references("orgs.id").onDelete("cascade"))
          .addColumn("site_id", "text", (c) => c.references("sites.id").onDelete("cascade"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("type", "text", (c) => c.notNull())
          .addColumn("scopes", "text", (c) => c.notNull())
          .addColumn("envs", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("deleted_at", "text", (c) => c.notNull())
          .addColumn("deleted_by", "text", (c) => c.notNull())
          .addCheckConstraint("deleted_secrets_one_owner", sql`(org_id is null) <> (site_id is null)`)
          .execute();
        await db.schema
          .createIndex("deleted_secrets_site")
          .on("deleted_secrets")
          .columns(["site_id", "name"])
          .execute();
        await db.schema
          .createIndex("deleted_secrets_org")
          .on("deleted_secrets")
          .columns(["org_id", "name"])
          .execute();
        await db.schema
          .createIndex("deleted_secrets_at")
          .on("deleted_secrets")
          .column("deleted_at")
          .execute();
      },
    },
    // One-time sign-in links of the web dashboard (`lockbox ui`): stored as the hash of the link's
    // secret, like tokens; `used_at` makes a link single use. They go with their user.
    "0004-signin-links": {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("signin_links")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("hash", "text", (c) => c.notNull().unique())
          .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("expires_at", "text", (c) => c.notNull())
          .addColumn("used_at", "text")
          .execute();
        await db.schema.createIndex("signin_links_user").on("signin_links").column("user_id").execute();
      },
    },
    // A link made with an expiring token gives a session that ends no later than that token, so
    // that sessions cannot be chained into a credential that never expires.
    "0005-signin-link-session-limit": {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable("signin_links").addColumn("session_expires_at", "text").execute();
      },
    },
    // Deleting a multidev now deletes its overrides' history; this removes what earlier deletions left.
    "0006-deleted-multidev-history": {
      async up(db: Kysely<unknown>) {
        await deleteHistoryOfDeletedMultidevs(db, dialect);
      },
    },
    // The token that made a sign-in link: a link stops working when that token is revoked.
    "0007-signin-link-token": {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable("signin_links").addColumn("created_by_token_id", "text").execute();
      },
    },
    // Each value names its secret's owner (the site or org id; a secret never changes owner), so that
    // a site's values are read by one key range. On SQLite the table is rebuilt clustered by owner
    // (`WITHOUT ROWID`, primary key owner, secret, environment), and a site's secrets are read from a
    // covering index: a cold resolution reads one range of each instead of an index probe and a row
    // per secret (docs/architecture.md, "Measuring the cold path at 100,000 sites"). PostgreSQL keeps
    // its table and primary key and gains the column.
    "0008-values-by-owner": {
      async up(db: Kysely<unknown>) {
        if (dialect === "postgres") {
          await sql`alter table secret_values add column owner_id text`.execute(db);
          await sql`update secret_values set owner_id = coalesce(secrets.site_id, secrets.org_id)
            from secrets where secrets.id = secret_values.secret_id`.execute(db);
          await sql`alter table secret_values alter column owner_id set not null`.execute(db);
          // During a rolling upgrade, servers from before 0008 still insert values without an owner:
          // the owner is filled in from the secret, so their writes keep working and stay readable.
          await sql`create function secret_values_fill_owner() returns trigger language plpgsql as $$
            begin
              if new.owner_id is null then
                select coalesce(site_id, org_id) into new.owner_id from secrets where id = new.secret_id;
              end if;
              return new;
            end $$`.execute(db);
          await sql`create trigger secret_values_fill_owner before insert on secret_values
            for each row execute function secret_values_fill_owner()`.execute(db);
          return;
        }
        await sql`create table secret_values_by_owner (
          owner_id text not null,
          secret_id text not null references secrets (id) on delete cascade,
          env text not null,
          ciphertext blob not null,
          updated_at text not null,
          primary key (owner_id, secret_id, env)
        ) without rowid`.execute(db);
        await sql`insert into secret_values_by_owner (owner_id, secret_id, env, ciphertext, updated_at)
          select coalesce(secrets.site_id, secrets.org_id), secret_values.secret_id, secret_values.env,
            secret_values.ciphertext, secret_values.updated_at
          from secret_values join secrets on secrets.id = secret_values.secret_id`.execute(db);
        await sql`drop table secret_values`.execute(db);
        await sql`alter table secret_values_by_owner rename to secret_values`.execute(db);
        // The slot's key: upserts, a secret's deletion (the cascade) and reads of one slot use it.
        await sql`create unique index secret_values_slot on secret_values (secret_id, env)`.execute(db);
        await sql`create index secrets_site_rows
          on secrets (site_id, name, id, org_id, type, scopes, created_at, updated_at)`.execute(db);
      },
    },
    // On SQLite, a site's owner org is read from an index of its own (`ownSiteStatement` names it),
    // not the primary key's index and then the row: one page fewer per cold resolution, which on a
    // store of 100,000 sites is one read fewer outside the page cache.
    "0009-sites-owner-rows": {
      async up(db: Kysely<unknown>) {
        if (dialect === "postgres") return;
        await sql`create index sites_owner_rows on sites (id, owner_org_id)`.execute(db);
      },
    },
  };
  return { getMigrations: async () => migrations };
}

/**
 * Deletes the site versions of multidevs that no longer exist, or that were made again after the
 * version was written (a multidev deleted, and one of the same name made later: a new environment,
 * SPEC §1). Base values (`env = ''`) and `dev`, `test`, `live` are never touched, and a version
 * written up to 5 minutes before its multidev's creation is kept: servers' clocks may differ by that
 * much, and a recreated multidev's new history must not be lost to it.
 */
export async function deleteHistoryOfDeletedMultidevs(
  db: Kysely<unknown>,
  dialect: StoreDialect,
): Promise<void> {
  const writtenSinceCreated =
    dialect === "postgres"
      ? sql`secret_versions.at::timestamptz >= environments.created_at::timestamptz - interval '5 minutes'`
      : sql`julianday(secret_versions.at) >= julianday(environments.created_at) - 300.0 / 86400.0`;
  await sql`delete from secret_versions
    where site_id is not null and env not in ('', 'dev', 'test', 'live')
      and not exists (
        select 1 from environments
        where environments.site_id = secret_versions.site_id
          and environments.name = secret_versions.env
          and ${writtenSinceCreated}
      )`.execute(db);
}
