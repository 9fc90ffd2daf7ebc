import { randomUUID } from "node:crypto";
import { emailSchema, LockboxError, orgNameSchema, quoteIdentifier } from "@lockbox/core";
import { auditBase, orgTarget, userTarget } from "../audit/audit-targets.js";
import type { PageRequest } from "../db/ports.js";
import type { OrgAccess } from "./access-policy.js";
import type { Caller } from "./caller.js";
import {
  type DirectoryDependencies,
  lockOrg,
  parseOrThrow,
  type Removal,
  requireUser,
  rethrowConflict,
  tokensStillActive,
} from "./directory-rules.js";
import type { OrgStore } from "./directory-store.js";
import { getUserByRef } from "./lookups.js";
import type { MemberRow, MembershipRow, OrgRole, OrgRow, UserRow } from "./records.js";

/** An organization with the caller's role in it. */
export interface OrgWithRole extends OrgRow {
  readonly role: OrgAccess["role"];
}

/**
 * The people side of the directory (SPEC §1, §5): users, organizations and their members. Every
 * operation takes the caller and decides access with the role policy (404 for what the caller may
 * not see, 403 for what it may see but not change). Every write runs in one transaction that locks
 * what it changes, re-checks under the lock what the rule depends on, and appends its audit event
 * in the same transaction.
 */
export class OrgService {
  constructor(private readonly deps: DirectoryDependencies) {}

  /** The user `ref` names (email or UUID), or USER_NOT_FOUND. Users are not secret from one another. */
  getUser(ref: string): Promise<UserRow> {
    return getUserByRef(this.deps.stores.users, ref);
  }

  /**
   * `user:create` (platform admin): a user with a normalized (trimmed, lower-case) email. Audited as
   * `user.create`.
   * @throws {LockboxError} `FORBIDDEN`; `VALIDATION_FAILED` for an invalid email; `CONFLICT` when a
   * user with that email exists.
   */
  async createUser(caller: Caller, email: string, options: { isAdmin?: boolean } = {}): Promise<UserRow> {
    this.deps.policy.requirePlatformAdmin(caller, "Only the platform admin can create users.");
    const normalized = parseOrThrow(emailSchema, email);
    const exists = () => new LockboxError("CONFLICT", `User ${quoteIdentifier(normalized)} already exists.`);
    return this.deps.stores.transaction(async (tx) => {
      if (await tx.users.findUserByEmail(normalized)) throw exists();
      const user = await rethrowConflict(
        tx.users.insertUser({ id: randomUUID(), email: normalized, isAdmin: options.isAdmin ?? false }),
        exists,
      );
      await tx.audit.appendAudit({ ...auditBase(caller), action: "user.create", target: userTarget(user) });
      return user;
    });
  }

  /** `user:list` (platform admin): users in email order. */
  async listUsers(caller: Caller, page: PageRequest): Promise<UserRow[]> {
    this.deps.policy.requirePlatformAdmin(caller, "Only the platform admin can list users.");
    return this.deps.stores.users.listUsers(page);
  }

  /**
   * `org:create` (platform admin): an organization with a new data key. Audited as `org.create`.
   * @throws {LockboxError} `FORBIDDEN`; `VALIDATION_FAILED` with the name rule's message; `CONFLICT`
   * `Organization 'x' already exists.`
   */
  async createOrg(caller: Caller, name: string): Promise<OrgRow> {
    this.deps.policy.requirePlatformAdmin(caller, "Only the platform admin can create organizations.");
    const orgName = parseOrThrow(orgNameSchema, name);
    const exists = () =>
      new LockboxError("CONFLICT", `Organization ${quoteIdentifier(orgName)} already exists.`);
    const id = randomUUID();
    const { vault } = this.deps;
    try {
      return await this.deps.stores.transaction(async (tx) => {
        if (await tx.orgs.findOrgByName(orgName)) throw exists();
        const dataKey = await vault.newDataKey({ kind: "org", id }, tx.dataKeys);
        const org = await rethrowConflict(tx.orgs.insertOrg({ id, name: orgName, dataKey }), exists);
        await tx.audit.appendAudit({
          ...auditBase(caller),
          orgId: org.id,
          action: "org.create",
          target: orgTarget(org),
        });
        return org;
      });
    } catch (error) {
      vault.forget({ kind: "org", id });
      throw error;
    }
  }

  /** `org:list`: the orgs the caller belongs to (every org for the platform admin), with its role in each. */
  async listOrgs(caller: Caller, page: PageRequest): Promise<OrgWithRole[]> {
    const isAdmin = caller.user.isAdmin;
    const orgs = await this.deps.stores.orgs.listOrgs({
      ...page,
      ...(isAdmin ? {} : { memberUserId: caller.user.id }),
    });
    return orgs.map(({ role, ...org }) => ({
      ...org,
      role: isAdmin ? "platform-admin" : (role ?? "member"),
    }));
  }

  /** `org:info`: an organization the caller can see, with its role in it. */
  async getOrg(caller: Caller, ref: string): Promise<OrgWithRole> {
    const { org, access } = await this.deps.policy.org(caller, ref);
    return { ...org, role: access.role };
  }

  /**
   * `org:delete` (platform admin): deletes an organization with its secrets, memberships and
   * supporting links, and destroys its data key. Audited as `org.delete`.
   * @throws {LockboxError} `ORG_NOT_FOUND`; `FORBIDDEN`; `CONFLICT` while it owns a site
   * (`Organization 'x' still owns 2 site(s) ('a', 'b'): transfer or delete them first (…).`). The count is taken
   * under the org's lock and the database's foreign key settles a concurrent transfer.
   */
  async deleteOrg(caller: Caller, ref: string): Promise<void> {
    const { org } = await this.deps.policy.org(caller, ref);
    this.deps.policy.requirePlatformAdmin(
      caller,
      `Only the platform admin can delete organization ${quoteIdentifier(org.name)}.`,
    );
    await this.deps.stores.transaction(async (tx) => {
      await lockOrg(tx, org);
      const owned = await tx.orgs.countSitesOwnedByOrg(org.id);
      if (owned > 0) {
        const named = await tx.sites.listSites({ ownerOrgId: org.id, limit: NAMED_SITES });
        throw ownsSites(
          org,
          owned,
          named.map((site) => site.name),
        );
      }
      await rethrowConflict(tx.orgs.deleteOrg(org.id), () => ownsSites(org));
      await tx.recordChange({ kind: "org", id: org.id });
      await tx.audit.appendAudit({
        ...auditBase(caller),
        orgId: org.id,
        action: "org.delete",
        target: orgTarget(org),
      });
    });
    this.deps.vault.forget({ kind: "org", id: org.id });
  }

  /** `org:member:list`: an organization's members, by email. */
  async listMembers(caller: Caller, ref: string): Promise<MemberRow[]> {
    const { org } = await this.deps.policy.org(caller, ref);
    return this.deps.stores.orgs.listMemberships(org.id);
  }

  /**
   * `org:member:add` (org admin): makes a user a member of the org with `role`, or changes the role
   * of a member. Audited as `org.member.add` with the role in the target.
   * @throws {LockboxError} `ORG_NOT_FOUND`; `FORBIDDEN`; `USER_NOT_FOUND`; `VALIDATION_FAILED` for a
   * role other than `admin` or `member`; `CONFLICT` for demoting the org's only admin.
   */
  async addMember(
    caller: Caller,
    orgRef: string,
    userRef: string,
    role: OrgRole,
  ): Promise<MembershipRow & { email: string }> {
    const org = await this.#administered(caller, orgRef);
    const user = await this.getUser(userRef);
    if (role !== "admin" && role !== "member") {
      throw new LockboxError(
        "VALIDATION_FAILED",
        `Invalid role ${quoteIdentifier(String(role))}: use admin or member.`,
      );
    }
    return this.deps.stores.transaction(async (tx) => {
      await lockOrg(tx, org);
      await requireUser(tx, user);
      if (role !== "admin") await keepAnAdmin(tx.orgs, org, user, "demote");
      const membership = await tx.orgs.upsertMembership(org.id, user.id, role);
      await tx.audit.appendAudit({
        ...auditBase(caller),
        orgId: org.id,
        action: "org.member.add",
        target: `${orgTarget(org)}/${userTarget(user)}/role:${role}`,
      });
      return { ...membership, email: user.email };
    });
  }

  /**
   * `org:member:remove` (org admin). Audited as `org.member.remove`. Answers the runtime and build
   * tokens the person minted for the sites the org owns or supports that still work (not revoked).
   * @throws {LockboxError} `ORG_NOT_FOUND`; `FORBIDDEN`; `USER_NOT_FOUND`; `NOT_FOUND` when the user
   * is not a member; `CONFLICT` for the org's only admin.
   */
  async removeMember(caller: Caller, orgRef: string, userRef: string): Promise<Removal> {
    const org = await this.#administered(caller, orgRef);
    const user = await this.getUser(userRef);
    return this.deps.stores.transaction(async (tx) => {
      await lockOrg(tx, org);
      await keepAnAdmin(tx.orgs, org, user, "remove");
      if (!(await tx.orgs.deleteMembership(org.id, user.id))) {
        throw new LockboxError(
          "NOT_FOUND",
          `User ${quoteIdentifier(user.email)} is not a member of organization ${quoteIdentifier(org.name)}.`,
        );
      }
      await tx.audit.appendAudit({
        ...auditBase(caller),
        orgId: org.id,
        action: "org.member.remove",
        target: `${orgTarget(org)}/${userTarget(user)}`,
      });
      return {
        user,
        fromName: org.name,
        tokensStillActive: await tokensStillActive(this.deps, tx, user, { orgId: org.id }),
      };
    });
  }

  #administered(caller: Caller, ref: string): Promise<OrgRow> {
    return this.deps.policy.administeredOrg(
      caller,
      ref,
      (org) => `Only an admin of organization ${quoteIdentifier(org.name)} can manage its members.`,
    );
  }
}

/**
 * An org keeps an admin: its last one may be neither demoted nor removed, since then only the
 * platform admin could manage its members. Called under the org's lock.
 */
async function keepAnAdmin(
  orgs: Pick<OrgStore, "listMemberships">,
  org: OrgRow,
  user: UserRow,
  change: "demote" | "remove",
): Promise<void> {
  const admins = (await orgs.listMemberships(org.id)).filter((member) => member.role === "admin");
  if (admins.length > 1 || !admins.some((member) => member.userId === user.id)) return;
  throw new LockboxError(
    "CONFLICT",
    `Cannot ${change} ${quoteIdentifier(user.email)}: the only admin of organization ${quoteIdentifier(org.name)}. ` +
      `Make another member admin first (lockbox org:member:add ${org.name} <email> --role=admin).`,
  );
}

/** How many of the sites that keep an org from being deleted its refusal names. */
const NAMED_SITES = 5;

/**
 * `count` and `names` (the first few, by name) are unknown when the foreign key, not the check,
 * found the site (a concurrent transfer).
 */
function ownsSites(org: OrgRow, count?: number, names: readonly string[] = []): LockboxError {
  const sites = count === undefined ? "a site" : `${count} site(s)`;
  const listed =
    names.length === 0
      ? ""
      : ` (${names.map(quoteIdentifier).join(", ")}${count !== undefined && count > names.length ? ", …" : ""})`;
  return new LockboxError(
    "CONFLICT",
    `Organization ${quoteIdentifier(org.name)} still owns ${sites}${listed}: transfer or delete them first ` +
      "(lockbox site:transfer <site> --org=<org>, lockbox site:delete <site>).",
  );
}
