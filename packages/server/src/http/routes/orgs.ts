import {
  createOrgBody,
  listOf,
  memberBody,
  memberResponse,
  orgParams,
  orgResponse,
  orgUserParams,
  pageQuery,
  removalResponse,
} from "@lockbox/core";
import type { OrgService } from "../../directory/org-service.js";
import { page, pageOfRows, presentOrg, presentRemoval } from "../present.js";
import type { RouteRegistry } from "../route.js";

/** Organizations and their members. */
export function orgRoutes(routes: RouteRegistry, orgs: OrgService): void {
  routes.add({
    method: "POST",
    url: "/v1/orgs",
    tag: "orgs",
    summary: "Create an organization (platform admin)",
    body: createOrgBody,
    status: 201,
    response: orgResponse,
    handler: async ({ caller, body }) => presentOrg(await orgs.createOrg(caller, body.name)),
  });

  routes.add({
    method: "GET",
    url: "/v1/orgs",
    tag: "orgs",
    summary: "List the organizations the caller belongs to (all, for the platform admin)",
    query: pageQuery,
    response: listOf(orgResponse),
    handler: async ({ caller, query }) =>
      page(await orgs.listOrgs(caller, query), query.limit, (o) => o.name, presentOrg),
  });

  routes.add({
    method: "GET",
    url: "/v1/orgs/:org",
    tag: "orgs",
    summary: "An organization, with the caller's role in it",
    params: orgParams,
    response: orgResponse,
    handler: async ({ caller, params }) => presentOrg(await orgs.getOrg(caller, params.org)),
  });

  routes.add({
    method: "DELETE",
    url: "/v1/orgs/:org",
    tag: "orgs",
    summary: "Delete an organization that owns no site (platform admin)",
    params: orgParams,
    status: 204,
    handler: ({ caller, params }) => orgs.deleteOrg(caller, params.org),
  });

  routes.add({
    method: "GET",
    url: "/v1/orgs/:org/members",
    tag: "orgs",
    summary: "List an organization's members, by email",
    params: orgParams,
    query: pageQuery,
    response: listOf(memberResponse),
    handler: async ({ caller, params, query }) => {
      const members = await orgs.listMembers(caller, params.org);
      return pageOfRows(
        members.map((m) => ({ userId: m.userId, email: m.email, role: m.role })),
        query,
        (m) => m.email,
      );
    },
  });

  routes.add({
    method: "PUT",
    url: "/v1/orgs/:org/members/:user",
    tag: "orgs",
    summary: "Add a member or change their role (org admin)",
    params: orgUserParams,
    body: memberBody,
    response: memberResponse,
    handler: async ({ caller, params, body }) => {
      const member = await orgs.addMember(caller, params.org, params.user, body.role);
      return { userId: member.userId, email: member.email, role: member.role };
    },
  });

  routes.add({
    method: "DELETE",
    url: "/v1/orgs/:org/members/:user",
    tag: "orgs",
    summary:
      "Remove a member (org admin); answers the runtime and build tokens they minted for the org's sites that still work",
    params: orgUserParams,
    response: removalResponse,
    handler: async ({ caller, params }) =>
      presentRemoval(await orgs.removeMember(caller, params.org, params.user), "organization"),
  });
}
