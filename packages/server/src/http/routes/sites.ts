import {
  createEnvironmentBody,
  createSiteBody,
  environmentResponse,
  listOf,
  pageQuery,
  removalResponse,
  siteEnvParams,
  siteInfoResponse,
  siteListQuery,
  siteOrgParams,
  siteParams,
  siteResponse,
  siteUserParams,
  supportEndedResponse,
  transferBody,
} from "@lockbox/core";
import type { SiteService } from "../../directory/site-service.js";
import {
  compareEnvironmentNames,
  page,
  pageOfRows,
  presentRemoval,
  presentSite,
  presentSupportEnded,
} from "../present.js";
import type { RouteRegistry } from "../route.js";

/** Sites: creation, transfer, deletion, supporting orgs, team and environments. */
export function siteRoutes(routes: RouteRegistry, sites: SiteService): void {
  routes.add({
    method: "POST",
    url: "/v1/sites",
    tag: "sites",
    summary: "Create a site owned by an organization (its admins) or a person",
    body: createSiteBody,
    status: 201,
    response: siteResponse,
    handler: async ({ caller, body }) => presentSite(await sites.createSite(caller, body)),
  });

  routes.add({
    method: "GET",
    url: "/v1/sites",
    tag: "sites",
    summary: "List the sites the caller can see",
    query: siteListQuery,
    response: listOf(siteResponse),
    handler: async ({ caller, query }) =>
      page(await sites.listSites(caller, query), query.limit, (s) => s.name, presentSite),
  });

  routes.add({
    method: "GET",
    url: "/v1/sites/:site",
    tag: "sites",
    summary: "A site with its owner, supporting organizations, environments and team",
    params: siteParams,
    response: siteInfoResponse,
    handler: async ({ caller, params }) => {
      const details = await sites.getSite(caller, params.site);
      return {
        ...presentSite(details.site),
        supportingOrgs: details.supportingOrgs.map((o) => ({ id: o.id, name: o.name })),
        environments: details.environments.map((e) => ({ name: e.name, kind: e.kind })),
        team: details.team.map((u) => ({ id: u.id, email: u.email })),
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
    handler: ({ caller, params }) => sites.deleteSite(caller, params.site),
  });

  routes.add({
    method: "POST",
    url: "/v1/sites/:site/transfer",
    tag: "sites",
    summary: "Move a site to another organization or person",
    params: siteParams,
    body: transferBody,
    response: siteResponse,
    handler: async ({ caller, params, body }) =>
      presentSite(await sites.transferSite(caller, params.site, body)),
  });

  routes.add({
    method: "PUT",
    url: "/v1/sites/:site/supporting-orgs/:org",
    tag: "sites",
    summary: "Add a supporting organization",
    params: siteOrgParams,
    status: 204,
    handler: ({ caller, params }) => sites.addSupportingOrg(caller, params.site, params.org),
  });

  routes.add({
    method: "DELETE",
    url: "/v1/sites/:site/supporting-orgs/:org",
    tag: "sites",
    summary:
      "Remove a supporting organization; answers the people on the site's team who belong to it (they stay on the team)",
    params: siteOrgParams,
    response: supportEndedResponse,
    handler: async ({ caller, params }) =>
      presentSupportEnded(await sites.removeSupportingOrg(caller, params.site, params.org)),
  });

  routes.add({
    method: "PUT",
    url: "/v1/sites/:site/team/:user",
    tag: "sites",
    summary: "Add a person to the site's team",
    params: siteUserParams,
    status: 204,
    handler: ({ caller, params }) => sites.addTeamMember(caller, params.site, params.user),
  });

  routes.add({
    method: "DELETE",
    url: "/v1/sites/:site/team/:user",
    tag: "sites",
    summary:
      "Remove a person from the site's team; answers the runtime and build tokens they minted for the site that still work",
    params: siteUserParams,
    response: removalResponse,
    handler: async ({ caller, params }) =>
      presentRemoval(await sites.removeTeamMember(caller, params.site, params.user), "site"),
  });

  routes.add({
    method: "GET",
    url: "/v1/sites/:site/environments",
    tag: "environments",
    summary: "List a site's environments: dev, test, live, then multidevs by name",
    params: siteParams,
    query: pageQuery,
    response: listOf(environmentResponse),
    handler: async ({ caller, params, query }) => {
      const environments = await sites.listEnvironments(caller, params.site);
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
    handler: async ({ caller, params, body }) => {
      const env = await sites.createMultidev(caller, params.site, body.name);
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
    handler: ({ caller, params }) => sites.deleteMultidev(caller, params.site, params.env),
  });
}
