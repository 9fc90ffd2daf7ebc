import { auditEventResponse, auditQuery, auditVerifyResponse, listOf } from "@lockbox/core";
import type { AuditService } from "../../audit/audit-service.js";
import { page, presentEvent } from "../present.js";
import type { RouteRegistry } from "../route.js";

/** The audit log: filtered listings and verification of the hash chain. */
export function auditRoutes(routes: RouteRegistry, audit: AuditService): void {
  routes.add({
    method: "GET",
    url: "/v1/audit",
    tag: "audit",
    summary:
      "Audit events, newest first, paged with ?before=<next> (org admins for ?org=, site managers for ?site=, all for the admin)",
    query: auditQuery,
    response: listOf(auditEventResponse),
    // `next` is the `before` of the following (older) page.
    handler: async ({ caller, query }) =>
      page(await audit.list(caller, query), query.limit, (event) => String(event.seq), presentEvent),
  });

  routes.add({
    method: "GET",
    url: "/v1/audit/verify",
    tag: "audit",
    summary: "Verify the audit hash chain and name the first altered or missing event (platform admin)",
    response: auditVerifyResponse,
    handler: ({ caller }) => audit.verify(caller),
  });
}
