import { isUuid, notFoundError } from "@lockbox/core";
import type { OrgStore, SiteStore, UserStore } from "./directory-store.js";
import type { OrgRow, SiteRow, UserRow } from "./records.js";

/** An organization by name or UUID (any case); undefined when absent. */
export function findOrgByRef(
  orgs: Pick<OrgStore, "findOrgById" | "findOrgByName">,
  ref: string,
): Promise<OrgRow | undefined> {
  return isUuid(ref) ? orgs.findOrgById(ref.toLowerCase()) : orgs.findOrgByName(ref);
}

/** A site by name or UUID (any case); undefined when absent. */
export function findSiteByRef(
  sites: Pick<SiteStore, "findSiteById" | "findSiteByName">,
  ref: string,
): Promise<SiteRow | undefined> {
  return isUuid(ref) ? sites.findSiteById(ref.toLowerCase()) : sites.findSiteByName(ref);
}

/** A user by email (trimmed, compared in lower case) or UUID; undefined when absent. */
export function findUserByRef(
  users: Pick<UserStore, "findUserById" | "findUserByEmail">,
  ref: string,
): Promise<UserRow | undefined> {
  return isUuid(ref) ? users.findUserById(ref.toLowerCase()) : users.findUserByEmail(ref.trim());
}

/** {@link findUserByRef}, or USER_NOT_FOUND. People are not hidden from one another: any caller may name one. */
export async function getUserByRef(
  users: Pick<UserStore, "findUserById" | "findUserByEmail">,
  ref: string,
): Promise<UserRow> {
  const user = await findUserByRef(users, ref);
  if (!user) throw notFoundError("user", ref);
  return user;
}
