import { auditEventResponse, auditQuery, auditVerifyResponse, LockboxError, listOf } from "@lockbox/core";
import { verifyAuditChain } from "../../audit/audit-verify.js";
import { forbidden } from "../../directory/access-policy.js";
import type { RouteContext } from "../app.js";
import { page, presentEvent } from "../present.js";

/** The audit log: filtered listings and verification of the hash chain. */
export function auditRoutes({ routes, directory, access, store }: RouteContext): void {
  routes.add({
    method: "GET",
    url: "/v1/audit",
    tag: "audit",
    summary:
      "Audit events, newest first, paged with ?before=<next> (org admins for ?org=, site managers for ?site=, all for the admin)",
    query: auditQuery,
    response: listOf(auditEventResponse),
    handler: async ({ caller, query }) => {
      const filter: { orgId?: string; siteId?: string; since?: string; limit?: number; beforeSeq?: number } =
        {};
      if (query.org !== undefined) {
        const { org, access: orgAccess } = await access.requireOrg(
          caller,
          await directory.findOrg(query.org),
          query.org,
        );
        if (!orgAccess.canAdminister)
          throw forbidden(`Only an admin of organization '${org.name}' can read its audit log.`);
        filter.orgId = org.id;
      }
      if (query.site !== undefined) {
        const { site } = await access.requireSite(caller, await directory.findSite(query.site), query.site);
        filter.siteId = site.id;
      }
      if (filter.orgId === undefined && filter.siteId === undefined && !caller.user.isAdmin) {
        throw forbidden("Only the platform admin can read the whole audit log: filter by org or site.");
      }
      if (query.since !== undefined) {
        const since = Date.parse(query.since);
        if (Number.isNaN(since)) {
          throw new LockboxError(
            "VALIDATION_FAILED",
            `Invalid 'since' time '${query.since}': use an ISO date such as 2026-11-01.`,
          );
        }
        filter.since = new Date(since).toISOString();
      }
      if (query.limit !== undefined) filter.limit = query.limit;
      if (query.before !== undefined) filter.beforeSeq = query.before;
      // `next` is the `before` of the following (older) page.
      return page(await store.listAudit(filter), filter.limit, (event) => String(event.seq), presentEvent);
    },
  });

  routes.add({
    method: "GET",
    url: "/v1/audit/verify",
    tag: "audit",
    summary: "Verify the audit hash chain and name the first altered or missing event (platform admin)",
    response: auditVerifyResponse,
    handler: async ({ caller }) => {
      if (!caller.user.isAdmin) throw forbidden("Only the platform admin can verify the audit log.");
      return verifyAuditChain(store);
    },
  });
}
