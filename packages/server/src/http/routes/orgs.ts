import {
  createOrgBody,
  listOf,
  memberBody,
  memberResponse,
  notFoundError,
  orgParams,
  orgResponse,
  orgUserParams,
  pageQuery,
} from "@lockbox/core";
import { forbidden } from "../../directory/access-policy.js";
import type { RouteContext } from "../app.js";
import { contextOf, page, pageOfRows, presentOrg } from "../present.js";

/** Organizations and their members. */
export function orgRoutes({ routes, directory, store, access }: RouteContext): void {
  routes.add({
    method: "POST",
    url: "/v1/orgs",
    tag: "orgs",
    summary: "Create an organization (platform admin)",
    body: createOrgBody,
    status: 201,
    response: orgResponse,
    handler: async ({ caller, body, request }) => {
      if (!caller.user.isAdmin) throw forbidden("Only the platform admin can create organizations.");
      return presentOrg(await directory.createOrg(contextOf(request), body.name));
    },
  });

  routes.add({
    method: "GET",
    url: "/v1/orgs",
    tag: "orgs",
    summary: "List the organizations the caller belongs to (all, for the platform admin)",
    query: pageQuery,
    response: listOf(orgResponse),
    handler: async ({ caller, query }) => {
      const orgs = await store.listOrgs({
        ...query,
        ...(caller.user.isAdmin ? {} : { memberUserId: caller.user.id }),
      });
      const roles = new Map<string, string>();
      for (const org of orgs) roles.set(org.id, (await access.org(caller, org))?.role ?? "member");
      return page(
        orgs,
        query.limit,
        (o) => o.name,
        (o) => presentOrg(o, roles.get(o.id)),
      );
    },
  });

  routes.add({
    method: "GET",
    url: "/v1/orgs/:org",
    tag: "orgs",
    summary: "An organization, with the caller's role in it",
    params: orgParams,
    response: orgResponse,
    handler: async ({ caller, params }) => {
      const { org, access: orgAccess } = await access.requireOrg(
        caller,
        await directory.findOrg(params.org),
        params.org,
      );
      return presentOrg(org, orgAccess.role);
    },
  });

  routes.add({
    method: "DELETE",
    url: "/v1/orgs/:org",
    tag: "orgs",
    summary: "Delete an organization that owns no site (platform admin)",
    params: orgParams,
    status: 204,
    handler: async ({ caller, params, request }) => {
      const { org } = await access.requireOrg(caller, await directory.findOrg(params.org), params.org);
      if (!caller.user.isAdmin)
        throw forbidden(`Only the platform admin can delete organization '${org.name}'.`);
      await directory.deleteOrg(contextOf(request), org);
    },
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
      const { org } = await access.requireOrg(caller, await directory.findOrg(params.org), params.org);
      const members = await store.listMemberships(org.id);
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
    handler: async ({ caller, params, body, request }) => {
      const { org, access: orgAccess } = await access.requireOrg(
        caller,
        await directory.findOrg(params.org),
        params.org,
      );
      if (!orgAccess.canAdminister)
        throw forbidden(`Only an admin of organization '${org.name}' can manage its members.`);
      const user = await directory.findUser(params.user);
      if (!user) throw notFoundError("user", params.user);
      const membership = await directory.addMember(contextOf(request), org, user, body.role);
      return { userId: user.id, email: user.email, role: membership.role };
    },
  });

  routes.add({
    method: "DELETE",
    url: "/v1/orgs/:org/members/:user",
    tag: "orgs",
    summary: "Remove a member (org admin)",
    params: orgUserParams,
    status: 204,
    handler: async ({ caller, params, request }) => {
      const { org, access: orgAccess } = await access.requireOrg(
        caller,
        await directory.findOrg(params.org),
        params.org,
      );
      if (!orgAccess.canAdminister)
        throw forbidden(`Only an admin of organization '${org.name}' can manage its members.`);
      const user = await directory.findUser(params.user);
      if (!user) throw notFoundError("user", params.user);
      await directory.removeMember(contextOf(request), org, user);
    },
  });
}
