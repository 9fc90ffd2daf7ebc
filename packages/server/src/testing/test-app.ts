import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { inject } from "light-my-request";
import { SYSTEM_CONTEXT } from "../audit/request-context.js";
import type { LockboxDb } from "../db/lockbox-db.js";
import { buildApp } from "../http/app.js";
import type { Lockbox } from "../lockbox.js";
import type { LockboxStores } from "../stores.js";
import { bootstrapAdmin } from "../tokens/bootstrap.js";
import type { TestDatabase } from "./test-databases.js";
import { createTestLockbox } from "./test-lockbox.js";

/** A response as tests read it; `json` is the parsed body, left untyped for terse assertions. */
export interface TestResponse {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary JSON bodies.
  readonly json: any;
  readonly headers: Record<string, unknown>;
  readonly body: string;
}

/** An in-process app over a test database, for `app.inject()` tests of the HTTP layer. */
/** Makes the app listen on a free loopback port, for raw-socket tests; answers the port. */
export async function listenOnLoopback(app: FastifyInstance): Promise<number> {
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("the app is not listening");
  return address.port;
}

export interface TestApp {
  readonly app: FastifyInstance;
  /** Lockbox as the composition root wired it. */
  readonly lockbox: Lockbox;
  readonly db: LockboxDb;
  readonly stores: LockboxStores;
  readonly adminToken: string;
  /** Every log line the app wrote. */
  readonly logs: string[];
  /** Sends a request; `body` objects are JSON-encoded. */
  call(
    method: string,
    url: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<TestResponse>;
  /** A new user with a user token. */
  user(email: string): Promise<{ email: string; token: string }>;
  close(): Promise<void>;
}

export async function createTestApp(
  database: TestDatabase,
  options: {
    rateLimit?: { ratePerSecond: number; burst: number };
    now?: () => Date;
    trustProxy?: boolean;
  } = {},
): Promise<TestApp> {
  const lockbox = await createTestLockbox(database, { now: options.now });
  // One process writes this database: every change reaches its caches, so they may cache from the start.
  lockbox.delivery.setCaching(true);
  const bootstrap = await bootstrapAdmin(SYSTEM_CONTEXT, lockbox.stores);
  if (!bootstrap.created || !bootstrap.token) throw new Error("the test store already had an admin");
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const app = await buildApp(lockbox, {
    rateLimit: options.rateLimit,
    ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
    logger: { level: "info", stream },
  });
  await app.ready();
  const adminToken = bootstrap.token;
  return {
    app,
    lockbox,
    db: lockbox.db,
    stores: lockbox.stores,
    adminToken,
    logs,
    async call(method, url, { token, body, headers } = {}) {
      // Into what the server runs (the runtime fast path, then Fastify), as a real client would reach it.
      const response = await inject(app.serverHandler, {
        method: method as "GET",
        url,
        headers: {
          ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined && typeof body !== "string" ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        ...(body !== undefined ? { payload: typeof body === "string" ? body : JSON.stringify(body) } : {}),
      });
      let json: unknown;
      try {
        json = response.body ? JSON.parse(response.body) : undefined;
      } catch {
        json = undefined;
      }
      return { status: response.statusCode, json, headers: response.headers, body: response.body };
    },
    async user(email) {
      const response = await app.inject({
        method: "POST",
        url: "/v1/users",
        headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
        payload: JSON.stringify({ email }),
      });
      if (response.statusCode !== 201) throw new Error(`creating ${email}: ${response.body}`);
      const token = await app.inject({
        method: "POST",
        url: "/v1/tokens",
        headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
        payload: JSON.stringify({ kind: "user", user: email }),
      });
      return { email, token: JSON.parse(token.body).token as string };
    },
    async close() {
      await app.close();
      await lockbox.close();
    },
  };
}
