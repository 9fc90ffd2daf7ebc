import { LockboxError } from "@lockbox/core";
import type { Selectable } from "kysely";
import type { Database } from "../db/database.js";
import { type KyselyContext, limitOf, now } from "../db/lockbox-db.js";
import type { PageRequest } from "../db/ports.js";
import type { OrgStore, UserStore } from "./directory-store.js";
import type {
  MemberRow,
  MembershipRow,
  NewOrg,
  NewUser,
  OrgListRow,
  OrgRole,
  OrgRow,
  UserRow,
} from "./records.js";

/** {@link UserStore} over Kysely. */
export class KyselyUserStore implements UserStore {
  constructor(private readonly context: KyselyContext) {}

  async insertUser(user: NewUser): Promise<UserRow> {
    const row = {
      id: user.id,
      email: user.email.toLowerCase(),
      is_admin: user.isAdmin ? 1 : 0,
      created_at: now(),
    };
    await this.context.write(`create user '${row.email}'`, () =>
      this.context.db.insertInto("users").values(row).execute(),
    );
    return toUser(row);
  }

  async findUserById(id: string): Promise<UserRow | undefined> {
    const row = await this.context.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toUser(row);
  }

  async findUserByEmail(email: string): Promise<UserRow | undefined> {
    const row = await this.context.db
      .selectFrom("users")
      .selectAll()
      .where("email", "=", email.toLowerCase())
      .executeTakeFirst();
    return row && toUser(row);
  }

  async listUsers(page: PageRequest): Promise<UserRow[]> {
    let q = this.context.db.selectFrom("users").selectAll().orderBy("email").limit(limitOf(page));
    if (page.after !== undefined) q = q.where("email", ">", page.after);
    return (await q.execute()).map(toUser);
  }

  async findFirstAdmin(): Promise<UserRow | undefined> {
    const row = await this.context.db
      .selectFrom("users")
      .selectAll()
      .where("is_admin", "=", 1)
      .orderBy("created_at")
      .orderBy("id")
      .executeTakeFirst();
    return row && toUser(row);
  }
}

/** {@link OrgStore} over Kysely: organizations and their memberships. */
export class KyselyOrgStore implements OrgStore {
  constructor(private readonly context: KyselyContext) {}

  async insertOrg(org: NewOrg): Promise<OrgRow> {
    const row = {
      id: org.id,
      name: org.name,
      data_key: org.dataKey.wrapped,
      data_key_master_id: org.dataKey.masterKeyId,
      created_at: now(),
    };
    await this.context.write(`create organization '${org.name}'`, () =>
      this.context.db.insertInto("orgs").values(row).execute(),
    );
    return toOrg(row);
  }

  async findOrgById(id: string): Promise<OrgRow | undefined> {
    const row = await this.context.db
      .selectFrom("orgs")
      .select(ORG_COLUMNS)
      .where("id", "=", id)
      .executeTakeFirst();
    return row && toOrg(row);
  }

  async findOrgByName(name: string): Promise<OrgRow | undefined> {
    const row = await this.context.db
      .selectFrom("orgs")
      .select(ORG_COLUMNS)
      .where("name", "=", name)
      .executeTakeFirst();
    return row && toOrg(row);
  }

  async listOrgs(filter: { memberUserId?: string } & PageRequest): Promise<OrgListRow[]> {
    const { db } = this.context;
    const userId = filter.memberUserId;
    if (userId === undefined) {
      let q = db.selectFrom("orgs").select(ORG_COLUMNS).orderBy("name").limit(limitOf(filter));
      if (filter.after !== undefined) q = q.where("name", ">", filter.after);
      return (await q.execute()).map((r) => ({ ...toOrg(r), role: null }));
    }
    let q = db
      .selectFrom("orgs")
      .innerJoin("memberships", "memberships.org_id", "orgs.id")
      .select(["orgs.id", "orgs.name", "orgs.created_at", "memberships.role"])
      .where("memberships.user_id", "=", userId)
      .orderBy("orgs.name")
      .limit(limitOf(filter));
    if (filter.after !== undefined) q = q.where("orgs.name", ">", filter.after);
    return (await q.execute()).map((r) => ({ ...toOrg(r), role: r.role as OrgRole }));
  }

  async countSitesOwnedByOrg(orgId: string): Promise<number> {
    const row = await this.context.db
      .selectFrom("sites")
      .select((eb) => eb.fn.countAll().as("n"))
      .where("owner_org_id", "=", orgId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async deleteOrg(orgId: string): Promise<boolean> {
    const result = await this.context.write("delete the organization", () =>
      this.context.db.deleteFrom("orgs").where("id", "=", orgId).executeTakeFirst(),
    );
    return result.numDeletedRows > 0n;
  }

  async upsertMembership(orgId: string, userId: string, role: OrgRole): Promise<MembershipRow> {
    const row = { org_id: orgId, user_id: userId, role, created_at: now() };
    await this.context.write("add the member", () =>
      this.context.db
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
    const row = await this.context.db
      .selectFrom("memberships")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return row && toMembership(row);
  }

  async deleteMembership(orgId: string, userId: string): Promise<boolean> {
    const result = await this.context.db
      .deleteFrom("memberships")
      .where("org_id", "=", orgId)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async listMemberships(orgId: string): Promise<MemberRow[]> {
    const rows = await this.context.db
      .selectFrom("memberships")
      .innerJoin("users", "users.id", "memberships.user_id")
      .selectAll("memberships")
      .select("users.email")
      .where("memberships.org_id", "=", orgId)
      .orderBy("users.email")
      .execute();
    return rows.map((r) => ({ ...toMembership(r), email: r.email }));
  }
}

const ORG_COLUMNS = ["id", "name", "created_at"] as const;

export function toUser(r: Selectable<Database["users"]>): UserRow {
  return { id: r.id, email: r.email, isAdmin: Number(r.is_admin) === 1, createdAt: r.created_at };
}

export function toOrg(r: { id: string; name: string; created_at: string }): OrgRow {
  return { id: r.id, name: r.name, createdAt: r.created_at };
}

function toMembership(r: Selectable<Database["memberships"]>): MembershipRow {
  return { orgId: r.org_id, userId: r.user_id, role: r.role as OrgRole, createdAt: r.created_at };
}
