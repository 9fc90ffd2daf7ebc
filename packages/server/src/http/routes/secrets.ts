import {
  environmentNotFoundMessage,
  isScope,
  itemsOf,
  LockboxError,
  listOf,
  localSecretsResponse,
  messageResponse,
  OVERRIDE_DELETED_MESSAGE,
  orgParams,
  orgSecretEnvParams,
  orgSecretParams,
  orgSecretRow,
  pageQuery,
  parseScopes,
  resolvedRow,
  resolveQuery,
  type Scope,
  SECRET_DELETED_MESSAGE,
  SECRET_SET_MESSAGE,
  type SecretType,
  secretTypeSchema,
  setSecretBody,
  setSecretResponse,
  siteParams,
  siteSecretEnvParams,
  siteSecretParams,
  siteSecretRow,
  siteSecretsQuery,
} from "@lockbox/core";
import type { z } from "zod";
import { type Caller, forbidden } from "../../directory/access-policy.js";
import type { RequestContext } from "../../directory/caller.js";
import type { SetSecretInput, SetSecretResult } from "../../secrets/secrets-service.js";
import type { RouteContext } from "../app.js";
import { contextOf, pageOfRows } from "../present.js";
import type { RouteRegistry } from "../route.js";

/** Site and org secrets: set, override, delete, list, resolve (SPEC §2). */
export function secretRoutes({ routes, directory, secrets, access, store }: RouteContext): void {
  const site = async (caller: Caller, ref: string) =>
    (await access.requireSite(caller, await directory.findSite(ref), ref)).site;
  const org = async (caller: Caller, ref: string) =>
    access.requireOrg(caller, await directory.findOrg(ref), ref);
  const orgAdmin = async (caller: Caller, ref: string) => {
    const { org: found, access: orgAccess } = await org(caller, ref);
    if (!orgAccess.canAdminister)
      throw forbidden(`Only an admin of organization '${found.name}' can change its secrets.`);
    return found;
  };

  // --- site secrets -----------------------------------------------------------------------------
  routes.add({
    method: "GET",
    url: "/v1/sites/:site/secrets",
    tag: "secrets",
    summary: "List the secrets a site sees (own and inherited), or with ?env= its overrides there, by name",
    params: siteParams,
    query: siteSecretsQuery,
    response: listOf(siteSecretRow),
    handler: async ({ caller, params, query, request }) => {
      const found = await site(caller, params.site);
      if (query.env !== undefined && !(await store.findEnvironment(found.id, query.env))) {
        throw new LockboxError("ENVIRONMENT_NOT_FOUND", environmentNotFoundMessage(query.env, found.name));
      }
      // Rows are paged after resolution and redaction; a name appears once (a site secret hides
      // the org secret of the same name), so it is the cursor.
      const rows = await secrets.listSiteSecrets(contextOf(request), found, query.env);
      return pageOfRows(rows, query, (row) => row.name);
    },
  });

  secretWriteRoutes(routes, {
    kind: "site",
    url: "/v1/sites/:site/secrets/:name",
    params: siteSecretParams,
    envParams: siteSecretEnvParams,
    find: (caller, params) => site(caller, params.site),
    set: (ctx, owner, input) => secrets.setSiteSecret(ctx, owner, input),
    delete: (ctx, owner, name, env) => secrets.deleteSiteSecret(ctx, owner, name, env),
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
    handler: async ({ caller, params, query, request }) => {
      const found = await site(caller, params.site);
      if (!(await store.findEnvironment(found.id, query.env))) {
        throw new LockboxError("ENVIRONMENT_NOT_FOUND", environmentNotFoundMessage(query.env, found.name));
      }
      const scope = query.scope ?? "web";
      if (!isScope(scope)) {
        throw new LockboxError("VALIDATION_FAILED", `Invalid scope '${scope}': use one of ic, web, user.`);
      }
      return { items: await secrets.resolveForPeople(contextOf(request), found, query.env, scope) };
    },
  });

  routes.add({
    method: "GET",
    url: "/v1/sites/:site/local-secrets",
    tag: "secrets",
    summary: "The local development file of secret:site:local-generate (redacted like the listing)",
    params: siteParams,
    response: localSecretsResponse,
    handler: async ({ caller, params, request }) => {
      const found = await site(caller, params.site);
      return secrets.localSecretsFile(contextOf(request), found);
    },
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
    handler: async ({ caller, params, query, request }) => {
      const found = (await org(caller, params.org)).org;
      const rows = await secrets.listOrgSecrets(contextOf(request), found);
      return pageOfRows(rows, query, (row) => row.name);
    },
  });

  secretWriteRoutes(routes, {
    kind: "org",
    url: "/v1/orgs/:org/secrets/:name",
    params: orgSecretParams,
    envParams: orgSecretEnvParams,
    find: (caller, params) => orgAdmin(caller, params.org),
    set: (ctx, owner, input) => secrets.setOrgSecret(ctx, owner, input),
    delete: (ctx, owner, name, env) => secrets.deleteOrgSecret(ctx, owner, name, env),
  });
}

/** The writes of one kind of owner: how its routes find the owner and which service call they make. */
interface SecretWriter<P extends { name: string }, Owner> {
  readonly kind: "site" | "org";
  /** The secret's URL; its override's is this with `/envs/:env`. */
  readonly url: string;
  readonly params: z.ZodType<P>;
  readonly envParams: z.ZodType<P & { env: string }>;
  /** The owner the caller may write to: 404 if unseen, 403 if seen but not writable. */
  readonly find: (caller: Caller, params: P) => Promise<Owner>;
  readonly set: (ctx: RequestContext, owner: Owner, input: SetSecretInput) => Promise<SetSecretResult>;
  readonly delete: (ctx: RequestContext, owner: Owner, name: string, env?: string) => Promise<void>;
}

/**
 * Set and delete, of a secret (`PUT`/`DELETE …/secrets/:name`) and of its override (`…/envs/:env`).
 * Access is decided before the body's rules, so a caller who may not write learns nothing from them.
 */
function secretWriteRoutes<P extends { name: string }, Owner>(
  routes: RouteRegistry,
  writer: SecretWriter<P, Owner>,
): void {
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
      handler: async ({ caller, params: path, body, request, reply }) => {
        const owner = await writer.find(caller, path);
        const input = { name: path.name, env: envOf(path), ...options(body) };
        const result = await writer.set(contextOf(request), owner, input);
        if (result.created) void reply.code(201);
        return setAnswer(result);
      },
    });
    routes.add({
      method: "DELETE",
      url,
      tag: "secrets",
      summary: withEnv ? `Delete ${noun}'s override (idempotent)` : `Delete ${noun} with its overrides`,
      params,
      response: messageResponse,
      handler: async ({ caller, params: path, request }) => {
        const owner = await writer.find(caller, path);
        const env = envOf(path);
        await writer.delete(contextOf(request), owner, path.name, env);
        return { message: env === undefined ? SECRET_DELETED_MESSAGE : OVERRIDE_DELETED_MESSAGE };
      },
    });
  }
}

/** Type and scopes of a set request, checked against SPEC §2 (422 with the rule's message). */
function options(body: z.output<typeof setSecretBody>): {
  value: string;
  type?: SecretType;
  scopes?: Scope[];
} {
  let type: SecretType | undefined;
  if (body.type !== undefined) {
    const parsed = secretTypeSchema.safeParse(body.type);
    if (!parsed.success) {
      throw new LockboxError("VALIDATION_FAILED", parsed.error.issues[0]?.message ?? "Invalid secret type.");
    }
    type = parsed.data;
  }
  return {
    value: body.value,
    ...(type !== undefined ? { type } : {}),
    ...(body.scopes !== undefined ? { scopes: parseScopes(body.scopes) } : {}),
  };
}

function setAnswer(result: SetSecretResult) {
  return {
    message: SECRET_SET_MESSAGE,
    created: result.created,
    secret: { name: result.name, type: result.type, scopes: result.scopes },
    notes: result.notes,
  };
}
