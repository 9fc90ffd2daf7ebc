import {
  createdTokenResponse,
  createTokenBody,
  listOf,
  tokenListQuery,
  tokenParams,
  tokenResponse,
} from "@lockbox/core";
import type { TokenService } from "../../tokens/token-service.js";
import { page, presentToken } from "../present.js";
import type { RouteRegistry } from "../route.js";

/** Tokens: user tokens for people, runtime and build tokens bound to one site environment. */
export function tokenRoutes(routes: RouteRegistry, tokens: TokenService): void {
  routes.add({
    method: "POST",
    url: "/v1/tokens",
    tag: "tokens",
    summary: "Mint a token (shown once): a user token, or a runtime or build token for <site>.<env>",
    body: createTokenBody,
    status: 201,
    response: createdTokenResponse,
    handler: async ({ caller, body }) => {
      const issued = await tokens.createToken(caller, body);
      return { ...presentToken(issued.row), token: issued.token };
    },
  });

  routes.add({
    method: "GET",
    url: "/v1/tokens",
    tag: "tokens",
    summary: "List tokens (never their values): your own, a user's (admin) or a site's",
    query: tokenListQuery,
    response: listOf(tokenResponse),
    handler: async ({ caller, query }) =>
      page(await tokens.list(caller, query), query.limit, (t) => t.id, presentToken),
  });

  routes.add({
    method: "DELETE",
    url: "/v1/tokens/:id",
    tag: "tokens",
    summary: "Revoke a token",
    params: tokenParams,
    status: 204,
    handler: async ({ caller, params }) => {
      await tokens.revoke(caller, params.id);
    },
  });
}
