import fp from "fastify-plugin";
import { Metrics, type RouteMetrics } from "../metrics.js";

declare module "fastify" {
  interface FastifyInstance {
    /** The metrics served at `/metrics`, for routes that add gauges. */
    metrics: Metrics;
  }
}

/**
 * Request counts and latencies by method, route pattern and status, served at `GET /metrics` in the
 * Prometheus text format (SPEC §7). Register it before the routes: each route gets its metrics slot
 * when it is added, so counting a request builds no strings (the delivery hot path is counted too).
 */
export const metrics = fp(
  async (app) => {
    const all = new Metrics();
    const unmatched = all.route("*", "unmatched");
    app.decorate("metrics", all);
    app.addHook("onRoute", (route) => {
      const method = Array.isArray(route.method) ? route.method.join(",") : String(route.method);
      route.config = { ...(route.config as object), metrics: all.route(method, route.url) };
    });
    app.addHook("onResponse", (request, reply, done) => {
      const routeMetrics =
        (request.routeOptions.config as { metrics?: RouteMetrics } | undefined)?.metrics ?? unmatched;
      routeMetrics.observe(reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
    app.get("/metrics", async (_request, reply) =>
      reply.type("text/plain; version=0.0.4; charset=utf-8").send(all.render()),
    );
  },
  { name: "lockbox-metrics" },
);
