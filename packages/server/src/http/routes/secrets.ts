import {
  importSecretsBody,
  importSecretsResponse,
  itemsOf,
  listOf,
  localSecretsResponse,
  messageResponse,
  OVERRIDE_DELETED_MESSAGE,
  orgParams,
  orgSecretEnvParams,
  orgSecretParams,
  orgSecretRow,
  pageQuery,
  resolvedRow,
  resolveQuery,
  SECRET_DELETED_MESSAGE,
  SECRET_SET_MESSAGE,
  setSecretBody,
  setSecretResponse,
  siteParams,
  siteSecretEnvParams,
  siteSecretParams,
  siteSecretRow,
  siteSecretsQuery,
} from "@lockbox/core";
import type { z } from "zod";
import type { Caller } from "../../directory/caller.js";
import type { SecretsService, SetSecretInput, SetSecretResult } from "../../secrets/secrets-service.js";
import { pageOfRows } from "../present.js";
import type { RouteRegistry } from "../route.js";

/** Site and org secrets: set, override, delete, list, resolve (SPEC §2). */
export function secretRoutes(routes: RouteRegistry, secrets: SecretsService): void {
  // --- site secrets -----------------------------------------------------------------------------
  routes.add({
    method: "GET",
    url: "/v1/sites/:site/secrets",
    tag: "secrets",
    summary: "List the secrets a site sees (own and inherited), or with ?env= its overrides there, by name",
    params: siteParams,
    query: siteSecretsQuery,
    response: listOf(siteSecretRow),
    // Rows are paged after resolution and redaction; a name appears once (a site secret hides the
    // org secret of the same name), so it is the cursor.
    handler: async ({ caller, params, query }) =>
      pageOfRows(await secrets.listSiteSecrets(caller, params.site, query.env), query, (row) => row.name),
  });

  secretWriteRoutes(routes, {
    kind: "site",
    url: "/v1/sites/:site/secrets/:name",
    params: siteSecretParams,
    envParams: siteSecretEnvParams,
    owner: (params) => params.site,
    set: (caller, site, input) => secrets.setSiteSecret(caller, site, input),
    delete: (caller, site, name, env) => secrets.deleteSiteSecret(caller, site, name, env),
  });

  routes.add({
    method: "POST",
    url: "/v1/sites/:site/secrets/import",
    tag: "secrets",
    summary: "Set many site secrets (or, with env, overrides) in one transaction, or none: answers the plan",
    params: siteParams,
    body: importSecretsBody,
    response: importSecretsResponse,
    handler: ({ caller, params, body }) => secrets.importSiteSecrets(caller, params.site, body),
  });

  // Answered whole, not paginated: it is one resolution, the set the environment receives (and its
  // runtimes get in one body), and pages computed at different moments could combine into a set no
  // environment ever received.
  routes.add({
    method: "GET",
    url: "/v1/sites/:site/resolve",
    tag: "secrets",
    summary: "What an environment receives for a consumer scope, with each value's source",
    params: siteParams,
    query: resolveQuery,
    response: itemsOf(resolvedRow),
    handler: async ({ caller, params, query }) => ({
      items: await secrets.resolveForPeople(caller, params.site, query.env, query.scope),
    }),
  });

  routes.add({
    method: "GET",
    url: "/v1/sites/:site/local-secrets",
    tag: "secrets",
    summary: "The local development file of secret:site:local-generate (redacted like the listing)",
    params: siteParams,
    response: localSecretsResponse,
    handler: ({ caller, params }) => secrets.localSecretsFile(caller, params.site),
  });

  // --- org secrets ------------------------------------------------------------------------------
  routes.add({
    method: "GET",
    url: "/v1/orgs/:org/secrets",
    tag: "secrets",
    summary: "List an organization's secrets with their overrides, by name",
    params: orgParams,
    query: pageQuery,
    response: listOf(orgSecretRow),
    handler: async ({ caller, params, query }) =>
      pageOfRows(await secrets.listOrgSecrets(caller, params.org), query, (row) => row.name),
  });

  routes.add({
    method: "POST",
    url: "/v1/orgs/:org/secrets/import",
    tag: "secrets",
    summary: "Set many org secrets (or, with env, overrides) in one transaction, or none: answers the plan",
    params: orgParams,
    body: importSecretsBody,
    response: importSecretsResponse,
    handler: ({ caller, params, body }) => secrets.importOrgSecrets(caller, params.org, body),
  });

  secretWriteRoutes(routes, {
    kind: "org",
    url: "/v1/orgs/:org/secrets/:name",
    params: orgSecretParams,
    envParams: orgSecretEnvParams,
    owner: (params) => params.org,
    set: (caller, org, input) => secrets.setOrgSecret(caller, org, input),
    delete: (caller, org, name, env) => secrets.deleteOrgSecret(caller, org, name, env),
  });
}

/** The writes of one kind of owner: where its routes find the owner's reference and which service call they make. */
interface SecretWriter<P extends { name: string }> {
  readonly kind: "site" | "org";
  /** The secret's URL; its override's is this with `/envs/:env`. */
  readonly url: string;
  readonly params: z.ZodType<P>;
  readonly envParams: z.ZodType<P & { env: string }>;
  readonly owner: (params: P) => string;
  readonly set: (caller: Caller, owner: string, input: SetSecretInput) => Promise<SetSecretResult>;
  readonly delete: (caller: Caller, owner: string, name: string, env?: string) => Promise<void>;
}

/** Set and delete, of a secret (`PUT`/`DELETE …/secrets/:name`) and of its override (`…/envs/:env`). */
function secretWriteRoutes<P extends { name: string }>(routes: RouteRegistry, writer: SecretWriter<P>): void {
  const noun = `${writer.kind === "site" ? "a site" : "an org"} secret`;
  const envOf = (path: P): string | undefined =>
    "env" in path && typeof path.env === "string" ? path.env : undefined;
  for (const withEnv of [false, true]) {
    const url = withEnv ? `${writer.url}/envs/:env` : writer.url;
    const params = withEnv ? writer.envParams : writer.params;
    routes.add({
      method: "PUT",
      url,
      tag: "secrets",
      summary: withEnv ? `Set ${noun}'s override for one environment` : `Create or update ${noun}`,
      params,
      body: setSecretBody,
      response: setSecretResponse,
      handler: async ({ caller, params: path, body, reply }) => {
        const result = await writer.set(caller, writer.owner(path), {
          name: path.name,
          env: envOf(path),
          value: body.value,
          type: body.type,
          scopes: body.scopes,
        });
        if (result.created) void reply.code(201);
        return {
          message: SECRET_SET_MESSAGE,
          created: result.created,
          secret: { name: result.name, type: result.type, scopes: result.scopes },
          notes: result.notes,
        };
      },
    });
    routes.add({
      method: "DELETE",
      url,
      tag: "secrets",
      summary: withEnv ? `Delete ${noun}'s override (idempotent)` : `Delete ${noun} with its overrides`,
      params,
      response: messageResponse,
      handler: async ({ caller, params: path }) => {
        const env = envOf(path);
        await writer.delete(caller, writer.owner(path), path.name, env);
        return { message: env === undefined ? SECRET_DELETED_MESSAGE : OVERRIDE_DELETED_MESSAGE };
      },
    });
  }
}
