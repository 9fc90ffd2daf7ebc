import { randomUUID } from "node:crypto";
import {
  emailSchema,
  environmentNotFoundMessage,
  isLockboxError,
  isStandardEnvironment,
  isUuid,
  LockboxError,
  multidevNameSchema,
  notFoundError,
  orgNameSchema,
  quoteIdentifier,
  siteNameSchema,
} from "@lockbox/core";
import type { ZodType } from "zod";
import { orgTarget, siteTarget, userTarget } from "../audit/audit-targets.js";
import type {
  EnvironmentRow,
  MembershipRow,
  OrgRole,
  OrgRow,
  SecretStore,
  SiteOwner,
  SiteRow,
  StoreQueries,
  StoreTx,
  UserRow,
} from "../db/secret-store.js";
import type { Vault } from "../keys/vault.js";
import type { RequestContext } from "./caller.js";

/** What `site:create` asks for. */
export interface CreateSiteInput {
  readonly name: string;
  /** An organization (the site's primary org) or a user (a personal site), by UUID. */
  readonly owner: SiteOwner;
  /** Organizations that support the site, by UUID; never the owner org. Duplicates are ignored. */
  readonly supportingOrgIds?: readonly string[] | undefined;
}

/**
 * The directory use cases of SPEC §1: users, organizations and their members, sites with their
 * owners, supporting organizations and teams, and multidev environments.
 *
 * Every write runs in one store transaction that locks the entity it changes, re-checks under the
 * lock what the rule depends on, and appends its single audit event in the same transaction, so a
 * write and its event commit together or not at all. Callers pass entities they looked up with the
 * `find*`/`get*` methods; access control is the caller's (the HTTP layer's) concern.
 */
export class DirectoryService {
  readonly #store: SecretStore;
  readonly #vault: Vault;

  constructor(store: SecretStore, vault: Vault) {
    this.#store = store;
    this.#vault = vault;
  }

  // --- lookups ----------------------------------------------------------------------------------

  /** An organization by name or UUID (any case); undefined when absent. */
  findOrg(ref: string): Promise<OrgRow | undefined> {
    return isUuid(ref) ? this.#store.findOrgById(ref.toLowerCase()) : this.#store.findOrgByName(ref);
  }

  /** A site by name or UUID (any case); undefined when absent. */
  findSite(ref: string): Promise<SiteRow | undefined> {
    return isUuid(ref) ? this.#store.findSiteById(ref.toLowerCase()) : this.#store.findSiteByName(ref);
  }

  /** A user by email (compared in lower case) or UUID; undefined when absent. */
  findUser(emailOrId: string): Promise<UserRow | undefined> {
    return isUuid(emailOrId)
      ? this.#store.findUserById(emailOrId.toLowerCase())
      : this.#store.findUserByEmail(emailOrId.trim());
  }

  /**
   * {@link findOrg}, or throws `ORG_NOT_FOUND`: `Organization 'x' was not found, or you do not have
   * access to it.` (the message a caller who may not see it gets too).
   */
  async getOrg(ref: string): Promise<OrgRow> {
    const org = await this.findOrg(ref);
    if (!org) throw notFoundError("org", ref);
    return org;
  }

  /** {@link findSite}, or throws `SITE_NOT_FOUND` with the message of SPEC §8. */
  async getSite(ref: string): Promise<SiteRow> {
    const site = await this.findSite(ref);
    if (!site) throw notFoundError("site", ref);
    return site;
  }

  /** {@link findUser}, or throws `USER_NOT_FOUND`. */
  async getUser(emailOrId: string): Promise<UserRow> {
    const user = await this.findUser(emailOrId);
    if (!user) throw notFoundError("user", emailOrId);
    return user;
  }

  // --- users ------------------------------------------------------------------------------------

  /**
   * `user:create`: a user with a normalized (trimmed, lower-case) email. Audited as `user.create`.
   * @throws {LockboxError} `VALIDATION_FAILED` for an invalid email; `CONFLICT` when a user with
   * that email exists.
   */
  async createUser(
    ctx: RequestContext,
    email: string,
    options: { isAdmin?: boolean } = {},
  ): Promise<UserRow> {
    const normalized = parseOrThrow(emailSchema, email);
    const exists = () => new LockboxError("CONFLICT", `User ${quoteIdentifier(normalized)} already exists.`);
    return this.#store.transaction(async (tx) => {
      if (await tx.findUserByEmail(normalized)) throw exists();
      const user = await rethrowConflict(
        tx.insertUser({ id: randomUUID(), email: normalized, isAdmin: options.isAdmin ?? false }),
        exists,
      );
      await tx.appendAudit({ ...auditBase(ctx), action: "user.create", target: userTarget(user) });
      return user;
    });
  }

  // --- organizations ----------------------------------------------------------------------------

  /**
   * `org:create`: an organization with a new data key. Audited as `org.create`.
   * @throws {LockboxError} `VALIDATION_FAILED` with the name rule's message; `CONFLICT`
   * `Organization 'x' already exists.`
   */
  async createOrg(ctx: RequestContext, name: string): Promise<OrgRow> {
    const orgName = parseOrThrow(orgNameSchema, name);
    const exists = () =>
      new LockboxError("CONFLICT", `Organization ${quoteIdentifier(orgName)} already exists.`);
    const id = randomUUID();
    try {
      return await this.#store.transaction(async (tx) => {
        if (await tx.findOrgByName(orgName)) throw exists();
        const dataKey = this.#vault.newDataKey({ kind: "org", id });
        const org = await rethrowConflict(tx.insertOrg({ id, name: orgName, dataKey }), exists);
        await tx.appendAudit({
          ...auditBase(ctx),
          orgId: org.id,
          action: "org.create",
          target: orgTarget(org),
        });
        return org;
      });
    } catch (error) {
      this.#vault.forget({ kind: "org", id });
      throw error;
    }
  }

  /**
   * `org:delete`: deletes an organization with its secrets, memberships and supporting links, and
   * destroys its data key. Audited as `org.delete`.
   * @throws {LockboxError} `ORG_NOT_FOUND` when it no longer exists; `CONFLICT` while it owns a
   * site (`Organization 'x' still owns 2 site(s): transfer or delete them first.`). The count is
   * taken under the org's lock and the database's foreign key settles a concurrent transfer.
   */
  async deleteOrg(ctx: RequestContext, org: OrgRow): Promise<void> {
    await this.#store.transaction(async (tx) => {
      await lockOrg(tx, org);
      const owned = await tx.countSitesOwnedByOrg(org.id);
      if (owned > 0) throw ownsSites(org, owned);
      await rethrowConflict(tx.deleteOrg(org.id), () => ownsSites(org));
      await tx.recordChange({ kind: "org", id: org.id });
      await tx.appendAudit({
        ...auditBase(ctx),
        orgId: org.id,
        action: "org.delete",
        target: orgTarget(org),
      });
    });
    this.#vault.forget({ kind: "org", id: org.id });
  }

  /**
   * `org:member:add`: makes `user` a member of `org` with `role`, or changes the role of a member.
   * Audited as `org.member.add` with the role in the target.
   * @throws {LockboxError} `ORG_NOT_FOUND` or `USER_NOT_FOUND` when either no longer exists;
   * `VALIDATION_FAILED` for a role other than `admin` or `member`.
   */
  async addMember(ctx: RequestContext, org: OrgRow, user: UserRow, role: OrgRole): Promise<MembershipRow> {
    if (role !== "admin" && role !== "member") {
      throw new LockboxError(
        "VALIDATION_FAILED",
        `Invalid role ${quoteIdentifier(String(role))}: use admin or member.`,
      );
    }
    return this.#store.transaction(async (tx) => {
      await lockOrg(tx, org);
      await requireUser(tx, user);
      const membership = await tx.upsertMembership(org.id, user.id, role);
      await tx.appendAudit({
        ...auditBase(ctx),
        orgId: org.id,
        action: "org.member.add",
        target: `${orgTarget(org)}/${userTarget(user)}/role:${role}`,
      });
      return membership;
    });
  }

  /**
   * `org:member:remove`. Audited as `org.member.remove`.
   * @throws {LockboxError} `ORG_NOT_FOUND` when the org no longer exists; `NOT_FOUND` when the user
   * is not a member.
   */
  async removeMember(ctx: RequestContext, org: OrgRow, user: UserRow): Promise<void> {
    await this.#store.transaction(async (tx) => {
      await lockOrg(tx, org);
      if (!(await tx.deleteMembership(org.id, user.id))) {
        throw new LockboxError(
          "NOT_FOUND",
          `User ${quoteIdentifier(user.email)} is not a member of organization ${quoteIdentifier(org.name)}.`,
        );
      }
      await tx.appendAudit({
        ...auditBase(ctx),
        orgId: org.id,
        action: "org.member.remove",
        target: `${orgTarget(org)}/${userTarget(user)}`,
      });
    });
  }

  // --- sites ------------------------------------------------------------------------------------

  /**
   * `site:create`: a site with a new data key, its `dev`, `test` and `live` environments, its owner
   * and its supporting organizations. Audited once, as `site.create`, with the owner in the target.
   * @throws {LockboxError} `VALIDATION_FAILED` with the name rule's message; `CONFLICT` when the
   * name is taken or the owner org is also listed as supporting; `ORG_NOT_FOUND`/`USER_NOT_FOUND`
   * for an owner or supporting org that does not exist.
   */
  async createSite(ctx: RequestContext, input: CreateSiteInput): Promise<SiteRow> {
    const name = parseOrThrow(siteNameSchema, input.name);
    const exists = () => new LockboxError("CONFLICT", `Site ${quoteIdentifier(name)} already exists.`);
    const id = randomUUID();
    try {
      return await this.#store.transaction(async (tx) => {
        const owner = await loadOwner(tx, input.owner, true);
        const supporting: OrgRow[] = [];
        for (const orgId of new Set(input.supportingOrgIds ?? [])) {
          const org = await tx.findOrgById(orgId);
          if (!org) throw notFoundError("org", orgId);
          if (org.id === input.owner.orgId) throw ownerCannotSupport(org, name);
          supporting.push(org);
        }
        if (await tx.findSiteByName(name)) throw exists();
        const dataKey = this.#vault.newDataKey({ kind: "site", id });
        const site = await rethrowConflict(tx.insertSite({ id, name, owner: input.owner, dataKey }), exists);
        for (const org of supporting) await tx.addSupportingOrg(site.id, org.id);
        await tx.appendAudit({
          ...siteAuditBase(ctx, site),
          action: "site.create",
          target: `${siteTarget(site)} owner ${owner.target}`,
        });
        return site;
      });
    } catch (error) {
      this.#vault.forget({ kind: "site", id });
      throw error;
    }
  }

  /**
   * `site:transfer`: moves a site to another org or user; resolution uses the new owner from the
   * next read on. A new owner org that supported the site stops supporting it. Audited as
   * `site.transfer`, with the old and the new owner in the target. Returns the site as it is now.
   * @throws {LockboxError} `SITE_NOT_FOUND`, or `ORG_NOT_FOUND`/`USER_NOT_FOUND` for a new owner
   * that does not exist.
   */
  async transferSite(ctx: RequestContext, site: SiteRow, newOwner: SiteOwner): Promise<SiteRow> {
    return this.#store.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      const from = await loadOwner(tx, ownerOf(current), false);
      const to = await loadOwner(tx, newOwner, true);
      await tx.updateSiteOwner(current.id, newOwner);
      const moved = await tx.findSiteById(current.id);
      if (!moved) throw notFoundError("site", site.name);
      await tx.recordChange({ kind: "site", id: site.id });
      await tx.appendAudit({
        ...siteAuditBase(ctx, moved),
        orgId: moved.ownerOrgId ?? current.ownerOrgId,
        action: "site.transfer",
        target: `${siteTarget(moved)} from ${from.target} to ${to.target}`,
      });
      return moved;
    });
  }

  /**
   * `site:delete`: deletes a site with its environments, secrets, tokens, team and supporting links,
   * and destroys its data key. Audited as `site.delete`.
   * @throws {LockboxError} `SITE_NOT_FOUND` when it no longer exists.
   */
  async deleteSite(ctx: RequestContext, site: SiteRow): Promise<void> {
    await this.#store.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      await tx.deleteSite(current.id);
      await tx.recordChange({ kind: "site", id: site.id });
      await tx.appendAudit({
        ...siteAuditBase(ctx, current),
        action: "site.delete",
        target: siteTarget(current),
      });
    });
    this.#vault.forget({ kind: "site", id: site.id });
  }

  /**
   * `site:supporting-org:add`: `org` supports `site` (a no-op change when it already does). Audited
   * as `site.supporting_org.add`.
   * @throws {LockboxError} `CONFLICT` when `org` owns the site
   * (`Organization 'x' owns site 'y' and cannot also support it.`); `SITE_NOT_FOUND`/`ORG_NOT_FOUND`.
   */
  async addSupportingOrg(ctx: RequestContext, site: SiteRow, org: OrgRow): Promise<void> {
    await this.#store.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      if (current.ownerOrgId === org.id) throw ownerCannotSupport(org, current.name);
      if (!(await tx.findOrgById(org.id))) throw notFoundError("org", org.name);
      await tx.addSupportingOrg(current.id, org.id);
      await tx.appendAudit({
        ...siteAuditBase(ctx, current),
        action: "site.supporting_org.add",
        target: `${siteTarget(current)}/${orgTarget(org)}`,
      });
    });
  }

  /**
   * `site:supporting-org:remove`. Audited as `site.supporting_org.remove`.
   * @throws {LockboxError} `SITE_NOT_FOUND`; `NOT_FOUND` when `org` does not support the site.
   */
  async removeSupportingOrg(ctx: RequestContext, site: SiteRow, org: OrgRow): Promise<void> {
    await this.#store.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      if (!(await tx.removeSupportingOrg(current.id, org.id))) {
        throw new LockboxError(
          "NOT_FOUND",
          `Organization ${quoteIdentifier(org.name)} does not support site ${quoteIdentifier(current.name)}.`,
        );
      }
      await tx.appendAudit({
        ...siteAuditBase(ctx, current),
        action: "site.supporting_org.remove",
        target: `${siteTarget(current)}/${orgTarget(org)}`,
      });
    });
  }

  /**
   * `site:team:add`: puts `user` on the site's team (a no-op change when already on it). Audited
   * as `site.team.add`.
   * @throws {LockboxError} `SITE_NOT_FOUND`/`USER_NOT_FOUND`.
   */
  async addTeamMember(ctx: RequestContext, site: SiteRow, user: UserRow): Promise<void> {
    await this.#store.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      await requireUser(tx, user);
      await tx.addTeamMember(current.id, user.id);
      await tx.appendAudit({
        ...siteAuditBase(ctx, current),
        action: "site.team.add",
        target: `${siteTarget(current)}/${userTarget(user)}`,
      });
    });
  }

  /**
   * `site:team:remove`. Audited as `site.team.remove`.
   * @throws {LockboxError} `SITE_NOT_FOUND`; `NOT_FOUND` when `user` is not on the team.
   */
  async removeTeamMember(ctx: RequestContext, site: SiteRow, user: UserRow): Promise<void> {
    await this.#store.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      if (!(await tx.removeTeamMember(current.id, user.id))) {
        throw new LockboxError(
          "NOT_FOUND",
          `User ${quoteIdentifier(user.email)} is not on the team of site ${quoteIdentifier(current.name)}.`,
        );
      }
      await tx.appendAudit({
        ...siteAuditBase(ctx, current),
        action: "site.team.remove",
        target: `${siteTarget(current)}/${userTarget(user)}`,
      });
    });
  }

  // --- multidevs --------------------------------------------------------------------------------

  /**
   * `multidev:create`: a multidev environment on `site`. Audited as `multidev.create`.
   * @throws {LockboxError} `VALIDATION_FAILED` with the name rule's message (reserved names, such
   * as the standard environments, included); `CONFLICT` when the site already has it;
   * `SITE_NOT_FOUND`.
   */
  async createMultidev(ctx: RequestContext, site: SiteRow, name: string): Promise<EnvironmentRow> {
    const env = parseOrThrow(multidevNameSchema, name);
    const exists = () =>
      new LockboxError(
        "CONFLICT",
        `Environment ${quoteIdentifier(env)} already exists on site ${quoteIdentifier(site.name)}.`,
      );
    return this.#store.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      if (await tx.findEnvironment(current.id, env)) throw exists();
      const created = await rethrowConflict(tx.insertEnvironment(current.id, env), exists);
      await tx.appendAudit({
        ...siteAuditBase(ctx, current),
        action: "multidev.create",
        target: `${siteTarget(current)}/env:${env}`,
        environment: env,
      });
      return created;
    });
  }

  /**
   * `multidev:delete`: deletes a multidev with the site's overrides for it, and revokes (deletes)
   * the tokens bound to it. The owner org's overrides for that environment name stay. Audited as
   * `multidev.delete`.
   * @throws {LockboxError} `VALIDATION_FAILED` for `dev`, `test` or `live`
   * (`'live' is a standard environment and cannot be deleted.`); `ENVIRONMENT_NOT_FOUND` when the
   * site has no such environment; `SITE_NOT_FOUND`.
   */
  async deleteMultidev(ctx: RequestContext, site: SiteRow, name: string): Promise<void> {
    if (isStandardEnvironment(name)) {
      throw new LockboxError(
        "VALIDATION_FAILED",
        `${quoteIdentifier(name)} is a standard environment and cannot be deleted.`,
      );
    }
    await this.#store.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      if (!(await tx.deleteEnvironment(current.id, name))) {
        throw new LockboxError("ENVIRONMENT_NOT_FOUND", environmentNotFoundMessage(name, current.name));
      }
      await tx.recordChange({ kind: "site", id: site.id });
      await tx.appendAudit({
        ...siteAuditBase(ctx, current),
        action: "multidev.delete",
        target: `${siteTarget(current)}/env:${name}`,
        environment: name,
      });
    });
  }
}

function auditBase(ctx: RequestContext) {
  return { actor: ctx.actor, requestId: ctx.requestId ?? null, outcome: "success" } as const;
}

function siteAuditBase(ctx: RequestContext, site: SiteRow) {
  return { ...auditBase(ctx), siteId: site.id, orgId: site.ownerOrgId };
}

/** The value `schema` parses `text` to, or VALIDATION_FAILED with the message of its first issue. */
function parseOrThrow(schema: ZodType<string, string>, text: string): string {
  const result = schema.safeParse(text);
  if (result.success) return result.data;
  throw new LockboxError("VALIDATION_FAILED", result.error.issues[0]?.message ?? "Invalid input.");
}

/**
 * Awaits a store write whose unique or foreign-key violation (a race the services' own checks
 * lost) should read as the precise message `conflict` gives.
 */
async function rethrowConflict<T>(write: Promise<T>, conflict: () => LockboxError): Promise<T> {
  try {
    return await write;
  } catch (error) {
    if (isLockboxError(error, "CONFLICT")) throw conflict();
    throw error;
  }
}

/** `count` is unknown when the foreign key, not the check, found the site (a concurrent transfer). */
function ownsSites(org: OrgRow, count?: number): LockboxError {
  const sites = count === undefined ? "a site" : `${count} site(s)`;
  return new LockboxError(
    "CONFLICT",
    `Organization ${quoteIdentifier(org.name)} still owns ${sites}: transfer or delete them first.`,
  );
}

function ownerCannotSupport(org: OrgRow, siteName: string): LockboxError {
  return new LockboxError(
    "CONFLICT",
    `Organization ${quoteIdentifier(org.name)} owns site ${quoteIdentifier(siteName)} and cannot also support it.`,
  );
}

async function lockOrg(tx: StoreTx, org: OrgRow): Promise<void> {
  if (!(await tx.lockOwner({ kind: "org", id: org.id }))) throw notFoundError("org", org.name);
}

/** Locks the site and returns it as it is under the lock (its owner may have changed since the lookup). */
async function lockSite(tx: StoreTx, site: SiteRow): Promise<SiteRow> {
  const current = (await tx.lockOwner({ kind: "site", id: site.id })) && (await tx.findSiteById(site.id));
  if (!current) throw notFoundError("site", site.name);
  return current;
}

async function requireUser(tx: StoreQueries, user: UserRow): Promise<void> {
  if (!(await tx.findUserById(user.id))) throw notFoundError("user", user.email);
}

function ownerOf(site: SiteRow): SiteOwner {
  return site.ownerOrgId !== null ? { orgId: site.ownerOrgId } : { userId: site.ownerUserId ?? "" };
}

/**
 * A site owner's audit target. With `lock`, an owner org is locked, so that it cannot be deleted
 * between this check and the write that references it.
 */
async function loadOwner(tx: StoreTx, owner: SiteOwner, lock: boolean): Promise<{ target: string }> {
  if (owner.orgId !== undefined) {
    const locked = !lock || (await tx.lockOwner({ kind: "org", id: owner.orgId }));
    const org = locked ? await tx.findOrgById(owner.orgId) : undefined;
    if (!org) throw notFoundError("org", owner.orgId);
    return { target: orgTarget(org) };
  }
  const user = await tx.findUserById(owner.userId);
  if (!user) throw notFoundError("user", owner.userId);
  return { target: userTarget(user) };
}
