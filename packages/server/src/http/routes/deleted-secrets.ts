import {
  deletedSecretRow,
  listOf,
  orgParams,
  orgSecretParams,
  pageQuery,
  restoreSecretQuery,
  restoreSecretResponse,
  SECRET_RESTORED_MESSAGE,
  siteParams,
  siteSecretParams,
} from "@lockbox/core";
import type { DeletedSecretView, SecretRestoreService } from "../../secrets/secret-restore-service.js";
import { pageOfRows } from "../present.js";
import type { RouteRegistry } from "../route.js";

/** Deleted secrets (kept for the retention period) and their restore. */
export function deletedSecretRoutes(routes: RouteRegistry, restore: SecretRestoreService): void {
  // Two deleted secrets may share a name: the cursor adds the deletion time and the id.
  const key = (row: DeletedSecretView) => `${row.name}/${row.deletedAt}/${row.id}`;

  routes.add({
    method: "GET",
    url: "/v1/sites/:site/deleted-secrets",
    tag: "secrets",
    summary:
      "A site's deleted secrets that can still be restored: name, type, scopes, overrides, when and by whom",
    params: siteParams,
    query: pageQuery,
    response: listOf(deletedSecretRow),
    handler: async ({ caller, params, query }) =>
      pageOfRows(await restore.listDeletedSite(caller, params.site), query, key),
  });

  routes.add({
    method: "GET",
    url: "/v1/orgs/:org/deleted-secrets",
    tag: "secrets",
    summary: "An organization's deleted secrets that can still be restored (members)",
    params: orgParams,
    query: pageQuery,
    response: listOf(deletedSecretRow),
    handler: async ({ caller, params, query }) =>
      pageOfRows(await restore.listDeletedOrg(caller, params.org), query, key),
  });

  routes.add({
    method: "POST",
    url: "/v1/sites/:site/secrets/:name/restore",
    tag: "secrets",
    summary:
      "Bring back a deleted site secret with its type, scopes, base value and overrides as at deletion (409 when a secret of that name exists)",
    params: siteSecretParams,
    query: restoreSecretQuery,
    response: restoreSecretResponse,
    handler: async ({ caller, params, query }) => ({
      message: SECRET_RESTORED_MESSAGE,
      ...(await restore.restoreSite(caller, params.site, params.name, query.id)),
    }),
  });

  routes.add({
    method: "POST",
    url: "/v1/orgs/:org/secrets/:name/restore",
    tag: "secrets",
    summary: "Bring back a deleted organization secret with its overrides as at deletion (org admins)",
    params: orgSecretParams,
    query: restoreSecretQuery,
    response: restoreSecretResponse,
    handler: async ({ caller, params, query }) => ({
      message: SECRET_RESTORED_MESSAGE,
      ...(await restore.restoreOrg(caller, params.org, params.name, query.id)),
    }),
  });
}
