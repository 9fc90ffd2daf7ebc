import {
  listOf,
  orgSecretParams,
  rollbackSecretBody,
  rollbackSecretResponse,
  SECRET_ROLLED_BACK_MESSAGE,
  type SecretVersionsQuery,
  secretVersionRow,
  secretVersionsQuery,
  siteSecretParams,
} from "@lockbox/core";
import type { HistoryQuery, SecretHistoryService } from "../../secrets/secret-history-service.js";
import { page } from "../present.js";
import type { RouteRegistry } from "../route.js";

/** A secret's versions (newest first, paged with `?before=<next>`) and rollback to one of them. */
export function secretHistoryRoutes(routes: RouteRegistry, history: SecretHistoryService): void {
  const pageOf = <T extends { version: number }>(items: T[], limit: number | undefined) =>
    page(
      items,
      limit,
      (v) => String(v.version),
      (v) => v,
    );

  routes.add({
    method: "GET",
    url: "/v1/sites/:site/secrets/:name/versions",
    tag: "secrets",
    summary:
      "A site secret's versions (its base value, or with ?env= one override), newest first, paged with ?before=<next>; ?values=true includes the values the caller may read",
    params: siteSecretParams,
    query: secretVersionsQuery,
    response: listOf(secretVersionRow),
    handler: async ({ caller, params, query }) =>
      pageOf(await history.siteHistory(caller, params.site, params.name, historyQuery(query)), query.limit),
  });

  routes.add({
    method: "GET",
    url: "/v1/orgs/:org/secrets/:name/versions",
    tag: "secrets",
    summary:
      "An org secret's versions (its base value, or with ?env= one override), newest first, paged with ?before=<next>; ?values=true includes the values the caller may read",
    params: orgSecretParams,
    query: secretVersionsQuery,
    response: listOf(secretVersionRow),
    handler: async ({ caller, params, query }) =>
      pageOf(await history.orgHistory(caller, params.org, params.name, historyQuery(query)), query.limit),
  });

  routes.add({
    method: "POST",
    url: "/v1/sites/:site/secrets/:name/rollback",
    tag: "secrets",
    summary:
      "Make an earlier version of a site secret's base value (or of its `env` override) current, as a new version",
    params: siteSecretParams,
    body: rollbackSecretBody,
    response: rollbackSecretResponse,
    handler: async ({ caller, params, body }) => ({
      message: SECRET_ROLLED_BACK_MESSAGE,
      ...(await history.rollbackSite(caller, params.site, params.name, body.env, body.to)),
    }),
  });

  routes.add({
    method: "POST",
    url: "/v1/orgs/:org/secrets/:name/rollback",
    tag: "secrets",
    summary:
      "Make an earlier version of an org secret's base value (or of its `env` override) current, as a new version (org admins)",
    params: orgSecretParams,
    body: rollbackSecretBody,
    response: rollbackSecretResponse,
    handler: async ({ caller, params, body }) => ({
      message: SECRET_ROLLED_BACK_MESSAGE,
      ...(await history.rollbackOrg(caller, params.org, params.name, body.env, body.to)),
    }),
  });
}

function historyQuery(query: SecretVersionsQuery): HistoryQuery {
  return { env: query.env, limit: query.limit, before: query.before, values: query.values === "true" };
}
