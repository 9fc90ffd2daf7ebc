import { LockboxError } from "@lockbox/core";
import type { FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Caller } from "../../directory/caller.js";
import type { TokenService } from "../../tokens/token-service.js";
import type { TokenUsageRecorder } from "../../tokens/token-usage.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The person behind the request's user token (management routes, once authenticated). */
    caller: Caller | undefined;
  }
}

/** What authentication needs: who a user token is, and where its use is recorded. */
export interface AuthenticationOptions {
  readonly tokens: Pick<TokenService, "authenticateUser">;
  readonly usage: Pick<TokenUsageRecorder, "record">;
}

/**
 * Authenticates every request of the scope it is registered in (the management API) by its user
 * token, before the handler: `request.caller` is set, or the request fails with 401 (no, malformed,
 * unknown, revoked or expired token) or 403 (a runtime or build token). Runs after the body is
 * parsed, so a malformed body is a 400 whoever sends it. Each authenticated request is a use of its
 * token, recorded once answered, except one refused for its token (429, rate-limited).
 */
export const authentication = fp<AuthenticationOptions>(
  async (app, { tokens, usage }) => {
    app.decorateRequest("caller", undefined);
    app.addHook("preHandler", async (request) => {
      request.caller = await tokens.authenticateUser(bearerToken(request), String(request.id));
    });
    app.addHook("onResponse", (request, reply, done) => {
      if (request.caller !== undefined && reply.statusCode !== 429) usage.record(request.caller.token.id);
      done();
    });
  },
  { name: "lockbox-authentication" },
);

/**
 * The bearer token of a request, or UNAUTHENTICATED naming what is missing. A request with two
 * `Authorization` headers is a 400: Node keeps the first and drops the rest, so a proxy that reads
 * the last one would authorize the request as someone other than the server does.
 */
export function bearerToken(request: FastifyRequest): string {
  if (repeatsAuthorization(request.raw.rawHeaders)) {
    throw new LockboxError(
      "BAD_REQUEST",
      "The request has more than one Authorization header: send exactly one, 'Authorization: Bearer <token>'.",
    );
  }
  const token = bearerTokenOf(request.headers.authorization);
  if (token === undefined) {
    throw new LockboxError(
      "UNAUTHENTICATED",
      "Send a token as 'Authorization: Bearer <token>': a person's from lockbox auth:login, an application's from lockbox token:runtime:create <site>.<env>, a build's from lockbox token:build:create <site>.<env>.",
    );
  }
  return token;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined when there is none. */
export function bearerTokenOf(header: string | undefined): string | undefined {
  const match = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1] || undefined;
}

/** Whether the request has more than one `Authorization` header (`rawHeaders`: names and values in turn). */
export function repeatsAuthorization(rawHeaders: readonly string[]): boolean {
  let seen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 13 && name.toLowerCase() === "authorization") {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}
