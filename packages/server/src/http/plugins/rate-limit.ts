import fp from "fastify-plugin";
import { RateLimitedError } from "../errors.js";
import { RateLimiter } from "../rate-limiter.js";

/**
 * Limits each user token's requests in the scope it is registered in (the management API, after
 * {@link authentication}): SPEC §5, per token and per server. Past the limit, 429 with `Retry-After`.
 */
export const rateLimit = fp<{ readonly ratePerSecond: number; readonly burst: number }>(
  async (app, options) => {
    const limiter = new RateLimiter(options);
    app.addHook("preHandler", async (request) => {
      if (request.caller === undefined) return;
      const waitSeconds = limiter.take(request.caller.token.id);
      if (waitSeconds > 0) throw new RateLimitedError(waitSeconds);
    });
  },
  { name: "lockbox-rate-limit", dependencies: ["lockbox-authentication"] },
);
