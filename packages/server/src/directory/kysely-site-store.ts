import { randomUUID } from "node:crypto";
import { LockboxError, STANDARD_ENVIRONMENTS } from "@lockbox/core";
import type { Selectable } from "kysely";
import type { Database } from "../db/database.js";
import { type KyselyContext, limitOf, now } from "../db/lockbox-db.js";
import type { PageRequest } from "../db/ports.js";
import type { EnvironmentStore, SiteStore } from "./directory-store.js";
import { toOrg, toUser } from "./kysely-user-org-store.js";
import type {
  EnvironmentKind,
  EnvironmentRow,
  NewSite,
  OrgRole,
  OrgRow,
  SiteOwner,
  SiteRelation,
  SiteRow,
  UserRow,
} from "./records.js";

/** {@link SiteStore} over Kysely: sites, their supporting orgs and their teams. */
export class KyselySiteStore implements SiteStore {
  constructor(private readonly context: KyselyContext) {}

  /** Sites with their owner's name (an org's name or a person's email), joined, never looked up one by one. */
  #sites() {
    return this.context.db
      .selectFrom("sites")
      .leftJoin("orgs", "orgs.id", "sites.owner_org_id")
      .leftJoin("users", "users.id", "sites.owner_user_id")
      .select([
        "sites.id",
        "sites.name",
        "sites.owner_org_id",
        "sites.owner_user_id",
        "sites.created_at",
        "orgs.name as owner_org_name",
        "users.email as owner_email",
      ]);
  }

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
    await this.context.write(`create site '${site.name}'`, async () => {
      await this.context.db.insertInto("sites").values(row).execute();
      await this.context.db
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
    const stored = await this.findSiteById(site.id);
    if (!stored) throw new LockboxError("INTERNAL", "The site was not stored.");
    return stored;
  }

  async findSiteById(id: string): Promise<SiteRow | undefined> {
    const row = await this.#sites().where("sites.id", "=", id).executeTakeFirst();
    return row && toSite(row);
  }

  async findSiteByName(name: string): Promise<SiteRow | undefined> {
    const row = await this.#sites().where("sites.name", "=", name).executeTakeFirst();
    return row && toSite(row);
  }

  async listSites(
    filter: { visibleToUserId?: string; orgId?: string; ownerOrgId?: string } & PageRequest,
  ): Promise<SiteRow[]> {
    let q = this.#sites().orderBy("sites.name").limit(limitOf(filter));
    if (filter.after !== undefined) q = q.where("sites.name", ">", filter.after);
    if (filter.ownerOrgId !== undefined) q = q.where("sites.owner_org_id", "=", filter.ownerOrgId);
    if (filter.orgId !== undefined) {
      const orgId = filter.orgId;
      q = q.where((eb) =>
        eb.or([
          eb("sites.owner_org_id", "=", orgId),
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
          eb("sites.owner_user_id", "=", userId),
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

  async siteRelation(siteId: string, userId: string): Promise<SiteRelation> {
    const row = await this.context.db
      .selectNoFrom((eb) => [
        eb
          .selectFrom("memberships")
          .innerJoin("sites", "sites.owner_org_id", "memberships.org_id")
          .select("memberships.role")
          .where("sites.id", "=", siteId)
          .where("memberships.user_id", "=", userId)
          .as("owner_org_role"),
        eb
          .exists(
            eb
              .selectFrom("site_supporting_orgs")
              .innerJoin("memberships", "memberships.org_id", "site_supporting_orgs.org_id")
              .select("site_supporting_orgs.site_id")
              .where("site_supporting_orgs.site_id", "=", siteId)
              .where("memberships.user_id", "=", userId),
          )
          .as("supporting_member"),
        eb
          .exists(
            eb
              .selectFrom("site_team")
              .select("site_team.site_id")
              .where("site_team.site_id", "=", siteId)
              .where("site_team.user_id", "=", userId),
          )
          .as("on_team"),
      ])
      .executeTakeFirstOrThrow();
    return {
      ownerOrgRole: (row.owner_org_role as OrgRole | null) ?? null,
      // SQLite answers EXISTS with 0/1, PostgreSQL with a boolean.
      supportingMember: Number(row.supporting_member) === 1,
      onTeam: Number(row.on_team) === 1,
    };
  }

  async updateSiteOwner(siteId: string, owner: SiteOwner): Promise<boolean> {
    return this.context.write("transfer the site", async () => {
      const result = await this.context.db
        .updateTable("sites")
        .set({ owner_org_id: owner.orgId ?? null, owner_user_id: owner.userId ?? null })
        .where("id", "=", siteId)
        .executeTakeFirst();
      if (owner.orgId !== undefined) await this.removeSupportingOrg(siteId, owner.orgId);
      return result.numUpdatedRows > 0n;
    });
  }

  async deleteSite(siteId: string): Promise<boolean> {
    const result = await this.context.db.deleteFrom("sites").where("id", "=", siteId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async addSupportingOrg(siteId: string, orgId: string): Promise<void> {
    await this.context.write("add the supporting organization", () =>
      this.context.db
        .insertInto("site_supporting_orgs")
        .values({ site_id: siteId, org_id: orgId })
        .onConflict((oc) => oc.doNothing())
        .execute(),
    );
  }

  async removeSupportingOrg(siteId: string, orgId: string): Promise<boolean> {
    const result = await this.context.db
      .deleteFrom("site_supporting_orgs")
      .where("site_id", "=", siteId)
      .where("org_id", "=", orgId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async listSupportingOrgs(siteId: string): Promise<OrgRow[]> {
    const rows = await this.context.db
      .selectFrom("site_supporting_orgs")
      .innerJoin("orgs", "orgs.id", "site_supporting_orgs.org_id")
      .select(["orgs.id", "orgs.name", "orgs.created_at"])
      .where("site_supporting_orgs.site_id", "=", siteId)
      .orderBy("orgs.name")
      .execute();
    return rows.map(toOrg);
  }

  async addTeamMember(siteId: string, userId: string): Promise<void> {
    await this.context.write("add the team member", () =>
      this.context.db
        .insertInto("site_team")
        .values({ site_id: siteId, user_id: userId })
        .onConflict((oc) => oc.doNothing())
        .execute(),
    );
  }

  async removeTeamMember(siteId: string, userId: string): Promise<boolean> {
    const result = await this.context.db
      .deleteFrom("site_team")
      .where("site_id", "=", siteId)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async listTeamMembers(siteId: string): Promise<UserRow[]> {
    const rows = await this.context.db
      .selectFrom("site_team")
      .innerJoin("users", "users.id", "site_team.user_id")
      .selectAll("users")
      .where("site_team.site_id", "=", siteId)
      .orderBy("users.email")
      .execute();
    return rows.map(toUser);
  }
}

/** {@link EnvironmentStore} over Kysely. */
export class KyselyEnvironmentStore implements EnvironmentStore {
  constructor(private readonly context: KyselyContext) {}

  async insertEnvironment(siteId: string, name: string): Promise<EnvironmentRow> {
    const row = { id: randomUUID(), site_id: siteId, name, kind: "multidev", created_at: now() };
    await this.context.write(`create environment '${name}'`, () =>
      this.context.db.insertInto("environments").values(row).execute(),
    );
    return toEnvironment(row);
  }

  async findEnvironment(siteId: string, name: string): Promise<EnvironmentRow | undefined> {
    const row = await this.context.db
      .selectFrom("environments")
      .selectAll()
      .where("site_id", "=", siteId)
      .where("name", "=", name)
      .executeTakeFirst();
    return row && toEnvironment(row);
  }

  async listEnvironments(siteId: string): Promise<EnvironmentRow[]> {
    const rows = await this.context.db
      .selectFrom("environments")
      .selectAll()
      .where("site_id", "=", siteId)
      .execute();
    const standard: readonly string[] = STANDARD_ENVIRONMENTS;
    const order = (e: { kind: string; name: string }) =>
      e.kind === "standard" ? standard.indexOf(e.name) : standard.length;
    return rows
      .sort((a, b) => order(a) - order(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(toEnvironment);
  }

  async deleteEnvironment(siteId: string, name: string): Promise<boolean> {
    await this.context.db
      .deleteFrom("secret_values")
      .where("env", "=", name)
      .where("secret_id", "in", (eb) => eb.selectFrom("secrets").select("id").where("site_id", "=", siteId))
      .execute();
    // Their history too: a multidev made later with this name is a new environment (SPEC §1, by
    // UUID), whose history must not show, nor roll back to, the deleted one's values.
    await this.context.db
      .deleteFrom("secret_versions")
      .where("site_id", "=", siteId)
      .where("env", "=", name)
      .execute();
    // Tokens bound to the environment go with it (ON DELETE CASCADE).
    const result = await this.context.db
      .deleteFrom("environments")
      .where("site_id", "=", siteId)
      .where("name", "=", name)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}

function toSite(r: {
  id: string;
  name: string;
  owner_org_id: string | null;
  owner_user_id: string | null;
  created_at: string;
  owner_org_name: string | null;
  owner_email: string | null;
}): SiteRow {
  return {
    id: r.id,
    name: r.name,
    ownerOrgId: r.owner_org_id,
    ownerUserId: r.owner_user_id,
    ownerName: r.owner_org_name ?? r.owner_email ?? "",
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
