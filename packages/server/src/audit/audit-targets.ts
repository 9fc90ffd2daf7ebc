import type { OrgRow, SiteRow, UserRow } from "../directory/records.js";
import type { RequestContext } from "./request-context.js";

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

/** The fields every successful event of a request shares: who, which request, success. */
export function auditBase(ctx: RequestContext) {
  return { actor: ctx.actor, requestId: ctx.requestId ?? null, outcome: "success" } as const;
}

/** {@link auditBase} for an event about a site, filed under the site and its owner org. */
export function siteAuditBase(ctx: RequestContext, site: SiteRow) {
  return { ...auditBase(ctx), siteId: site.id, orgId: site.ownerOrgId };
}
