import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/**
 * The id of a request: a new UUID, or, behind a trusted proxy (`--trust-proxy`), the proxy's
 * `X-Request-Id` when it is a safe token (letters, digits, `._-`, at most 64), so that one id
 * follows the request through the proxy's logs, the server's and the audit log. Without a proxy
 * the header comes from the client itself, which must not choose the id its requests are audited
 * under (it could give an earlier request's id to its own). Fastify's `genReqId` and the runtime
 * fast path both use it.
 */
export function requestIdOf(headers: IncomingHttpHeaders, behindTrustedProxy: boolean): string {
  if (!behindTrustedProxy) return randomUUID();
  const header = headers["x-request-id"];
  return typeof header === "string" && /^[A-Za-z0-9._-]{1,64}$/.test(header) ? header : randomUUID();
}
