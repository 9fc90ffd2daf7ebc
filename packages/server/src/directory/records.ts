/** The directory's records (SPEC §1), as its store reads and writes them and its services return them. */
import type { EnvironmentKind, OrgRole } from "@lockbox/core";
import type { WrappedDataKey } from "../keys/data-key-store.js";

export type { EnvironmentKind, OrgRole };

export interface NewUser {
  readonly id: string;
  readonly email: string;
  readonly isAdmin: boolean;
}
export interface UserRow {
  readonly id: string;
  readonly email: string;
  readonly isAdmin: boolean;
  readonly createdAt: string;
}

export interface NewOrg {
  readonly id: string;
  readonly name: string;
  readonly dataKey: WrappedDataKey;
}
export interface OrgRow {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
}
export interface OrgListRow extends OrgRow {
  readonly role: OrgRole | null;
}

export interface MembershipRow {
  readonly orgId: string;
  readonly userId: string;
  readonly role: OrgRole;
  readonly createdAt: string;
}
export interface MemberRow extends MembershipRow {
  readonly email: string;
}

/** Exactly one of the two is set. */
export type SiteOwner =
  | { readonly orgId: string; readonly userId?: undefined }
  | { readonly userId: string; readonly orgId?: undefined };

export interface NewSite {
  readonly id: string;
  readonly name: string;
  readonly owner: SiteOwner;
  readonly dataKey: WrappedDataKey;
}
export interface SiteRow {
  readonly id: string;
  readonly name: string;
  readonly ownerOrgId: string | null;
  readonly ownerUserId: string | null;
  /** The owner org's name or the owning person's email, read with the site. */
  readonly ownerName: string;
  readonly createdAt: string;
}

/** One user's relation to one site, as the role table reads it. */
export interface SiteRelation {
  /** The user's role in the site's owner org; null for a personal site or a non-member. */
  readonly ownerOrgRole: OrgRole | null;
  /** Whether the user is a member of an org that supports the site. */
  readonly supportingMember: boolean;
  /** Whether the user is on the site's team. */
  readonly onTeam: boolean;
}

export interface EnvironmentRow {
  readonly id: string;
  readonly siteId: string;
  readonly name: string;
  readonly kind: EnvironmentKind;
  readonly createdAt: string;
}
