import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { type ErrorCode, isLockboxError, LockboxError, quoteIdentifier } from "@lockbox/core";
import type { FastifyReply, FastifyRequest } from "fastify";

/** The one place error codes become HTTP statuses (SPEC §7). */
export const STATUS_BY_CODE = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ORG_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  SITE_NOT_FOUND: 404,
  ENVIRONMENT_NOT_FOUND: 404,
  SECRET_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  VALIDATION_FAILED: 422,
  RATE_LIMITED: 429,
  INTEGRITY_FAILED: 500,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  STORAGE_FULL: 507,
} as const satisfies Record<ErrorCode, number>;

/** A 429 that knows when the caller may try again (sent as `Retry-After`). */
export class RateLimitedError extends LockboxError {
  constructor(readonly retryAfterSeconds: number) {
    super("RATE_LIMITED", `Too many requests for this token: retry in ${retryAfterSeconds} s.`);
  }
}

/**
 * A request that arrives while the server shuts down (SIGTERM, after held reads were answered): 503
 * with `Retry-After` and `Connection: close`, so that a client retries, on another server or on
 * this one restarted.
 */
export class ShuttingDownError extends LockboxError {
  readonly retryAfterSeconds = 1;
  constructor() {
    super("UNAVAILABLE", "The server is shutting down: retry in 1 s.");
  }
}

/** The body of every error answer. */
export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly requestId: string };
}

/**
 * Turns anything thrown while serving a request into a {@link LockboxError}: Lockbox's own errors
 * pass through; Fastify's own 4xx (bad JSON, too large, wrong media type) get their SPEC codes with
 * a message of ours; everything else becomes INTERNAL with a message that reveals nothing.
 */
export function toLockboxError(error: unknown): LockboxError {
  if (isLockboxError(error)) return error;
  const statusCode = (error as { statusCode?: unknown }).statusCode;
  const fastifyCode = (error as { code?: unknown }).code;
  if (statusCode === 413 || fastifyCode === "FST_ERR_CTP_BODY_TOO_LARGE") {
    return new LockboxError("PAYLOAD_TOO_LARGE", "The request body is larger than 128 KiB.");
  }
  if (statusCode === 415 || fastifyCode === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
    return new LockboxError(
      "UNSUPPORTED_MEDIA_TYPE",
      "Send the request body as JSON with 'Content-Type: application/json'.",
    );
  }
  if (error instanceof SyntaxError || fastifyCode === "FST_ERR_CTP_EMPTY_JSON_BODY") {
    return new LockboxError("BAD_REQUEST", "The request body is not valid JSON.");
  }
  if (typeof statusCode === "number" && statusCode >= 400 && statusCode < 500) {
    return new LockboxError("BAD_REQUEST", "The request is malformed.");
  }
  return new LockboxError(
    "INTERNAL",
    "Something went wrong on the server; the request ID identifies it in the server log.",
  );
}

/** Sends `error` in the single error shape with the status of its code. */
export function sendError(request: FastifyRequest, reply: FastifyReply, error: LockboxError): FastifyReply {
  const status = STATUS_BY_CODE[error.code];
  const body: ErrorBody = {
    error: { code: error.code, message: error.message, requestId: String(request.id) },
  };
  // RateLimitedError, StoreUnavailableError, ShuttingDownError: when to try again.
  const { retryAfterSeconds } = error as { retryAfterSeconds?: unknown };
  if (typeof retryAfterSeconds === "number") void reply.header("retry-after", String(retryAfterSeconds));
  if (error.code === "UNAUTHENTICATED") void reply.header("www-authenticate", 'Bearer realm="lockbox"');
  // No cache or proxy keeps an error: it is true of this request only (and the next may succeed).
  void reply.header("cache-control", "no-store");
  return reply.code(status).type("application/json; charset=utf-8").send(body);
}

/** The 404 of a method and path that no route serves. */
export function routeNotFound(request: FastifyRequest): LockboxError {
  return new LockboxError(
    "NOT_FOUND",
    `No route ${request.method} ${quoteIdentifier(request.url.split("?")[0] ?? "")}: see /v1/openapi.json.`,
  );
}

/**
 * Answers a request whose `Expect` header asks for anything but `100-continue` (which Node answers
 * itself) in the single error shape, as 400 BAD_REQUEST, and closes the connection: Node's own
 * answer was a 417 with an empty body. Its body, never read, is not taken as the next request.
 */
export function unmetExpectationHandler(request: IncomingMessage, response: ServerResponse): void {
  const expectation = String(request.headers.expect ?? "");
  const text = badRequestText(
    `The Expect header ${quoteIdentifier(expectation)} is not supported: send 'Expect: 100-continue' or none.`,
  );
  response.writeHead(STATUS_BY_CODE.BAD_REQUEST, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
    Connection: "close",
  });
  response.end(text);
}

/**
 * Answers a request Node's HTTP parser refused before Fastify saw it (bad request line or header,
 * conflicting lengths, headers over 16 KiB) in the single error shape, as 400 BAD_REQUEST, and
 * closes the connection. The default handler's body lacked `code` and `requestId`.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  if (socket.writable) {
    const message =
      error.code === "HPE_HEADER_OVERFLOW"
        ? "The request line and headers are larger than 16 KiB."
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? "The request did not arrive in time."
          : "The request is not valid HTTP/1.1.";
    const text = badRequestText(message);
    socket.write(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}

/** The body of a 400 answered below Fastify (no request id was given yet: a new one). */
function badRequestText(message: string): string {
  const body: ErrorBody = { error: { code: "BAD_REQUEST", message, requestId: randomUUID() } };
  return JSON.stringify(body);
}
