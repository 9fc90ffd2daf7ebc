import {
  createEnvironmentBody,
  createSiteBody,
  environmentResponse,
  LockboxError,
  listOf,
  notFoundError,
  pageQuery,
  siteEnvParams,
  siteInfoResponse,
  siteListQuery,
  siteOrgParams,
  siteParams,
  siteResponse,
  siteUserParams,
  transferBody,
} from "@lockbox/core";
import type { SiteOwner } from "../../db/secret-store.js";
import { type Caller, forbidden } from "../../directory/access-policy.js";
import type { RouteContext } from "../app.js";
import { compareEnvironmentNames, contextOf, page, pageOfRows, presentSite } from "../present.js";

/** Sites: creation, transfer, deletion, supporting orgs, team and environments. */
export function siteRoutes({ routes, directory, store, access }: RouteContext): void {
  const site = async (caller: Caller, ref: string) =>
    access.requireSite(caller, await directory.findSite(ref), ref);
  const org = async (caller: Caller, ref: string) =>
    access.requireOrg(caller, await directory.findOrg(ref), ref);
  const user = async (ref: string) => {
    const found = await directory.findUser(ref);
    if (!found) throw notFoundError("user", ref);
    return found;
  };

  /** The new owner named by `{org}` or `{owner}`, checked against what the caller may do. */
  const ownerFrom = async (
    caller: Caller,
    body: { org?: string | undefined; owner?: string | undefined },
  ) => {
    if ((body.org === undefined) === (body.owner === undefined)) {
      throw new LockboxError(
        "BAD_REQUEST",
        "Give exactly one owner: 'org' (an organization) or 'owner' (a person's email).",
      );
    }
    if (body.org !== undefined) {
      const target = await org(caller, body.org);
      if (!target.access.canAdminister) {
        throw forbidden(`Only an admin of organization '${target.org.name}' can give it sites.`);
      }
      return { orgId: target.org.id } satisfies SiteOwner;
    }
    const person = await user(body.owner ?? "");
    if (!caller.user.isAdmin && person.id !== caller.user.id) {
      throw forbidden("Only the platform admin can give a personal site to someone else.");
    }
    return { userId: person.id } satisfies SiteOwner;
  };

  routes.add({
    method: "POST",
    url: "/v1/sites",
    tag: "sites",
    summary: "Create a site owned by an organization (its admins) or a person",
    body: createSiteBody,
    status: 201,
    response: siteResponse,
    handler: async ({ caller, body, request }) => {
      const owner = await ownerFrom(caller, body);
      const supportingOrgIds: string[] = [];
      for (const ref of body.supportingOrgs ?? []) supportingOrgIds.push((await org(caller, ref)).org.id);
      const created = await directory.createSite(contextOf(request), {
        name: body.name,
        owner,
        supportingOrgIds,
      });
      return presentSite(store, created);
    },
  });

  routes.add({
    method: "GET",
    url: "/v1/sites",
    tag: "sites",
    summary: "List the sites the caller can see",
    query: siteListQuery,
    response: listOf(siteResponse),
    handler: async ({ caller, query }) => {
      const orgId = query.org === undefined ? undefined : (await org(caller, query.org)).org.id;
      const sites = await store.listSites({
        ...(query.limit !== undefined ? { limit: query.limit } : {}),
        ...(query.after !== undefined ? { after: query.after } : {}),
        ...(orgId !== undefined ? { orgId } : {}),
        ...(caller.user.isAdmin ? {} : { visibleToUserId: caller.user.id }),
      });
      const items = [];
      for (const s of sites) items.push(await presentSite(store, s));
      return page(
        items,
        query.limit,
        (s) => s.name,
        (s) => s,
      );
    },
  });

  routes.add({
    method: "GET",
    url: "/v1/sites/:site",
    tag: "sites",
    summary: "A site with its owner, supporting organizations, environments and team",
    params: siteParams,
    response: siteInfoResponse,
    handler: async ({ caller, params }) => {
      const found = (await site(caller, params.site)).site;
      return {
        ...(await presentSite(store, found)),
        supportingOrgs: (await store.listSupportingOrgs(found.id)).map((o) => ({ id: o.id, name: o.name })),
        environments: (await store.listEnvironments(found.id)).map((e) => ({ name: e.name, kind: e.kind })),
        team: (await store.listTeamMembers(found.id)).map((u) => ({ id: u.id, email: u.email })),
      };
    },
  });

  routes.add({
    method: "DELETE",
    url: "/v1/sites/:site",
    tag: "sites",
    summary: "Delete a site with its secrets, environments and tokens",
    params: siteParams,
    status: 204,
    handler: async ({ caller, params, request }) => {
      const { site: found, access: siteAccess } = await site(caller, params.site);
      if (!siteAccess.canAdminister) throw forbidden(administerMessage(found.name, "delete"));
      await directory.deleteSite(contextOf(request), found);
    },
  });

  routes.add({
    method: "POST",
    url: "/v1/sites/:site/transfer",
    tag: "sites",
    summary: "Move a site to another organization or person",
    params: siteParams,
    body: transferBody,
    response: siteResponse,
    handler: async ({ caller, params, body, request }) => {
      const { site: found, access: siteAccess } = await site(caller, params.site);
      if (!siteAccess.canAdminister) throw forbidden(administerMessage(found.name, "transfer"));
      const owner = await ownerFrom(caller, body);
      return presentSite(store, await directory.transferSite(contextOf(request), found, owner));
    },
  });

  for (const method of ["PUT", "DELETE"] as const) {
    routes.add({
      method,
      url: "/v1/sites/:site/supporting-orgs/:org",
      tag: "sites",
      summary: method === "PUT" ? "Add a supporting organization" : "Remove a supporting organization",
      params: siteOrgParams,
      status: 204,
      handler: async ({ caller, params, request }) => {
        const { site: found, access: siteAccess } = await site(caller, params.site);
        if (!siteAccess.canAdminister)
          throw forbidden(administerMessage(found.name, "change the supporting organizations of"));
        const supporting = (await org(caller, params.org)).org;
        if (method === "PUT") await directory.addSupportingOrg(contextOf(request), found, supporting);
        else await directory.removeSupportingOrg(contextOf(request), found, supporting);
      },
    });

    routes.add({
      method,
      url: "/v1/sites/:site/team/:user",
      tag: "sites",
      summary: method === "PUT" ? "Add a person to the site's team" : "Remove a person from the site's team",
      params: siteUserParams,
      status: 204,
      handler: async ({ caller, params, request }) => {
        const { site: found, access: siteAccess } = await site(caller, params.site);
        if (!siteAccess.canManageTeam) {
          throw forbidden(`Only members of the organizations of site '${found.name}' can change its team.`);
        }
        const person = await user(params.user);
        if (method === "PUT") await directory.addTeamMember(contextOf(request), found, person);
        else await directory.removeTeamMember(contextOf(request), found, person);
      },
    });
  }

  routes.add({
    method: "GET",
    url: "/v1/sites/:site/environments",
    tag: "environments",
    summary: "List a site's environments: dev, test, live, then multidevs by name",
    params: siteParams,
    query: pageQuery,
    response: listOf(environmentResponse),
    handler: async ({ caller, params, query }) => {
      const found = (await site(caller, params.site)).site;
      const environments = await store.listEnvironments(found.id);
      return pageOfRows(
        environments.map((e) => ({ name: e.name, kind: e.kind, createdAt: e.createdAt })),
        query,
        (e) => e.name,
        compareEnvironmentNames,
      );
    },
  });

  routes.add({
    method: "POST",
    url: "/v1/sites/:site/environments",
    tag: "environments",
    summary: "Create a multidev environment",
    params: siteParams,
    body: createEnvironmentBody,
    status: 201,
    response: environmentResponse,
    handler: async ({ caller, params, body, request }) => {
      const found = (await site(caller, params.site)).site;
      const env = await directory.createMultidev(contextOf(request), found, body.name);
      return { name: env.name, kind: env.kind, createdAt: env.createdAt };
    },
  });

  routes.add({
    method: "DELETE",
    url: "/v1/sites/:site/environments/:env",
    tag: "environments",
    summary: "Delete a multidev with its site overrides and tokens",
    params: siteEnvParams,
    status: 204,
    handler: async ({ caller, params, request }) => {
      const found = (await site(caller, params.site)).site;
      await directory.deleteMultidev(contextOf(request), found, params.env);
    },
  });
}

function administerMessage(site: string, verb: string): string {
  return `Only the owner of site '${site}' (or an admin of its organization) can ${verb} it.`;
}
