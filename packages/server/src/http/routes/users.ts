import { createUserBody, listOf, pageQuery, userResponse } from "@lockbox/core";
import { z } from "zod";
import { forbidden } from "../../directory/access-policy.js";
import type { RouteContext } from "../app.js";
import { contextOf, page, presentUser } from "../present.js";

/** Who am I, and users (created by the platform admin only). */
export function userRoutes({ routes, directory, store }: RouteContext): void {
  routes.add({
    method: "GET",
    url: "/v1/whoami",
    tag: "users",
    summary: "The user and token behind this request",
    response: z.object({ user: userResponse, token: z.object({ id: z.string(), kind: z.string() }) }),
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
    handler: async ({ caller, body, request }) => {
      if (!caller.user.isAdmin) throw forbidden("Only the platform admin can create users.");
      return presentUser(
        await directory.createUser(contextOf(request), body.email, { isAdmin: body.admin ?? false }),
      );
    },
  });

  routes.add({
    method: "GET",
    url: "/v1/users",
    tag: "users",
    summary: "List users (platform admin)",
    query: pageQuery,
    response: listOf(userResponse),
    handler: async ({ caller, query }) => {
      if (!caller.user.isAdmin) throw forbidden("Only the platform admin can list users.");
      const users = await store.listUsers(query);
      return page(users, query.limit, (u) => u.email, presentUser);
    },
  });
}
