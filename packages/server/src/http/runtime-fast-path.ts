import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { FastifyInstance } from "fastify";
import type { Delivery } from "../delivery/delivery.js";
import type { TokenUsageRecorder } from "../tokens/token-usage.js";
import type { RouteMetrics } from "./metrics.js";
import { bearerTokenOf, repeatsAuthorization } from "./plugins/authentication.js";
import { carriesBody, lacksHost, unsupportedEncoding } from "./plugins/body-guard.js";
import { ifNoneMatchMatches } from "./plugins/conditional-get.js";
import { logsRequests } from "./plugins/request-log.js";
import { requestIdOf } from "./request-id.js";
import { RUNTIME_LOG_LEVEL } from "./routes/delivery.js";

declare module "fastify" {
  interface FastifyInstance {
    /**
     * What the app's server runs for each request: the runtime fast path, then Fastify. In-process
     * tests inject into it (light-my-request), so they reach the fast path as a real client does.
     */
    serverHandler: (request: IncomingMessage, response: ServerResponse) => void;
  }
}

/** Answers a request and says so, or leaves it untouched (false) for Fastify to answer. */
export type FastPath = (request: IncomingMessage, response: ServerResponse) => boolean;

/** The path the fast path answers, exactly: anything else (a query, `?wait=`, a slash more) is Fastify's. */
const RUNTIME_PATH = "/site/secrets";
const CONTENT_TYPE = "application/json; charset=utf-8";
const NO_BODY = Buffer.alloc(0);

/** A warm runtime read's answer: the set (200) or a 304, with the route's headers. */
export interface RuntimeAnswer {
  readonly status: 200 | 304;
  /**
   * The headers the route sends, in its order (its `Cache-Control` is set before the handler runs);
   * Node adds `Date` and the connection's own.
   */
  readonly headers: Readonly<Record<string, string | number>>;
  /** The set's JSON; empty for a 304. */
  readonly body: Buffer;
}

/**
 * The warm case of `GET /site/secrets` (STYLE, "The hot path"; SPEC §3), decided from a plain GET's
 * headers alone: no body, a bearer token the machine-token cache knows as a runtime token, and its
 * site environment's set cached. Everything else — no or an unknown token (401), a build or user
 * token (403), a cold set, a body, a server whose request log would write a line — is declined
 * (undefined) and the Fastify route answers it: that route stays the one full implementation, and
 * this is the same route's warm case, calling the same functions in the same order (delivery/, the
 * conditional GET, the usage recorder, the audit of a first delivery) without the framework's
 * per-request objects, hooks and promises. Two ways in call it: {@link runtimeFastPath}, ahead of
 * Fastify on Node's request, and `answerOnSockets` (socket-fast-path.ts), ahead of Node's HTTP code
 * on the connection. The runtime route is not rate-limited (SPEC §5), so neither is this.
 */
export interface WarmRuntimeRead {
  /** Answers (with the route's side effects: the token's use, a first delivery's audit) or declines. */
  answer(headers: IncomingHttpHeaders, repeatsAuthorization: boolean): RuntimeAnswer | undefined;
  /** The metrics slot of the Fastify route `GET /site/secrets`, so every way in counts in one series. */
  readonly metrics: RouteMetrics;
}

/** The {@link WarmRuntimeRead} of the app's runtime route: its delivery, token usage and metrics. */
export function warmRuntimeRead(deps: {
  readonly delivery: Pick<Delivery, "cachedRuntimeRead" | "recordDelivery">;
  readonly usage: Pick<TokenUsageRecorder, "record">;
  readonly metrics: RouteMetrics;
  /** `--trust-proxy`: the proxy's `X-Request-Id` is the request id (see `requestIdOf`). */
  readonly behindTrustedProxy: boolean;
}): WarmRuntimeRead {
  const { delivery, usage, metrics, behindTrustedProxy } = deps;
  // The route logs at RUNTIME_LOG_LEVEL, where no per-request line is written; were that to change,
  // the line is Fastify's to write, so this path would step aside.
  const enabled = !logsRequests({ level: RUNTIME_LOG_LEVEL });
  return {
    metrics,
    answer(headers, repeatsAuthorization) {
      // What the body guard refuses (and closes the connection for) is Fastify's to answer.
      if (!enabled || carriesBody(headers) || unsupportedEncoding(headers) !== undefined) return undefined;
      const token = bearerTokenOf(headers.authorization);
      if (token === undefined || repeatsAuthorization) return undefined;
      const read = delivery.cachedRuntimeRead(token);
      if (read === undefined) return undefined;
      const { identity, payload } = read;
      usage.record(identity.tokenId);
      if (ifNoneMatchMatches(headers["if-none-match"], payload.etag)) {
        return { status: 304, headers: { "cache-control": "no-cache", etag: payload.etag }, body: NO_BODY };
      }
      delivery.recordDelivery(identity, payload.version, () => requestIdOf(headers, behindTrustedProxy));
      return {
        status: 200,
        headers: {
          "cache-control": "no-cache",
          etag: payload.etag,
          "content-type": CONTENT_TYPE,
          "content-length": payload.body.length,
        },
        body: payload.body,
      };
    },
  };
}

/**
 * The warm runtime read ahead of Fastify, on Node's request: a GET of exactly `/site/secrets`
 * (a blocking read, HEAD or any other request is Fastify's) with a Host header that
 * {@link WarmRuntimeRead} answers.
 */
export function runtimeFastPath(warm: WarmRuntimeRead): FastPath {
  return (request, response) => {
    if (request.method !== "GET" || request.url !== RUNTIME_PATH || lacksHost(request)) return false;
    const started = performance.now();
    const answer = warm.answer(request.headers, repeatsAuthorization(request.rawHeaders));
    if (answer === undefined) return false;
    response.writeHead(answer.status, answer.headers);
    if (answer.status === 304) response.end();
    else response.end(answer.body);
    warm.metrics.observe(answer.status, (performance.now() - started) / 1000);
    return true;
  };
}

/**
 * Puts `fastPath` ahead of Fastify on the app's server: each request goes to it first and, when it
 * declines, to Fastify's own handler (`app.routing`, the listener Fastify attached). From the app's
 * `preClose` on, every request goes to Fastify, which answers as a closing server does. Returns the
 * combined handler, which is what the server runs (and what in-process tests inject into).
 */
export function installFastPath(app: FastifyInstance, fastPath: FastPath): FastPath {
  let closing = false;
  const fastify = app.routing as (request: IncomingMessage, response: ServerResponse) => void;
  const dispatch: FastPath = (request, response) => {
    if (closing || !fastPath(request, response)) fastify(request, response);
    return true;
  };
  const server = app.server as Server;
  if (!server.listeners("request").includes(fastify)) {
    throw new Error(
      "Fastify's request handler is not attached to its server: the fast path cannot go ahead of it.",
    );
  }
  server.removeListener("request", fastify);
  server.on("request", dispatch);
  app.addHook("preClose", (done) => {
    closing = true;
    done();
  });
  app.decorate("serverHandler", dispatch);
  return dispatch;
}
