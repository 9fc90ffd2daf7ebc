import type { FastifyRequest } from "fastify";
import type { RequestContext } from "../services/context.js";
import type { AuditEvent, OrgRow, SiteRow, StoreQueries, TokenRow, UserRow } from "../store/secret-store.js";

/** The audit context of a management request: the caller and the request id. */
export function contextOf(request: FastifyRequest): RequestContext {
  return {
    actor: request.caller ? `user:${request.caller.user.id}` : "anonymous",
    requestId: String(request.id),
  };
}

export function presentUser(user: UserRow) {
  return { id: user.id, email: user.email, admin: user.isAdmin, createdAt: user.createdAt };
}

export function presentOrg(org: OrgRow, role?: string) {
  return { id: org.id, name: org.name, createdAt: org.createdAt, ...(role ? { role } : {}) };
}

/** A site with its owner named (an org by name, a person by email). */
export async function presentSite(store: StoreQueries, site: SiteRow) {
  let owner: { kind: "org" | "user"; id: string; name: string };
  if (site.ownerOrgId !== null) {
    owner = {
      kind: "org",
      id: site.ownerOrgId,
      name: (await store.findOrgById(site.ownerOrgId))?.name ?? "",
    };
  } else {
    const userId = site.ownerUserId ?? "";
    owner = { kind: "user", id: userId, name: (await store.findUserById(userId))?.email ?? "" };
  }
  return { id: site.id, name: site.name, owner, createdAt: site.createdAt };
}

/** A token as listings show it: never the token or its hash. */
export async function presentToken(store: StoreQueries, token: TokenRow) {
  const user = token.userId === null ? undefined : await store.findUserById(token.userId);
  const site = token.siteId === null ? undefined : await store.findSiteById(token.siteId);
  return {
    id: token.id,
    kind: token.kind,
    user: user?.email ?? null,
    site: site?.name ?? null,
    environment: token.environmentName,
    createdAt: token.createdAt,
    lastUsedAt: token.lastUsedAt,
    expiresAt: token.expiresAt,
    revokedAt: token.revokedAt,
  };
}

export function presentEvent(event: AuditEvent) {
  const { prevHash: _prev, ...rest } = event;
  return rest;
}

/** `{items, next}` where `next` is the cursor of the last item when the page is full. */
export function page<T, P>(
  items: T[],
  limit: number | undefined,
  cursor: (item: T) => string,
  present: (item: T) => P,
) {
  const full = items.length === (limit ?? 100);
  const last = items.at(-1);
  return { items: items.map(present), next: full && last !== undefined ? cursor(last) : null };
}
