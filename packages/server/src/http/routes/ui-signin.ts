import { createdTokenResponse, signinExchangeBody, signinLinkResponse } from "@lockbox/core";
import type { FastifyInstance } from "fastify";
import type { SigninLinkService } from "../../tokens/signin-links.js";
import { presentToken } from "../present.js";
import { type DocumentedRoute, parse, type RouteRegistry } from "../route.js";

/** The sign-in exchange as the OpenAPI document describes it (it takes no bearer token). */
export const UI_EXCHANGE_ROUTE: DocumentedRoute = {
  method: "POST",
  url: "/v1/ui/sessions",
  tag: "ui",
  summary: "Exchange a one-time sign-in link for a dashboard session (a user token for 12 hours)",
  description:
    "Takes no Authorization header: the link's secret is the credential. A link works once, for 5 minutes. The session is a user token of the link's user, listed by GET /v1/tokens and revoked with DELETE /v1/tokens/{id}. Audited as ui.signin.",
  body: signinExchangeBody,
  status: 201,
  response: createdTokenResponse,
  public: true,
  otherResponses: { 401: "The link is malformed, unknown, expired or already used." },
};

/** `lockbox ui`'s link, minted for the caller (authenticated, in the management scope). */
export function uiLinkRoutes(routes: RouteRegistry, links: SigninLinkService): void {
  routes.add({
    method: "POST",
    url: "/v1/ui/links",
    tag: "ui",
    summary: "Create a one-time sign-in link to the web dashboard for yourself (valid 5 minutes)",
    status: 201,
    response: signinLinkResponse,
    handler: async ({ caller }) => links.create(caller),
  });
}

/** The exchange of a link for a session: outside the management scope, since it has no token yet. */
export function uiExchangeRoute(app: FastifyInstance, links: SigninLinkService): void {
  app.post("/v1/ui/sessions", { config: { takesBody: true } }, async (request, reply) => {
    const body = parse("body", signinExchangeBody, request.body);
    const issued = await links.exchange(body.secret, String(request.id));
    void reply.code(201).header("cache-control", "no-store");
    return { ...presentToken(issued.row), token: issued.token };
  });
}
