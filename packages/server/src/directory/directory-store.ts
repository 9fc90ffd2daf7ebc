import type { PageRequest } from "../db/ports.js";
import type {
  EnvironmentRow,
  MemberRow,
  MembershipRow,
  NewOrg,
  NewSite,
  NewUser,
  OrgListRow,
  OrgRole,
  OrgRow,
  SiteOwner,
  SiteRelation,
  SiteRow,
  UserRow,
} from "./records.js";

/**
 * The directory's storage ports (SPEC §1): users, organizations and their members, sites with their
 * owners, supporting organizations and teams, and environments. The conventions of `db/ports.ts`
 * apply. Implemented over Kysely in `kysely-user-org-store.ts` and `kysely-site-store.ts`.
 */

export interface UserStore {
  insertUser(user: NewUser): Promise<UserRow>;
  findUserById(id: string): Promise<UserRow | undefined>;
  /** Looks a user up by email, compared in lower case. */
  findUserByEmail(email: string): Promise<UserRow | undefined>;
  /** Users in email order. */
  listUsers(page: PageRequest): Promise<UserRow[]>;
  /** The first platform admin created, if any. */
  findFirstAdmin(): Promise<UserRow | undefined>;
}

export interface OrgStore {
  /** Creates an org with its wrapped data key. */
  insertOrg(org: NewOrg): Promise<OrgRow>;
  findOrgById(id: string): Promise<OrgRow | undefined>;
  findOrgByName(name: string): Promise<OrgRow | undefined>;
  /**
   * Orgs in name order; with `memberUserId`, only the orgs that user belongs to, each with the
   * user's role in it (`role` is null without `memberUserId`).
   */
  listOrgs(filter: { memberUserId?: string } & PageRequest): Promise<OrgListRow[]>;
  /** Number of sites the org owns (as primary org). */
  countSitesOwnedByOrg(orgId: string): Promise<number>;
  /**
   * Deletes an org with its secrets, memberships and supporting links. Throws CONFLICT if it still
   * owns a site (the foreign key settles a concurrent transfer). Returns false when absent.
   */
  deleteOrg(orgId: string): Promise<boolean>;
  /** Adds a member or changes their role. */
  upsertMembership(orgId: string, userId: string, role: OrgRole): Promise<MembershipRow>;
  findMembership(orgId: string, userId: string): Promise<MembershipRow | undefined>;
  /** Returns false when the user was not a member. */
  deleteMembership(orgId: string, userId: string): Promise<boolean>;
  /** Members of an org with their emails, in email order. */
  listMemberships(orgId: string): Promise<MemberRow[]>;
}

export interface SiteStore {
  /** Creates a site with its wrapped data key and its `dev`, `test`, `live` environments. */
  insertSite(site: NewSite): Promise<SiteRow>;
  findSiteById(id: string): Promise<SiteRow | undefined>;
  findSiteByName(name: string): Promise<SiteRow | undefined>;
  /**
   * Sites in name order. With `visibleToUserId`, only sites that user can see: owned personally,
   * on its team, or owned or supported by an org the user belongs to. With `orgId`, sites that org
   * owns or supports; with `ownerOrgId`, only sites that org owns.
   */
  listSites(
    filter: { visibleToUserId?: string; orgId?: string; ownerOrgId?: string } & PageRequest,
  ): Promise<SiteRow[]>;
  /**
   * What SPEC §5's role table needs to know about `userId` and one site, in one query: the user's
   * role in the owner org, whether the user belongs to a supporting org, and whether the user is on
   * the site's team.
   */
  siteRelation(siteId: string, userId: string): Promise<SiteRelation>;
  /**
   * Moves a site to a new owner (exactly one of the two ids). If the new owner org supported the
   * site, it stops supporting it. Returns false when the site is absent.
   */
  updateSiteOwner(siteId: string, owner: SiteOwner): Promise<boolean>;
  /** Deletes a site with its environments, secrets, tokens, links and data key. */
  deleteSite(siteId: string): Promise<boolean>;
  /** Adds a supporting org; a no-op when already supporting. */
  addSupportingOrg(siteId: string, orgId: string): Promise<void>;
  removeSupportingOrg(siteId: string, orgId: string): Promise<boolean>;
  listSupportingOrgs(siteId: string): Promise<OrgRow[]>;
  addTeamMember(siteId: string, userId: string): Promise<void>;
  removeTeamMember(siteId: string, userId: string): Promise<boolean>;
  listTeamMembers(siteId: string): Promise<UserRow[]>;
}

export interface EnvironmentStore {
  insertEnvironment(siteId: string, name: string): Promise<EnvironmentRow>;
  findEnvironment(siteId: string, name: string): Promise<EnvironmentRow | undefined>;
  /** `dev`, `test`, `live` first, then multidevs by name. */
  listEnvironments(siteId: string): Promise<EnvironmentRow[]>;
  /**
   * Deletes a multidev with the site's overrides for it, their versions (history) and the tokens
   * bound to it. Org overrides for that environment name stay. Returns false when absent.
   */
  deleteEnvironment(siteId: string, name: string): Promise<boolean>;
}
