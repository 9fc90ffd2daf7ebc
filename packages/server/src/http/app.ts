import { randomUUID } from "node:crypto";
import { LockboxError, quoteIdentifier } from "@lockbox/core";
import Fastify, {
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from "fastify";
import type { SecretStore } from "../db/secret-store.js";
import type { Delivery } from "../delivery/delivery.js";
import { AccessPolicy, type Caller } from "../directory/access-policy.js";
import type { DirectoryService } from "../directory/directory-service.js";
import type { SecretsService } from "../secrets/secrets-service.js";
import type { TokenService } from "../tokens/token-service.js";
import type { TokenUsageRecorder } from "../tokens/token-usage.js";
import { deliveryRoutes } from "./delivery-routes.js";
import { clientErrorHandler, RateLimitedError, sendError, toLockboxError } from "./errors.js";
import { Metrics, type RouteMetrics } from "./metrics.js";
import { RateLimiter } from "./rate-limiter.js";
import { openApiDocument, RouteRegistry } from "./route.js";
import { auditRoutes } from "./routes/audit.js";
import { orgRoutes } from "./routes/orgs.js";
import { secretRoutes } from "./routes/secrets.js";
import { siteRoutes } from "./routes/sites.js";
import { tokenRoutes } from "./routes/tokens.js";
import { userRoutes } from "./routes/users.js";

/** Log levels at which the per-request line is written. */
const LOGS_REQUESTS = new Set(["trace", "debug", "info"]);

/** 128 KiB: a 16 KiB value escaped in JSON fits with room to spare (SPEC §7). */
export const BODY_LIMIT_BYTES = 128 * 1024;

/** Everything the HTTP layer needs, wired by the composition root. */
export interface AppDependencies {
  readonly store: SecretStore;
  readonly directory: DirectoryService;
  readonly secrets: SecretsService;
  readonly tokens: TokenService;
  /** Runtime and build delivery (caches, audit of deliveries). */
  readonly delivery: Delivery;
  /** Last-use times of tokens of every kind, written in batches; closed by whoever created it. */
  readonly tokenUsage: TokenUsageRecorder;
  /** Management API rate limit per token; undefined disables it. */
  readonly rateLimit?: { readonly ratePerSecond: number; readonly burst: number } | undefined;
  /** Fastify's logger option: false in tests, a pino config in the server. */
  readonly logger?: FastifyServerOptions["logger"];
  readonly trustProxy?: boolean;
  readonly https?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  readonly version?: string;
}

/** What the route files receive. */
export interface RouteContext extends AppDependencies {
  readonly access: AccessPolicy;
  readonly routes: RouteRegistry;
}

declare module "fastify" {
  interface FastifyRequest {
    /** Set once the request's token is authenticated (management routes). */
    caller?: Caller;
  }
}

/**
 * Builds the Fastify application: the management API under `/v1`, its OpenAPI document, health
 * and metrics. Errors of every origin leave in the one shape of SPEC §7; request logs carry
 * method, path, status and timing, never a body, a query value or a header.
 */
export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: deps.trustProxy ?? false,
    genReqId: (request) => validRequestId(request.headers["x-request-id"]) ?? randomUUID(),
    // One line per request, written by the onResponse hook below with only what is safe to log.
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
    ...(deps.https ? { https: { cert: deps.https.cert, key: deps.https.key } } : {}),
  } as FastifyServerOptions);

  installJsonParser(app);
  const metrics = new Metrics();
  const limiter = deps.rateLimit ? new RateLimiter(deps.rateLimit) : undefined;
  const access = new AccessPolicy(deps.store);

  // Each route gets its metrics slot when registered, so counting a request builds no strings.
  const unmatched = metrics.route("*", "unmatched");
  app.addHook("onRoute", (route) => {
    const method = Array.isArray(route.method) ? route.method.join(",") : String(route.method);
    route.config = { ...(route.config as object), metrics: metrics.route(method, route.url) };
  });
  app.addHook("onResponse", (request, reply, done) => {
    const routeMetrics =
      (request.routeOptions.config as { metrics?: RouteMetrics } | undefined)?.metrics ?? unmatched;
    routeMetrics.observe(reply.statusCode, reply.elapsedTime / 1000);
    // The delivery hot path logs at "warn" only, so it skips building this line.
    if (LOGS_REQUESTS.has(request.log.level)) {
      request.log.info(
        {
          method: request.method,
          path: request.url.split("?")[0],
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
        },
        "request",
      );
    }
    done();
  });
  const unsubscribe = deps.store.onChange((change) => deps.delivery.applyChange(change));
  app.addHook("onClose", async () => {
    unsubscribe();
  });

  app.setErrorHandler((error, request, reply) => {
    const lockboxError = toLockboxError(error);
    if (lockboxError.code === "INTERNAL" || lockboxError.code === "INTEGRITY_FAILED") {
      // Log the kind and place, not the error object: driver errors can quote the statement.
      request.log.error(
        { reqId: request.id, kind: (error as Error)?.name, stack: stackOf(error) },
        "request failed",
      );
    }
    return sendError(request, reply, lockboxError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      request,
      reply,
      new LockboxError(
        "NOT_FOUND",
        `No route ${request.method} ${quoteIdentifier(request.url.split("?")[0] ?? "")}: see /v1/openapi.json.`,
      ),
    ),
  );

  const authenticate = async (request: FastifyRequest): Promise<Caller> => {
    const token = bearerToken(request);
    const { token: row } = await deps.tokens.authenticate(token);
    if (row.kind !== "user" || row.userId === null) {
      throw new LockboxError(
        "FORBIDDEN",
        `A ${row.kind} token can only read ${row.kind === "runtime" ? "GET /site/secrets" : "GET /v1/build/secrets"}: use a user token (lbx_…) for the management API.`,
      );
    }
    if (limiter) {
      const waitSeconds = limiter.take(row.id);
      if (waitSeconds > 0) throw new RateLimitedError(waitSeconds);
    }
    const user = await deps.store.findUserById(row.userId);
    if (!user) throw new LockboxError("UNAUTHENTICATED", "The token is invalid, expired or revoked.");
    deps.tokenUsage.record(row.id);
    const caller = { user, token: row };
    request.caller = caller;
    return caller;
  };

  const routes = new RouteRegistry(app, authenticate);
  const context: RouteContext = { ...deps, access, routes };
  userRoutes(context);
  orgRoutes(context);
  siteRoutes(context);
  secretRoutes(context);
  tokenRoutes(context);
  auditRoutes(context);

  deliveryRoutes(app, deps.delivery, deps.store, deps.tokenUsage);

  const document = openApiDocument(routes.routes, deps.version ?? "0.1.0");
  app.get("/v1/openapi.json", async () => document);
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (request, reply) => {
    if (await deps.store.ping()) return { status: "ready" };
    return sendError(request, reply, new LockboxError("UNAVAILABLE", "The store does not answer."));
  });
  app.get("/metrics", async (_request, reply) =>
    reply.type("text/plain; version=0.0.4; charset=utf-8").send(metrics.render()),
  );
  return app;
}

/** The bearer token of a request, or UNAUTHENTICATED naming what is missing. */
export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match?.[1]) {
    throw new LockboxError(
      "UNAUTHENTICATED",
      "Send a token as 'Authorization: Bearer <token>' (log in with: lockbox auth:login).",
    );
  }
  return match[1];
}

/**
 * JSON bodies only, decoded as strict UTF-8: invalid bytes are refused instead of silently
 * becoming U+FFFD, and anything but a JSON object is a 400.
 */
function installJsonParser(app: FastifyInstance): void {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) => {
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

function validRequestId(header: unknown): string | undefined {
  return typeof header === "string" && /^[A-Za-z0-9._-]{1,64}$/.test(header) ? header : undefined;
}

/** The first frames of a stack, without its message (which may span lines and quote a statement). */
function stackOf(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const frames = error.stack?.split("\n").filter((line) => /^\s+at /.test(line));
  return frames?.slice(0, 5).join("\n");
}
