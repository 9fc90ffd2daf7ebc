import fp from "fastify-plugin";

/** Log levels at which the per-request line is written. */
const LOGS_REQUESTS = new Set(["trace", "debug", "info"]);

/**
 * One log line per request with only what is safe to log: method, path (no query), status and
 * time — never a body, a query value or a header. Routes that log at `warn` (the delivery hot path)
 * skip building it.
 */
export const requestLog = fp(
  async (app) => {
    app.addHook("onResponse", (request, reply, done) => {
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
  },
  { name: "lockbox-request-log" },
);
