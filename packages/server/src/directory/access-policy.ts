import { LockboxError, notFoundError } from "@lockbox/core";
import type { OrgRow, SiteRow, StoreQueries, TokenRow, UserRow } from "../db/secret-store.js";

/** The person behind a user token. */
export interface Caller {
  readonly user: UserRow;
  readonly token: TokenRow;
}

/** What a caller may do with one organization; absent when it may not see it. */
export interface OrgAccess {
  /** `platform-admin`, or the caller's role in the org. */
  readonly role: "platform-admin" | "admin" | "member";
  /** Manage the org's secrets and members, create its sites (SPEC §5: org admin). */
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
 * The role table of SPEC §5, in one place. Lookups answer `undefined` for anything the caller
 * may not see, and the `require*` helpers turn that into the same 404 a real miss gives, so a
 * caller never learns that a hidden resource exists; 403 only for visible resources.
 */
export class AccessPolicy {
  readonly #store: StoreQueries;

  constructor(store: StoreQueries) {
    this.#store = store;
  }

  async org(caller: Caller, org: OrgRow): Promise<OrgAccess | undefined> {
    if (caller.user.isAdmin) return { role: "platform-admin", canAdminister: true };
    const membership = await this.#store.findMembership(org.id, caller.user.id);
    if (!membership) return undefined;
    return { role: membership.role, canAdminister: membership.role === "admin" };
  }

  async site(caller: Caller, site: SiteRow): Promise<SiteAccess | undefined> {
    const { user } = caller;
    if (user.isAdmin || site.ownerUserId === user.id) {
      return { canManage: true, canManageTeam: true, canAdminister: true };
    }
    if (site.ownerOrgId !== null) {
      const membership = await this.#store.findMembership(site.ownerOrgId, user.id);
      if (membership)
        return { canManage: true, canManageTeam: true, canAdminister: membership.role === "admin" };
    }
    for (const supporting of await this.#store.listSupportingOrgs(site.id)) {
      if (await this.#store.findMembership(supporting.id, user.id)) {
        return { canManage: true, canManageTeam: true, canAdminister: false };
      }
    }
    if (await this.#store.isTeamMember(site.id, user.id)) {
      return { canManage: true, canManageTeam: false, canAdminister: false };
    }
    return undefined;
  }

  /** The caller's access to `org`, or the 404 of a missing org. */
  async requireOrg(
    caller: Caller,
    org: OrgRow | undefined,
    ref: string,
  ): Promise<{ org: OrgRow; access: OrgAccess }> {
    const access = org && (await this.org(caller, org));
    if (!org || !access) throw notFoundError("org", ref);
    return { org, access };
  }

  /** The caller's access to `site`, or the 404 of a missing site. */
  async requireSite(
    caller: Caller,
    site: SiteRow | undefined,
    ref: string,
  ): Promise<{ site: SiteRow; access: SiteAccess }> {
    const access = site && (await this.site(caller, site));
    if (!site || !access) throw notFoundError("site", ref);
    return { site, access };
  }
}

/** 403 for a visible resource the caller may not change; says what would be needed. */
export function forbidden(message: string): LockboxError {
  return new LockboxError("FORBIDDEN", message);
}
