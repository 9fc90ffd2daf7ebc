import type { OrgRow, SiteRow, UserRow } from "../db/secret-store.js";

/** Audit targets carry UUID and name, so they stay meaningful after a rename or deletion. */
export function siteTarget(site: Pick<SiteRow, "id" | "name">): string {
  return `site:${site.id}:${site.name}`;
}

export function orgTarget(org: Pick<OrgRow, "id" | "name">): string {
  return `org:${org.id}:${org.name}`;
}

/** Audit targets name a user by UUID and email, so they stay meaningful after the user is gone. */
export function userTarget(user: Pick<UserRow, "id" | "email">): string {
  return `user:${user.id}:${user.email}`;
}
