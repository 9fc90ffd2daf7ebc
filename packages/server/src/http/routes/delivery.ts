import { buildSecretsResponse, runtimeSecretsResponse, SERVER_DEFAULTS } from "@lockbox/core";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { StoreUnavailableError } from "../../db/store-faults.js";
import {
  HELD_CAP_RETRY_AFTER_SECONDS,
  holdUntilChanged,
  MAX_WAIT_SECONDS,
  parseWait,
} from "../../delivery/blocking-read.js";
import type { Delivery } from "../../delivery/delivery.js";
import { HeldReads } from "../../delivery/held-reads.js";
import type { TokenUsageRecorder } from "../../tokens/token-usage.js";
import { bearerToken } from "../plugins/authentication.js";
import { ifNoneMatchMatches } from "../plugins/conditional-get.js";
import type { DocumentedRoute } from "../route.js";

/** The log level of `GET /site/secrets`: no per-request line (plugins/request-log.ts) on the hot path. */
export const RUNTIME_LOG_LEVEL = "warn";

const UNAUTHENTICATED = "No token, or a token that is unknown, expired or revoked.";

/** The machine endpoints as the OpenAPI document describes them. */
export const DELIVERY_ROUTES: readonly DocumentedRoute[] = [
  {
    method: "GET",
    url: "/site/secrets",
    summary: "The runtime set of the runtime token's site and environment (SPEC §3)",
    description:
      "Takes a runtime token (lbr_…). Answers the secrets with the web scope as the environment resolves them. `Version` is also the `ETag`; send it back in `If-None-Match` to get a 304 while the set is unchanged. `HEAD` answers the same headers without a body. A blocking read (`?wait=<seconds>` with `If-None-Match`) answers at once if the set changed, else holds the request until it changes (200 with the new set, within a moment of the write on any server) or the wait ends (304).",
    tag: "delivery",
    status: 200,
    response: runtimeSecretsResponse,
    query: z.object({
      wait: z
        .string()
        .regex(/^\d{1,3}$/)
        .optional()
        .describe(
          `Blocking read: a whole number of seconds from 0 to ${MAX_WAIT_SECONDS} to hold the request while If-None-Match names the current ETag (default 0: answer at once).`,
        ),
    }),
    headers: { "If-None-Match": "The ETag of the set the caller holds: 304 while it is still current." },
    responseHeaders: {
      ETag: 'The set\'s version in quotes ("<Version>"), the same on every server for the same set.',
      "Cache-Control": "no-cache: revalidate with If-None-Match before using a stored copy.",
    },
    otherResponses: {
      304: `Not modified: If-None-Match names the current ETag (no body); with \`wait\`, the wait ended, the server is shutting down, or it already holds --max-held-requests reads: then with \`Retry-After: ${HELD_CAP_RETRY_AFTER_SECONDS}\`, the seconds to wait before the next blocking read.`,
      400: `\`wait\` is not a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}.`,
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
  options: { readonly maxHeldRequests?: number | undefined } = {},
): void {
  const held = new HeldReads(options.maxHeldRequests ?? SERVER_DEFAULTS.maxHeldRequests);
  const unsubscribe = delivery.onChange((change) => held.wake(change));
  // Before the server waits for in-flight requests: every held read answers 304 at once.
  app.addHook("preClose", (done) => {
    held.close();
    unsubscribe();
    done();
  });
  app.metrics.gauge(
    "lockbox_held_requests",
    "Blocking reads of GET /site/secrets held now.",
    () => held.count,
  );

  app.get("/site/secrets", { logLevel: RUNTIME_LOG_LEVEL, onRequest: noStore }, async (request, reply) => {
    const waitSeconds = parseWait((request.query as Record<string, unknown>).wait);
    const token = bearerToken(request);
    // Read before the token is authenticated, not only before the set is: a revocation whose change
    // arrives while the token's row is read must wake the held read (401 at once, not when it ends).
    const generation = held.generation;
    const identity = await delivery.identify(token, "runtime");
    usage.record(identity.tokenId);
    let payload = await delivery.runtimeSet(identity);
    if (waitSeconds > 0 && ifNoneMatchMatches(request.headers["if-none-match"], payload.etag)) {
      const outcome = await holdUntilChanged(delivery, held, {
        token,
        identity,
        etag: payload.etag,
        waitMs: waitSeconds * 1000,
        generation,
        onClientGone: (listener) => {
          // Gone while the set was read (a cold read awaits the store): its "close" has passed, and
          // holding the read would keep a place under --max-held-requests for the whole wait.
          if (reply.raw.destroyed) {
            listener();
            return () => {};
          }
          reply.raw.once("close", listener);
          return () => reply.raw.off("close", listener);
        },
      });
      if (outcome.kind === "changed") payload = outcome.payload;
      if (outcome.kind === "busy") void reply.header("retry-after", String(HELD_CAP_RETRY_AFTER_SECONDS));
      // Shutting down: the connection was busy when the server stopped taking requests, so it is
      // not closed as idle; without this it would stay open until the keep-alive timeout.
      if (held.closed) void reply.header("connection", "close");
      // A token that expired during the wait ends with 401 like the ordinary read, not with the 304
      // of a wait that ran out (a revocation wakes the read at once). While the store is
      // unreachable the wait still ends as it does, with 304.
      if (outcome.kind === "unchanged") {
        await delivery.identify(token, "runtime").catch((error: unknown) => {
          if (!(error instanceof StoreUnavailableError)) throw error;
        });
      }
    }
    void reply.header("etag", payload.etag).header("cache-control", "no-cache");
    if (reply.sendNotModified(payload.etag)) return reply;
    // A HEAD (a cheap "has it changed?" by ETag) delivers no values: not an audited delivery.
    if (request.method !== "HEAD") delivery.recordDelivery(identity, payload.version, String(request.id));
    return reply.type("application/json; charset=utf-8").send(payload.body);
  });

  // No HEAD: it would decrypt the build's set and count as its delivery without sending it.
  app.get("/v1/build/secrets", { exposeHeadRoute: false, onRequest: noStore }, async (request) => {
    const identity = await delivery.identify(bearerToken(request), "build");
    usage.record(identity.tokenId);
    return delivery.buildAnswer(identity, String(request.id));
  });
}

/**
 * Every answer of a delivery route is `no-store` until it says otherwise (a runtime set: `no-cache`,
 * revalidated by ETag): its errors, which name tokens' problems, included.
 */
function noStore(_request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  void reply.header("cache-control", "no-store");
  done();
}
