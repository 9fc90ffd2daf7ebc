import { buildComposerAuth, COMPOSER_AUTH_ENV_NAME } from "@lockbox/core";
import type { FastifyInstance } from "fastify";
import type { StoreQueries } from "../db/secret-store.js";
import type { Delivery } from "../delivery/delivery.js";
import type { TokenUsageRecorder } from "../tokens/token-usage.js";
import { bearerToken } from "./app.js";

/**
 * The machine endpoints: `GET /site/secrets` for runtime tokens (the hot path: a cached,
 * already-serialized body with its ETag; no per-request logging, hashing or store read once warm)
 * and `GET /v1/build/secrets` for build tokens. Neither is rate-limited (SPEC §5). Every
 * authenticated read, a `304` included, is a use of its token (`usage`, written off the request path).
 */
export function deliveryRoutes(
  app: FastifyInstance,
  delivery: Delivery,
  store: StoreQueries,
  usage: TokenUsageRecorder,
): void {
  app.get("/site/secrets", { logLevel: "warn" }, async (request, reply) => {
    const identity = await delivery.identify(bearerToken(request), "runtime");
    usage.record(identity.tokenId);
    const payload = await delivery.runtimeSet(identity);
    void reply.header("etag", payload.etag).header("cache-control", "no-cache");
    if (notModified(request.headers["if-none-match"], payload.etag)) return reply.code(304).send();
    // A HEAD (a cheap "has it changed?" by ETag) delivers no values: not an audited delivery.
    if (request.method !== "HEAD") delivery.recordDelivery(identity, payload.version, String(request.id));
    return reply.type("application/json; charset=utf-8").send(payload.body);
  });

  // No HEAD: it would decrypt the build's set and count as its delivery without sending it.
  app.get("/v1/build/secrets", { exposeHeadRoute: false }, async (request, reply) => {
    const identity = await delivery.identify(bearerToken(request), "build");
    usage.record(identity.tokenId);
    const { secrets, version } = await delivery.buildSet(identity);
    const site = await store.findSiteById(identity.siteId);
    const env: Record<string, string> = Object.create(null);
    let base: unknown;
    for (const secret of secrets) {
      if (secret.type !== "env") continue;
      if (secret.name === COMPOSER_AUTH_ENV_NAME) base = JSON.parse(secret.value);
      else env[secret.name] = secret.value;
    }
    const composerAuth = buildComposerAuth(
      base,
      secrets.filter((s) => s.type === "composer"),
    );
    delivery.recordDelivery(identity, version, String(request.id));
    void reply.header("cache-control", "no-store");
    return {
      site: site?.name ?? identity.siteId,
      environment: identity.env,
      version,
      env: { ...env },
      composerAuth,
    };
  });
}

/**
 * Whether `If-None-Match` names `etag` (RFC 9110 §13.1.2): `*`, or a list of tags compared weakly,
 * so `W/"v"` (as a compressing proxy may send it) and `"a", "v"` match `"v"`.
 */
function notModified(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header === etag) return true;
  return header.split(",").some((tag) => {
    const trimmed = tag.trim();
    return trimmed === "*" || (trimmed.startsWith("W/") ? trimmed.slice(2) : trimmed) === etag;
  });
}
