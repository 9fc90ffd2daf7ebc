import { LockboxError } from "@lockbox/core";
import Fastify, {
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyServerOptions,
  LogController,
} from "fastify";
import { StoreUnavailableError } from "../db/store-faults.js";
import type { Lockbox } from "../lockbox.js";
import { type ConnectionLimits, checkingIntervalMs, limitConnections } from "./connection-limits.js";
import { registerDeliveryMetrics } from "./delivery-metrics.js";
import {
  clientErrorHandler,
  routeNotFound,
  ShuttingDownError,
  sendError,
  toLockboxError,
  unmetExpectationHandler,
} from "./errors.js";
import { authentication } from "./plugins/authentication.js";
import { type BodyConfig, bodyGuard } from "./plugins/body-guard.js";
import { conditionalGet } from "./plugins/conditional-get.js";
import { metrics } from "./plugins/metrics.js";
import { rateLimit } from "./plugins/rate-limit.js";
import { requestLog } from "./plugins/request-log.js";
import { requestIdOf } from "./request-id.js";
import { type DocumentedRoute, openApiDocument, RouteRegistry } from "./route.js";
import { auditRoutes } from "./routes/audit.js";
import { deletedSecretRoutes } from "./routes/deleted-secrets.js";
import { DELIVERY_ROUTES, deliveryRoutes } from "./routes/delivery.js";
import { orgRoutes } from "./routes/orgs.js";
import { secretHistoryRoutes } from "./routes/secret-history.js";
import { secretRoutes } from "./routes/secrets.js";
import { siteRoutes } from "./routes/sites.js";
import { tokenRoutes } from "./routes/tokens.js";
import { UI_EXCHANGE_ROUTE, uiExchangeRoute, uiLinkRoutes } from "./routes/ui-signin.js";
import { userRoutes } from "./routes/users.js";
import { installFastPath, runtimeFastPath, warmRuntimeRead } from "./runtime-fast-path.js";
import { answerOnSockets } from "./socket-fast-path.js";
import { uiRoutes } from "./ui-static.js";

/** 128 KiB: a 16 KiB value escaped in JSON fits with room to spare (SPEC §7). */
export const BODY_LIMIT_BYTES = 128 * 1024;

/** The services the HTTP layer calls: it decides nothing itself. */
export type AppServices = Pick<
  Lockbox,
  | "orgs"
  | "sites"
  | "secrets"
  | "secretHistory"
  | "secretRestore"
  | "tokens"
  | "signinLinks"
  | "audit"
  | "delivery"
  | "tokenUsage"
  | "ping"
  | "onStoreFault"
>;

/** How the HTTP server behaves, from the server's flags. */
export interface AppOptions {
  /** Management API rate limit per token; undefined disables it. */
  readonly rateLimit?: { readonly ratePerSecond: number; readonly burst: number } | undefined;
  /** Fastify's logger option: false in tests, a pino config in the server. */
  readonly logger?: FastifyServerOptions["logger"];
  readonly trustProxy?: boolean;
  readonly https?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  readonly version?: string;
  /** The request timeout and connection cap of `server:start`; none when absent (in-process tests). */
  readonly limits?: ConnectionLimits | undefined;
  /** Where the built web dashboard is (packages/web/dist by default). */
  readonly uiDir?: string | undefined;
  /** Blocking reads held at once at most (`--max-held-requests`); the default when absent. */
  readonly maxHeldRequests?: number | undefined;
}

/**
 * Builds the Fastify application: the management API under `/v1` (authenticated and rate-limited
 * by their plugins), its OpenAPI document, the delivery endpoints, health and metrics. Routes parse,
 * call a service and present; errors of every origin leave in the one shape of SPEC §7.
 */
export async function buildApp(services: AppServices, options: AppOptions = {}): Promise<FastifyInstance> {
  const requestTimeoutMs = options.limits?.requestTimeoutMs ?? 0;
  // Node checks for requests past their timeout only every 30 s unless told otherwise, and with a
  // headers timeout (60 s) longer than the request timeout it applies the request timeout to the
  // headers alone, letting a body trickle in for 60 s.
  // A missing Host is refused by the body guard in the error shape, not by Node with an empty 400.
  const checking = {
    requireHostHeader: false,
    ...(requestTimeoutMs > 0
      ? {
          connectionsCheckingInterval: checkingIntervalMs(requestTimeoutMs),
          headersTimeout: Math.min(NODE_HEADERS_TIMEOUT_MS, requestTimeoutMs),
        }
      : {}),
  };
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: options.trustProxy ?? false,
    genReqId: (request) => requestIdOf(request.headers, options.trustProxy ?? false),
    // One line per request, written by the request-log plugin with only what is safe to log.
    logController: new LogController({ disableRequestLogging: true }),
    // A secret name may be 255 bytes, up to 765 characters percent-encoded (Fastify's default is
    // 100); longer segments are refused in the error shape below.
    routerOptions: { maxParamLength: MAX_PATH_SEGMENT_CHARS },
    // Malformed URLs are refused by the router before any hook: answer them in the one error shape.
    frameworkErrors: (error, request, reply) => {
      void sendError(request, reply, frameworkError(error));
    },
    // …and so are requests Node's HTTP parser refuses before any route.
    clientErrorHandler,
    // Requests that arrive while the server closes are answered below, in the error shape.
    return503OnClosing: false,
    requestTimeout: requestTimeoutMs,
    ...(options.https
      ? {
          https: {
            cert: options.https.cert,
            key: options.https.key,
            ...checking,
            // A TLS handshake is part of sending the request.
            ...(requestTimeoutMs > 0 ? { handshakeTimeout: requestTimeoutMs } : {}),
          },
        }
      : { http: checking }),
  } as FastifyServerOptions);
  app.server.on("checkExpectation", unmetExpectationHandler);
  // From the start of shutdown, a new request gets 503 with Retry-After (Fastify has set
  // `Connection: close` on it already); requests already running finish.
  let closing = false;
  app.addHook("preClose", (done) => {
    closing = true;
    done();
  });
  app.addHook("onRequest", (request, reply, done) => {
    if (closing) void sendError(request, reply, new ShuttingDownError());
    else done();
  });
  if (options.limits) {
    limitConnections(app.server, options.limits, { tls: options.https !== undefined, log: app.log });
  }

  installJsonParser(app);
  // A full disk or an unreachable database is logged once when it begins, naming the store (the
  // requests that meet it answer 507 or 503 and are not logged as failures one by one).
  const unsubscribeFaults = services.onStoreFault((fault) =>
    app.log.error({ store: fault.store, code: fault.code }, `store fault: ${fault.message}`),
  );
  app.addHook("onClose", async () => {
    unsubscribeFaults();
  });
  app.setErrorHandler((error, request, reply) => {
    const lockboxError = toLockboxError(error);
    if (lockboxError.code === "INTERNAL" || lockboxError.code === "INTEGRITY_FAILED") {
      // Log the kind and place, not the error object: driver errors can quote the statement.
      // request.log carries the request id already.
      request.log.error({ kind: (error as Error)?.name, stack: stackOf(error) }, "request failed");
    }
    return sendError(request, reply, lockboxError);
  });
  app.setNotFoundHandler((request, reply) => sendError(request, reply, routeNotFound(request)));
  await app.register(bodyGuard);
  await app.register(metrics);
  registerDeliveryMetrics(app.metrics, services.delivery);
  await app.register(requestLog);
  await app.register(conditionalGet);

  let documented: readonly DocumentedRoute[] = [];
  // The management API: one scope, authenticated (and rate-limited) by its plugins.
  const managementApi: FastifyPluginAsync = async (api) => {
    // Its answers carry values, tokens and who may do what: no cache or proxy may keep them.
    api.addHook("onRequest", (_request, reply, done) => {
      void reply.header("cache-control", "no-store");
      done();
    });
    await api.register(authentication, { tokens: services.tokens, usage: services.tokenUsage });
    if (options.rateLimit) await api.register(rateLimit, options.rateLimit);
    const routes = new RouteRegistry(api);
    userRoutes(routes, services.orgs);
    orgRoutes(routes, services.orgs);
    siteRoutes(routes, services.sites);
    secretRoutes(routes, services.secrets);
    secretHistoryRoutes(routes, services.secretHistory);
    deletedSecretRoutes(routes, services.secretRestore);
    tokenRoutes(routes, services.tokens);
    uiLinkRoutes(routes, services.signinLinks);
    auditRoutes(routes, services.audit);
    documented = routes.routes;
  };
  await app.register(managementApi);
  uiExchangeRoute(app, services.signinLinks);
  deliveryRoutes(app, services.delivery, services.tokenUsage, { maxHeldRequests: options.maxHeldRequests });
  // The warm runtime read, answered ahead of the framework (the route above answers everything else).
  const warmRead = warmRuntimeRead({
    delivery: services.delivery,
    usage: services.tokenUsage,
    metrics: app.metrics.route("GET", "/site/secrets"),
    behindTrustedProxy: options.trustProxy ?? false,
  });
  installFastPath(app, runtimeFastPath(warmRead));
  if (!options.https) answerOnSockets(app, warmRead);

  const document = openApiDocument(
    [...documented, UI_EXCHANGE_ROUTE, ...DELIVERY_ROUTES],
    options.version ?? "0.1.0",
  );
  app.get("/v1/openapi.json", async () => document);
  uiRoutes(app, options.uiDir);
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (request, reply) => {
    if (await services.ping()) return { status: "ready" };
    // The same answer as any request that meets the unreachable store: 503 with Retry-After.
    return sendError(request, reply, new StoreUnavailableError());
  });
  return app;
}

/**
 * JSON bodies only, decoded as strict UTF-8: invalid bytes are refused instead of silently
 * becoming U+FFFD, and anything but a JSON object is a 400. An empty body is no body: accepted by a
 * route that takes none (many HTTP clients send `Content-Type: application/json` on every call), a
 * 400 naming what to send on a route that takes one.
 */
function installJsonParser(app: FastifyInstance): void {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    if ((body as Buffer).length === 0) {
      if ((request.routeOptions.config as BodyConfig).takesBody === true) {
        done(new LockboxError("BAD_REQUEST", "The request body is empty: send a JSON object."), undefined);
      } else {
        done(null, undefined);
      }
      return;
    }
    let text: string;
    try {
      text = decoder.decode(body as Buffer);
    } catch {
      done(new LockboxError("BAD_REQUEST", "The request body is not valid UTF-8."), undefined);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      done(new LockboxError("BAD_REQUEST", "The request body is not valid JSON."), undefined);
      return;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      done(new LockboxError("BAD_REQUEST", "The request body must be a JSON object."), undefined);
      return;
    }
    done(null, parsed);
  });
}

/** Node's default time to receive a request's headers. */
const NODE_HEADERS_TIMEOUT_MS = 60_000;

/** Longest path segment the router accepts (a 1024-character name, percent-encoded). */
const MAX_PATH_SEGMENT_CHARS = 3 * 1024;

function frameworkError(error: Error & { code?: string }): LockboxError {
  if (error.code === "FST_ERR_BAD_URL") {
    return new LockboxError(
      "BAD_REQUEST",
      "The URL is malformed: percent-encode each path segment as UTF-8 (for example %C3%A9 for é).",
    );
  }
  if (error.code === "FST_ERR_MAX_PARAM_LENGTH") {
    return new LockboxError(
      "BAD_REQUEST",
      `A path segment is longer than ${MAX_PATH_SEGMENT_CHARS} characters: names are at most 255 bytes.`,
    );
  }
  return toLockboxError(error);
}

/** The first frames of a stack, without its message (which may span lines and quote a statement). */
function stackOf(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const frames = error.stack?.split("\n").filter((line) => /^\s+at /.test(line));
  return frames?.slice(0, 5).join("\n");
}
