import { maskTokens } from "@lockbox/core";
import fp from "fastify-plugin";

/** Log levels at which the per-request line is written. */
const LOGS_REQUESTS = new Set(["trace", "debug", "info"]);

/**
 * One log line per request with only what is safe to log: method, path (no query, tokens masked),
 * status and time — never a body, a query value or a header. Routes that log at `warn` (the delivery hot path)
 * skip building it.
 */
export const requestLog = fp(
  async (app) => {
    app.addHook("onResponse", (request, reply, done) => {
      if (logsRequests(request.log)) {
        request.log.info(
          {
            method: request.method,
            // A token put in the path by mistake (`DELETE /v1/tokens/<token>`) is not written down.
            path: maskTokens(request.url.split("?")[0] ?? ""),
            status: reply.statusCode,
            ms: Math.round(reply.elapsedTime * 10) / 10,
          },
          "request",
        );
      }
      done();
    });
  },
  { name: "lockbox-request-log" },
);

/**
 * Whether a request's logger writes the per-request line: not at `warn` and above, the level of the
 * delivery hot path (also when it is answered ahead of Fastify, see runtime-fast-path.ts).
 */
export function logsRequests(log: { readonly level: string }): boolean {
  return LOGS_REQUESTS.has(log.level);
}
