import { randomUUID } from "node:crypto";
import {
  environmentNotFoundMessage,
  isLockboxError,
  isStandardEnvironment,
  LockboxError,
  multidevNameSchema,
  notFoundError,
  quoteIdentifier,
  siteNameSchema,
} from "@lockbox/core";
import { orgTarget, siteAuditBase, siteTarget, userTarget } from "../audit/audit-targets.js";
import type { PageRequest } from "../db/ports.js";
import { forbiddenError } from "./access-policy.js";
import type { Caller } from "./caller.js";
import {
  type DirectoryDependencies,
  loadOwner,
  lockSite,
  ownerCannotSupport,
  ownerOf,
  parseOrThrow,
  type Removal,
  requireUser,
  rethrowConflict,
  tokensStillActive,
} from "./directory-rules.js";
import { findOrgByRef, getUserByRef } from "./lookups.js";
import type { EnvironmentRow, OrgRow, SiteOwner, SiteRow, UserRow } from "./records.js";

/** A site's new owner as people name it: an organization, or a person by email (exactly one). */
export interface OwnerChoice {
  readonly org?: string | undefined;
  readonly owner?: string | undefined;
}

/** What `site:create` asks for. */
export interface CreateSiteInput extends OwnerChoice {
  readonly name: string;
  /** Organizations that support the site, by name or UUID; never the owner org. Duplicates are ignored. */
  readonly supportingOrgs?: readonly string[] | undefined;
}

/** A site with what `site:info` shows. */
export interface SiteDetails {
  readonly site: SiteRow;
  readonly supportingOrgs: readonly OrgRow[];
  readonly environments: readonly EnvironmentRow[];
  readonly team: readonly UserRow[];
}

/** An org's support of a site ended, with the site's team members who belong to that org. */
export interface SupportEnded {
  readonly org: OrgRow;
  readonly siteName: string;
  readonly teamMembersFromOrg: readonly UserRow[];
}

/**
 * The sites side of the directory (SPEC §1, §5): sites with their owners, supporting organizations
 * and teams, and multidev environments. Access as in {@link OrgService}: every operation takes the
 * caller and decides 404/403 with the role policy; every write locks the site, re-checks under the
 * lock, and appends its audit event in the same transaction.
 */
export class SiteService {
  constructor(private readonly deps: DirectoryDependencies) {}

  /**
   * `site:create`: a site with a new data key, its `dev`, `test` and `live` environments, its owner
   * and its supporting organizations. An org's admins (or the platform admin) give it sites; a
   * person creates personal sites for themself (the platform admin for anyone). Audited once, as
   * `site.create`, with the owner in the target.
   * @throws {LockboxError} `BAD_REQUEST` unless exactly one owner is named; `FORBIDDEN`;
   * `VALIDATION_FAILED` with the name rule's message; `CONFLICT` when the name is taken or the owner
   * org is also listed as supporting; `ORG_NOT_FOUND`/`USER_NOT_FOUND`.
   */
  async createSite(caller: Caller, input: CreateSiteInput): Promise<SiteRow> {
    const owner = await this.#newOwner(caller, input);
    const supportingOrgIds: string[] = [];
    for (const ref of input.supportingOrgs ?? []) {
      supportingOrgIds.push((await this.deps.policy.org(caller, ref)).org.id);
    }
    const name = parseOrThrow(siteNameSchema, input.name);
    const exists = () => new LockboxError("CONFLICT", `Site ${quoteIdentifier(name)} already exists.`);
    const id = randomUUID();
    const { vault } = this.deps;
    try {
      return await this.deps.stores.transaction(async (tx) => {
        const ownerTarget = await loadOwner(tx, owner, true);
        const supporting: OrgRow[] = [];
        for (const orgId of new Set(supportingOrgIds)) {
          const org = await tx.orgs.findOrgById(orgId);
          if (!org) throw notFoundError("org", orgId);
          if (org.id === owner.orgId) throw ownerCannotSupport(org, name);
          supporting.push(org);
        }
        if (await tx.sites.findSiteByName(name)) throw exists();
        const dataKey = await vault.newDataKey({ kind: "site", id }, tx.dataKeys);
        const site = await rethrowConflict(tx.sites.insertSite({ id, name, owner, dataKey }), exists);
        for (const org of supporting) await tx.sites.addSupportingOrg(id, org.id);
        await tx.audit.appendAudit({
          ...siteAuditBase(caller, site),
          action: "site.create",
          target: `${siteTarget(site)} owner ${ownerTarget.target}`,
        });
        return site;
      });
    } catch (error) {
      vault.forget({ kind: "site", id });
      throw error;
    }
  }

  /** `site:list`: the sites the caller can see (every site for the platform admin), optionally of one org it can see. */
  async listSites(caller: Caller, filter: { org?: string | undefined } & PageRequest): Promise<SiteRow[]> {
    const orgId =
      filter.org === undefined ? undefined : (await this.deps.policy.org(caller, filter.org)).org.id;
    return this.deps.stores.sites.listSites({
      ...(filter.limit !== undefined ? { limit: filter.limit } : {}),
      ...(filter.after !== undefined ? { after: filter.after } : {}),
      ...(orgId !== undefined ? { orgId } : {}),
      ...(caller.user.isAdmin ? {} : { visibleToUserId: caller.user.id }),
    });
  }

  /** `site:info`: a site the caller can see, with its supporting orgs, environments and team. */
  async getSite(caller: Caller, ref: string): Promise<SiteDetails> {
    const { site } = await this.deps.policy.site(caller, ref);
    const { sites, environments } = this.deps.stores;
    return {
      site,
      supportingOrgs: await sites.listSupportingOrgs(site.id),
      environments: await environments.listEnvironments(site.id),
      team: await sites.listTeamMembers(site.id),
    };
  }

  /**
   * `site:transfer`: moves a site to another org or person; resolution uses the new owner from the
   * next read on. A new owner org that supported the site stops supporting it. Audited as
   * `site.transfer`, with the old and the new owner in the target. Returns the site as it is now.
   * @throws {LockboxError} `SITE_NOT_FOUND`; `FORBIDDEN` (the site's administrators only, and the
   * new owner as for {@link createSite}); `ORG_NOT_FOUND`/`USER_NOT_FOUND` for the new owner.
   */
  async transferSite(caller: Caller, ref: string, to: OwnerChoice): Promise<SiteRow> {
    const site = await this.#administered(caller, ref, "transfer");
    const newOwner = await this.#newOwner(caller, to);
    return this.deps.stores.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      const from = await loadOwner(tx, ownerOf(current), false);
      const target = await loadOwner(tx, newOwner, true);
      await tx.sites.updateSiteOwner(current.id, newOwner);
      const moved = await tx.sites.findSiteById(current.id);
      if (!moved) throw notFoundError("site", site.name);
      await tx.recordChange({ kind: "site", id: site.id });
      await tx.audit.appendAudit({
        ...siteAuditBase(caller, moved),
        orgId: moved.ownerOrgId ?? current.ownerOrgId,
        action: "site.transfer",
        target: `${siteTarget(moved)} from ${from.target} to ${target.target}`,
      });
      return moved;
    });
  }

  /**
   * `site:delete`: deletes a site with its environments, secrets, tokens, team and supporting links,
   * and destroys its data key. Audited as `site.delete`.
   * @throws {LockboxError} `SITE_NOT_FOUND`; `FORBIDDEN` (the site's administrators only).
   */
  async deleteSite(caller: Caller, ref: string): Promise<void> {
    const site = await this.#administered(caller, ref, "delete");
    await this.deps.stores.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      await tx.sites.deleteSite(current.id);
      await tx.recordChange({ kind: "site", id: site.id });
      await tx.audit.appendAudit({
        ...siteAuditBase(caller, current),
        action: "site.delete",
        target: siteTarget(current),
      });
    });
    this.deps.vault.forget({ kind: "site", id: site.id });
  }

  /**
   * `site:supporting-org:add`: an org supports the site (a no-op change when it already does).
   * Audited as `site.supporting_org.add`.
   * @throws {LockboxError} `SITE_NOT_FOUND`/`ORG_NOT_FOUND`; `FORBIDDEN`; `CONFLICT` when the org
   * owns the site (`Organization 'x' owns site 'y' and cannot also support it.`).
   */
  async addSupportingOrg(caller: Caller, siteRef: string, orgRef: string): Promise<void> {
    const site = await this.#administered(caller, siteRef, "change the supporting organizations of");
    const { org } = await this.deps.policy.org(caller, orgRef);
    await this.deps.stores.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      if (current.ownerOrgId === org.id) throw ownerCannotSupport(org, current.name);
      if (!(await tx.orgs.findOrgById(org.id))) throw notFoundError("org", org.name);
      await tx.sites.addSupportingOrg(current.id, org.id);
      await tx.audit.appendAudit({
        ...siteAuditBase(caller, current),
        action: "site.supporting_org.add",
        target: `${siteTarget(current)}/${orgTarget(org)}`,
      });
    });
  }

  /**
   * `site:supporting-org:remove`, by the site's administrators or an admin of the supporting org.
   * Audited as `site.supporting_org.remove`. Answers the people on the site's team who are members
   * of that org: the team is its own grant (any member of a supporting org may have joined it), so
   * they keep managing the site, and the answer names them.
   * @throws {LockboxError} `SITE_NOT_FOUND`; `FORBIDDEN`; `NOT_FOUND` when the org does not support
   * the site (or does not exist).
   */
  async removeSupportingOrg(caller: Caller, siteRef: string, orgRef: string): Promise<SupportEnded> {
    const { site, access } = await this.deps.policy.site(caller, siteRef);
    let org: OrgRow | undefined;
    if (access.canAdminister) {
      // The site's administrators see its supporting orgs (site:info lists them), members or not.
      org = await findOrgByRef(this.deps.stores.orgs, orgRef);
    } else {
      // So may the supporting org's own admins end its support: they never had to agree to it
      // (any of its members may start it).
      const seen = await this.deps.policy.org(caller, orgRef).catch((error: unknown) => {
        if (isLockboxError(error, "ORG_NOT_FOUND")) return undefined;
        throw error;
      });
      if (!seen?.access.canAdminister) {
        throw forbiddenError(
          `Only the owner of site ${quoteIdentifier(site.name)} (or an admin of its organization), or an admin of the supporting organization, can end its support of it.`,
        );
      }
      org = seen.org;
    }
    return this.deps.stores.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      if (!org || !(await tx.sites.removeSupportingOrg(current.id, org.id))) {
        // The name as given: whether such an org exists elsewhere is not the caller's to learn.
        throw new LockboxError(
          "NOT_FOUND",
          `Organization ${quoteIdentifier(orgRef)} does not support site ${quoteIdentifier(current.name)}.`,
        );
      }
      await tx.audit.appendAudit({
        ...siteAuditBase(caller, current),
        action: "site.supporting_org.remove",
        target: `${siteTarget(current)}/${orgTarget(org)}`,
      });
      const teamMembersFromOrg: UserRow[] = [];
      for (const user of await tx.sites.listTeamMembers(current.id)) {
        if (await tx.orgs.findMembership(org.id, user.id)) teamMembersFromOrg.push(user);
      }
      return { org, siteName: current.name, teamMembersFromOrg };
    });
  }

  /**
   * `site:team:add`: puts a person on the site's team (a no-op change when already on it). Audited
   * as `site.team.add`.
   * @throws {LockboxError} `SITE_NOT_FOUND`/`USER_NOT_FOUND`; `FORBIDDEN` for the team itself.
   */
  async addTeamMember(caller: Caller, siteRef: string, userRef: string): Promise<void> {
    const site = await this.#teamManaged(caller, siteRef);
    const user = await this.#user(userRef);
    await this.deps.stores.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      await requireUser(tx, user);
      await tx.sites.addTeamMember(current.id, user.id);
      await tx.audit.appendAudit({
        ...siteAuditBase(caller, current),
        action: "site.team.add",
        target: `${siteTarget(current)}/${userTarget(user)}`,
      });
    });
  }

  /**
   * `site:team:remove`. Audited as `site.team.remove`. Answers the runtime and build tokens the
   * person minted for the site that still work (not revoked).
   * @throws {LockboxError} `SITE_NOT_FOUND`/`USER_NOT_FOUND`; `FORBIDDEN`; `NOT_FOUND` when the
   * person is not on the team.
   */
  async removeTeamMember(caller: Caller, siteRef: string, userRef: string): Promise<Removal> {
    const site = await this.#teamManaged(caller, siteRef);
    const user = await this.#user(userRef);
    return this.deps.stores.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      if (!(await tx.sites.removeTeamMember(current.id, user.id))) {
        throw new LockboxError(
          "NOT_FOUND",
          `User ${quoteIdentifier(user.email)} is not on the team of site ${quoteIdentifier(current.name)}.`,
        );
      }
      await tx.audit.appendAudit({
        ...siteAuditBase(caller, current),
        action: "site.team.remove",
        target: `${siteTarget(current)}/${userTarget(user)}`,
      });
      return {
        user,
        fromName: current.name,
        tokensStillActive: await tokensStillActive(this.deps, tx, user, { siteId: current.id }),
      };
    });
  }

  /** `env:list`: a site's environments, `dev`, `test`, `live` first, then multidevs by name. */
  async listEnvironments(caller: Caller, siteRef: string): Promise<EnvironmentRow[]> {
    const { site } = await this.deps.policy.site(caller, siteRef);
    return this.deps.stores.environments.listEnvironments(site.id);
  }

  /**
   * `multidev:create`: a multidev environment on a site the caller can see. Audited as
   * `multidev.create`.
   * @throws {LockboxError} `SITE_NOT_FOUND`; `VALIDATION_FAILED` with the name rule's message
   * (reserved names, such as the standard environments, included); `CONFLICT` when the site
   * already has it.
   */
  async createMultidev(caller: Caller, siteRef: string, name: string): Promise<EnvironmentRow> {
    const { site } = await this.deps.policy.site(caller, siteRef);
    const env = parseOrThrow(multidevNameSchema, name);
    const exists = () =>
      new LockboxError(
        "CONFLICT",
        `Environment ${quoteIdentifier(env)} already exists on site ${quoteIdentifier(site.name)}.`,
      );
    return this.deps.stores.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      if (await tx.environments.findEnvironment(current.id, env)) throw exists();
      const created = await rethrowConflict(tx.environments.insertEnvironment(current.id, env), exists);
      await tx.audit.appendAudit({
        ...siteAuditBase(caller, current),
        action: "multidev.create",
        target: `${siteTarget(current)}/env:${env}`,
        environment: env,
      });
      return created;
    });
  }

  /**
   * `multidev:delete`: deletes a multidev with the site's overrides for it and their history, and
   * revokes (deletes) the tokens bound to it: a multidev made later with the same name starts anew.
   * The owner org's overrides for that environment name stay. Audited as
   * `multidev.delete`.
   * @throws {LockboxError} `SITE_NOT_FOUND`; `VALIDATION_FAILED` for `dev`, `test` or `live`
   * (`'live' is a standard environment and cannot be deleted.`); `ENVIRONMENT_NOT_FOUND`.
   */
  async deleteMultidev(caller: Caller, siteRef: string, name: string): Promise<void> {
    const { site } = await this.deps.policy.site(caller, siteRef);
    if (isStandardEnvironment(name)) {
      throw new LockboxError(
        "VALIDATION_FAILED",
        `${quoteIdentifier(name)} is a standard environment and cannot be deleted.`,
      );
    }
    await this.deps.stores.transaction(async (tx) => {
      const current = await lockSite(tx, site);
      if (!(await tx.environments.deleteEnvironment(current.id, name))) {
        throw new LockboxError("ENVIRONMENT_NOT_FOUND", environmentNotFoundMessage(name, current.name));
      }
      await tx.recordChange({ kind: "site", id: site.id });
      await tx.audit.appendAudit({
        ...siteAuditBase(caller, current),
        action: "multidev.delete",
        target: `${siteTarget(current)}/env:${name}`,
        environment: name,
      });
    });
  }

  /** The owner `choice` names, if the caller may give sites to it. */
  async #newOwner(caller: Caller, choice: OwnerChoice): Promise<SiteOwner> {
    if ((choice.org === undefined) === (choice.owner === undefined)) {
      throw new LockboxError(
        "BAD_REQUEST",
        "Give exactly one owner: 'org' (an organization) or 'owner' (a person's email).",
      );
    }
    if (choice.org !== undefined) {
      const org = await this.deps.policy.administeredOrg(
        caller,
        choice.org,
        (o) => `Only an admin of organization ${quoteIdentifier(o.name)} can give it sites.`,
      );
      return { orgId: org.id };
    }
    // Anyone else than the platform admin may name only themselves, refused before any lookup.
    const owner = choice.owner ?? "";
    if (!caller.user.isAdmin && !namesCaller(caller, owner)) {
      throw forbiddenError("Only the platform admin can give a personal site to someone else.");
    }
    const person = await this.#user(owner);
    return { userId: person.id };
  }

  #administered(caller: Caller, ref: string, verb: string): Promise<SiteRow> {
    return this.deps.policy.administeredSite(
      caller,
      ref,
      (site) =>
        `Only the owner of site ${quoteIdentifier(site.name)} (or an admin of its organization) can ${verb} it.`,
    );
  }

  async #teamManaged(caller: Caller, ref: string): Promise<SiteRow> {
    const { site, access } = await this.deps.policy.site(caller, ref);
    if (!access.canManageTeam) {
      throw forbiddenError(
        `Only members of the organizations of site ${quoteIdentifier(site.name)} can change its team.`,
      );
    }
    return site;
  }

  #user(ref: string): Promise<UserRow> {
    return getUserByRef(this.deps.stores.users, ref);
  }
}

/** Whether a user reference (an email, compared as the store does, or a UUID) is the caller. */
function namesCaller(caller: Caller, ref: string): boolean {
  const trimmed = ref.trim().toLowerCase();
  return trimmed === caller.user.email.toLowerCase() || trimmed === caller.user.id.toLowerCase();
}
