import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/**
 * The id of a request: the caller's `X-Request-Id` when it is a safe token (letters, digits, `._-`,
 * at most 64), else a new UUID. Fastify's `genReqId` and the runtime fast path both use it.
 */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const header = headers["x-request-id"];
  return typeof header === "string" && /^[A-Za-z0-9._-]{1,64}$/.test(header) ? header : randomUUID();
}
