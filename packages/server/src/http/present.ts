import { quoteIdentifier, STANDARD_ENVIRONMENTS } from "@lockbox/core";
import type { ListedAuditEvent } from "../audit/records.js";
import type { Removal } from "../directory/directory-rules.js";
import type { OrgRow, SiteRow, UserRow } from "../directory/records.js";
import type { SupportEnded } from "../directory/site-service.js";
import type { TokenRow } from "../tokens/records.js";

export function presentUser(user: UserRow) {
  return { id: user.id, email: user.email, admin: user.isAdmin, createdAt: user.createdAt };
}

export function presentOrg(org: OrgRow & { readonly role?: string }) {
  return { id: org.id, name: org.name, createdAt: org.createdAt, ...(org.role ? { role: org.role } : {}) };
}

/** A site with its owner named (an org by name, a person by email). */
export function presentSite(site: SiteRow) {
  const owner =
    site.ownerOrgId !== null
      ? { kind: "org" as const, id: site.ownerOrgId, name: site.ownerName }
      : { kind: "user" as const, id: site.ownerUserId ?? "", name: site.ownerName };
  return { id: site.id, name: site.name, owner, createdAt: site.createdAt };
}

/** A token as listings show it: never the token or its hash. */
export function presentToken(token: TokenRow) {
  return {
    id: token.id,
    kind: token.kind,
    user: token.userEmail,
    site: token.siteName,
    environment: token.environmentName,
    createdAt: token.createdAt,
    lastUsedAt: token.lastUsedAt,
    expiresAt: token.expiresAt,
    revokedAt: token.revokedAt,
  };
}

/**
 * A removal from an organization or a site team, with the runtime and build tokens the person
 * minted there that still work (they are listed, not revoked: see docs/decisions.md).
 */
export function presentRemoval(removal: Removal, from: "organization" | "site") {
  const where =
    from === "organization"
      ? `organization ${quoteIdentifier(removal.fromName)}`
      : `the team of site ${quoteIdentifier(removal.fromName)}`;
  const count = removal.tokensStillActive.length;
  const tokens =
    count === 0
      ? ""
      : ` ${count === 1 ? "1 runtime or build token" : `${count} runtime or build tokens`} they created still ${count === 1 ? "works" : "work"}: revoke any that should stop.`;
  return {
    message: `User ${quoteIdentifier(removal.user.email)} was removed from ${where}.${tokens}`,
    tokensStillActive: removal.tokensStillActive.map(presentToken),
  };
}

/** An org's support of a site ended: the message, naming the team members who belong to that org. */
export function presentSupportEnded(ended: SupportEnded) {
  const count = ended.teamMembersFromOrg.length;
  const team =
    count === 0
      ? ""
      : ` ${count === 1 ? "1 person" : `${count} people`} on the site's team ${count === 1 ? "belongs" : "belong"} to it and still ${count === 1 ? "manages" : "manage"} the site: remove any who should not (lockbox site:team:remove ${ended.siteName} <email>).`;
  return {
    message: `Organization ${quoteIdentifier(ended.org.name)} no longer supports site ${quoteIdentifier(ended.siteName)}.${team}`,
    teamMembersFromOrg: ended.teamMembersFromOrg.map((user) => ({ email: user.email })),
  };
}

export function presentEvent(event: ListedAuditEvent) {
  const { prevHash: _prev, ...rest } = event;
  return rest;
}

/** Rows in a page when the request gives no `limit` (the store applies the same default). */
export const DEFAULT_PAGE_LIMIT = 100;

/** `{items, next}` where `next` is the cursor of the last item when the page is full. */
export function page<T, P>(
  items: T[],
  limit: number | undefined,
  cursor: (item: T) => string,
  present: (item: T) => P,
) {
  const full = items.length === (limit ?? DEFAULT_PAGE_LIMIT);
  const last = items.at(-1);
  return { items: items.map(present), next: full && last !== undefined ? cursor(last) : null };
}

/**
 * One page, in the `{items, next}` shape of {@link page}, of a listing that is computed whole (the
 * rows of a secret listing after resolution and redaction, an org's members, a site's
 * environments): the rows ordered by `compare` on their `key`, those strictly after the `after`
 * cursor, at most `limit` of them (default {@link DEFAULT_PAGE_LIMIT}). `next` is the last row's
 * key when more rows follow, else `null`.
 *
 * Keys must be unique among the rows and `compare` a total order on keys alone, so a cursor keeps
 * its place when its own row is deleted between two pages.
 */
export function pageOfRows<T>(
  rows: readonly T[],
  query: { readonly limit?: number | undefined; readonly after?: string | undefined },
  key: (row: T) => string,
  compare: (a: string, b: string) => number = compareCodeUnits,
): { items: T[]; next: string | null } {
  const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
  const { after } = query;
  const ordered = [...rows].sort((a, b) => compare(key(a), key(b)));
  const rest = after === undefined ? ordered : ordered.filter((row) => compare(key(row), after) > 0);
  const items = rest.slice(0, limit);
  const last = items.at(-1);
  return { items, next: rest.length > limit && last !== undefined ? key(last) : null };
}

/** Orders strings by UTF-16 code units: the same on every platform and database. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The order of a site's environments: `dev`, `test`, `live`, then multidevs by name. A total order
 * on names alone, since no multidev may take a standard environment's name.
 */
export function compareEnvironmentNames(a: string, b: string): number {
  const rank = (name: string) => {
    const index = (STANDARD_ENVIRONMENTS as readonly string[]).indexOf(name);
    return index === -1 ? STANDARD_ENVIRONMENTS.length : index;
  };
  return rank(a) - rank(b) || compareCodeUnits(a, b);
}
