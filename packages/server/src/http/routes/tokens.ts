import {
  createdTokenResponse,
  createTokenBody,
  LockboxError,
  listOf,
  notFoundError,
  tokenListQuery,
  tokenParams,
  tokenResponse,
} from "@lockbox/core";
import type { TokenRow } from "../../db/secret-store.js";
import { type Caller, forbidden } from "../../directory/access-policy.js";
import type { RouteContext } from "../app.js";
import { contextOf, page, presentToken } from "../present.js";

/** Tokens: user tokens for people, runtime and build tokens bound to one site environment. */
export function tokenRoutes({ routes, directory, tokens, access, store }: RouteContext): void {
  const site = async (caller: Caller, ref: string) =>
    (await access.requireSite(caller, await directory.findSite(ref), ref)).site;

  /** Whether the caller may see (and revoke) a token: its own, its sites', or any for the admin. */
  const maySee = async (caller: Caller, token: TokenRow): Promise<boolean> => {
    if (caller.user.isAdmin || token.userId === caller.user.id) return true;
    if (token.siteId === null) return false;
    const found = await store.findSiteById(token.siteId);
    return found !== undefined && (await access.site(caller, found)) !== undefined;
  };

  routes.add({
    method: "POST",
    url: "/v1/tokens",
    tag: "tokens",
    summary: "Mint a token (shown once): a user token, or a runtime or build token for <site>.<env>",
    body: createTokenBody,
    status: 201,
    response: createdTokenResponse,
    handler: async ({ caller, body, request }) => {
      const ctx = contextOf(request);
      let issued: { token: string; row: TokenRow };
      if (body.kind === "user") {
        if (body.site !== undefined || body.env !== undefined) {
          throw new LockboxError(
            "BAD_REQUEST",
            "A user token is not bound to a site: leave out 'site' and 'env'.",
          );
        }
        let user = caller.user;
        if (body.user !== undefined) {
          const target = await directory.findUser(body.user);
          if (!caller.user.isAdmin && target?.id !== caller.user.id) {
            throw forbidden("Only the platform admin can create tokens for other users.");
          }
          if (!target) throw notFoundError("user", body.user);
          user = target;
        }
        issued = await tokens.createUserToken(ctx, user);
      } else {
        if (body.site === undefined || body.env === undefined || body.user !== undefined) {
          throw new LockboxError(
            "BAD_REQUEST",
            `A ${body.kind} token needs 'site' and 'env' (and no 'user').`,
          );
        }
        const found = await site(caller, body.site);
        issued =
          body.kind === "runtime"
            ? await tokens.createRuntimeToken(ctx, found, body.env)
            : await tokens.createBuildToken(ctx, found, body.env);
      }
      return { ...(await presentToken(store, issued.row)), token: issued.token };
    },
  });

  routes.add({
    method: "GET",
    url: "/v1/tokens",
    tag: "tokens",
    summary: "List tokens (never their values): your own, a user's (admin) or a site's",
    query: tokenListQuery,
    response: listOf(tokenResponse),
    handler: async ({ caller, query }) => {
      const filter: { userId?: string; siteId?: string; limit?: number; after?: string } = {};
      if (query.limit !== undefined) filter.limit = query.limit;
      if (query.after !== undefined) filter.after = query.after;
      if (query.site !== undefined) filter.siteId = (await site(caller, query.site)).id;
      if (query.user !== undefined) {
        const target = await directory.findUser(query.user);
        if (!caller.user.isAdmin && target?.id !== caller.user.id) {
          throw forbidden("Only the platform admin can list other users' tokens.");
        }
        if (!target) throw notFoundError("user", query.user);
        filter.userId = target.id;
      }
      if (query.site === undefined && query.user === undefined) filter.userId = caller.user.id;
      const rows = await tokens.list(filter);
      const items = [];
      for (const row of rows) items.push(await presentToken(store, row));
      return page(
        items,
        query.limit,
        (t) => t.id,
        (t) => t,
      );
    },
  });

  routes.add({
    method: "DELETE",
    url: "/v1/tokens/:id",
    tag: "tokens",
    summary: "Revoke a token",
    params: tokenParams,
    status: 204,
    handler: async ({ caller, params, request }) => {
      const token = await store.findTokenById(params.id);
      if (!token || !(await maySee(caller, token))) throw notFoundError("token", params.id);
      await tokens.revoke(contextOf(request), token.id);
    },
  });
}
