import { LockboxError, notFoundError } from "@lockbox/core";
import type { Caller } from "./caller.js";
import type { OrgStore, SiteStore } from "./directory-store.js";
import { findOrgByRef, findSiteByRef } from "./lookups.js";
import type { OrgRole, OrgRow, SiteRelation, SiteRow } from "./records.js";

/** What a caller may do with one organization; absent when it may not see it. */
export interface OrgAccess {
  /** `platform-admin`, or the caller's role in the org. */
  readonly role: "platform-admin" | OrgRole;
  /** Manage the org's secrets and members, create its sites, read its audit log (SPEC §5: org admin). */
  readonly canAdminister: boolean;
}

/** What a caller may do with one site; absent when it may not see it. */
export interface SiteAccess {
  /** Manage the site's secrets, multidevs and tokens (everyone who can see the site). */
  readonly canManage: true;
  /** Add and remove the site's team (org members of owner and supporting orgs, owner, admin). */
  readonly canManageTeam: boolean;
  /** Transfer or delete the site, change its supporting orgs (owner org admin, personal owner, admin). */
  readonly canAdminister: boolean;
}

/**
 * SPEC §5's role table for organizations: the platform admin administers every org, an org's
 * admins administer it, its members see it, everyone else does not.
 */
export function orgAccess(caller: Caller, role: OrgRole | null): OrgAccess | undefined {
  if (caller.user.isAdmin) return { role: "platform-admin", canAdminister: true };
  if (role === null) return undefined;
  return { role, canAdminister: role === "admin" };
}

/**
 * SPEC §5's role table for sites: the platform admin and a personal site's owner do everything;
 * members of the owner org manage it and its team (its admins also administer it); members of a
 * supporting org manage it and its team; the site's team manages it; everyone else does not see it.
 */
export function siteAccess(caller: Caller, site: SiteRow, relation: SiteRelation): SiteAccess | undefined {
  if (caller.user.isAdmin || site.ownerUserId === caller.user.id) {
    return { canManage: true, canManageTeam: true, canAdminister: true };
  }
  if (relation.ownerOrgRole !== null) {
    return { canManage: true, canManageTeam: true, canAdminister: relation.ownerOrgRole === "admin" };
  }
  if (relation.supportingMember) return { canManage: true, canManageTeam: true, canAdminister: false };
  if (relation.onTeam) return { canManage: true, canManageTeam: false, canAdminister: false };
  return undefined;
}

/** What the policy reads: orgs and sites by reference, memberships, and one site relation query. */
export interface AccessStores {
  readonly orgs: Pick<OrgStore, "findOrgById" | "findOrgByName" | "findMembership">;
  readonly sites: Pick<SiteStore, "findSiteById" | "findSiteByName" | "siteRelation">;
}

/**
 * The role table applied: every service operation on behalf of someone starts here. Lookups by
 * name or UUID answer the same 404 for a missing resource and for one the caller may not see, so
 * a caller never learns that a hidden resource exists; 403 (naming what would be needed) only for
 * a visible resource the caller may not change. Each check is one or two indexed reads.
 */
export class AccessPolicy {
  constructor(private readonly stores: AccessStores) {}

  /** The org `ref` names and the caller's access to it, or ORG_NOT_FOUND. */
  async org(caller: Caller, ref: string): Promise<{ org: OrgRow; access: OrgAccess }> {
    const org = await findOrgByRef(this.stores.orgs, ref);
    const access =
      org &&
      orgAccess(
        caller,
        caller.user.isAdmin
          ? null
          : ((await this.stores.orgs.findMembership(org.id, caller.user.id))?.role ?? null),
      );
    if (!org || !access) throw notFoundError("org", ref);
    return { org, access };
  }

  /** The org `ref` names if the caller administers it: ORG_NOT_FOUND, or FORBIDDEN with `forbidden(org)`. */
  async administeredOrg(caller: Caller, ref: string, forbidden: (org: OrgRow) => string): Promise<OrgRow> {
    const { org, access } = await this.org(caller, ref);
    if (!access.canAdminister) throw forbiddenError(forbidden(org));
    return org;
  }

  /** The site `ref` names and the caller's access to it, or SITE_NOT_FOUND. */
  async site(caller: Caller, ref: string): Promise<{ site: SiteRow; access: SiteAccess }> {
    const site = await findSiteByRef(this.stores.sites, ref);
    const access = site && (await this.siteAccessOf(caller, site));
    if (!site || !access) throw notFoundError("site", ref);
    return { site, access };
  }

  /** The caller's access to a site it already holds, or undefined when it may not see it. */
  async siteAccessOf(caller: Caller, site: SiteRow): Promise<SiteAccess | undefined> {
    if (caller.user.isAdmin || site.ownerUserId === caller.user.id) {
      return siteAccess(caller, site, NO_RELATION);
    }
    return siteAccess(caller, site, await this.stores.sites.siteRelation(site.id, caller.user.id));
  }

  /** The site `ref` names if the caller administers it: SITE_NOT_FOUND, or FORBIDDEN with `forbidden(site)`. */
  async administeredSite(
    caller: Caller,
    ref: string,
    forbidden: (site: SiteRow) => string,
  ): Promise<SiteRow> {
    const { site, access } = await this.site(caller, ref);
    if (!access.canAdminister) throw forbiddenError(forbidden(site));
    return site;
  }

  /** FORBIDDEN with `message` unless the caller is the platform admin. */
  requirePlatformAdmin(caller: Caller, message: string): void {
    if (!caller.user.isAdmin) throw forbiddenError(message);
  }
}

const NO_RELATION: SiteRelation = { ownerOrgRole: null, supportingMember: false, onTeam: false };

/** 403 for a visible resource the caller may not change; says what would be needed. */
export function forbiddenError(message: string): LockboxError {
  return new LockboxError("FORBIDDEN", message);
}
