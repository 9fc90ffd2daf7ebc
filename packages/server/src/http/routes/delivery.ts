import { buildSecretsResponse, runtimeSecretsResponse } from "@lockbox/core";
import type { FastifyInstance } from "fastify";
import type { Delivery } from "../../delivery/delivery.js";
import type { TokenUsageRecorder } from "../../tokens/token-usage.js";
import { bearerToken } from "../plugins/authentication.js";
import type { DocumentedRoute } from "../route.js";

const UNAUTHENTICATED = "No token, or a token that is unknown, expired or revoked.";

/** The machine endpoints as the OpenAPI document describes them. */
export const DELIVERY_ROUTES: readonly DocumentedRoute[] = [
  {
    method: "GET",
    url: "/site/secrets",
    summary: "The runtime set of the runtime token's site and environment (SPEC §3)",
    description:
      "Takes a runtime token (lbr_…). Answers the secrets with the web scope as the environment resolves them. `Version` is also the `ETag`; send it back in `If-None-Match` to get a 304 while the set is unchanged. `HEAD` answers the same headers without a body.",
    tag: "delivery",
    status: 200,
    response: runtimeSecretsResponse,
    headers: { "If-None-Match": "The ETag of the set the caller holds: 304 while it is still current." },
    responseHeaders: {
      ETag: 'The set\'s version in quotes ("<Version>"), the same on every server for the same set.',
      "Cache-Control": "no-cache: revalidate with If-None-Match before using a stored copy.",
    },
    otherResponses: {
      304: "Not modified: If-None-Match names the current ETag (no body).",
      401: UNAUTHENTICATED,
      403: "A user or build token: this endpoint takes runtime tokens only.",
    },
  },
  {
    method: "GET",
    url: "/v1/build/secrets",
    summary: "The build secrets of the build token's site and environment (SPEC §4)",
    description:
      "Takes a build token (lbb_…). Answers the secrets with the ic scope: env secrets as variables and composer secrets as COMPOSER_AUTH. Each answer is an audited delivery.",
    tag: "delivery",
    status: 200,
    response: buildSecretsResponse,
    responseHeaders: { "Cache-Control": "no-store." },
    otherResponses: {
      401: UNAUTHENTICATED,
      403: "A user or runtime token: this endpoint takes build tokens only.",
    },
  },
];

/**
 * The machine endpoints: `GET /site/secrets` for runtime tokens (the hot path: a cached,
 * already-serialized body with its ETag; no per-request logging, hashing or store read once warm)
 * and `GET /v1/build/secrets` for build tokens. Neither is rate-limited (SPEC §5). Every
 * authenticated read, a `304` included, is a use of its token (`usage`, written off the request path).
 */
export function deliveryRoutes(
  app: FastifyInstance,
  delivery: Delivery,
  usage: Pick<TokenUsageRecorder, "record">,
): void {
  app.get("/site/secrets", { logLevel: "warn" }, async (request, reply) => {
    const identity = await delivery.identify(bearerToken(request), "runtime");
    usage.record(identity.tokenId);
    const payload = await delivery.runtimeSet(identity);
    void reply.header("etag", payload.etag).header("cache-control", "no-cache");
    if (reply.sendNotModified(payload.etag)) return reply;
    // A HEAD (a cheap "has it changed?" by ETag) delivers no values: not an audited delivery.
    if (request.method !== "HEAD") delivery.recordDelivery(identity, payload.version, String(request.id));
    return reply.type("application/json; charset=utf-8").send(payload.body);
  });

  // No HEAD: it would decrypt the build's set and count as its delivery without sending it.
  app.get("/v1/build/secrets", { exposeHeadRoute: false }, async (request, reply) => {
    const identity = await delivery.identify(bearerToken(request), "build");
    usage.record(identity.tokenId);
    const answer = await delivery.buildAnswer(identity, String(request.id));
    void reply.header("cache-control", "no-store");
    return answer;
  });
}
