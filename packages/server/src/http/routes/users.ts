import { createUserBody, listOf, pageQuery, userResponse, whoamiResponse } from "@lockbox/core";
import type { OrgService } from "../../directory/org-service.js";
import { page, presentUser } from "../present.js";
import type { RouteRegistry } from "../route.js";

/** Who am I, and users (created by the platform admin only). */
export function userRoutes(routes: RouteRegistry, orgs: OrgService): void {
  routes.add({
    method: "GET",
    url: "/v1/whoami",
    tag: "users",
    summary: "The user and token behind this request",
    response: whoamiResponse,
    handler: async ({ caller }) => ({
      user: presentUser(caller.user),
      token: { id: caller.token.id, kind: caller.token.kind, expiresAt: caller.token.expiresAt },
    }),
  });

  routes.add({
    method: "POST",
    url: "/v1/users",
    tag: "users",
    summary: "Create a user (platform admin)",
    body: createUserBody,
    status: 201,
    response: userResponse,
    handler: async ({ caller, body }) =>
      presentUser(await orgs.createUser(caller, body.email, { isAdmin: body.admin ?? false })),
  });

  routes.add({
    method: "GET",
    url: "/v1/users",
    tag: "users",
    summary: "List users (platform admin)",
    query: pageQuery,
    response: listOf(userResponse),
    handler: async ({ caller, query }) =>
      page(await orgs.listUsers(caller, query), query.limit, (u) => u.email, presentUser),
  });
}
