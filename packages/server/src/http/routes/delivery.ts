import type { FastifyInstance } from "fastify";
import type { Delivery } from "../../delivery/delivery.js";
import type { TokenUsageRecorder } from "../../tokens/token-usage.js";
import { bearerToken } from "../plugins/authentication.js";

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
