import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { AuditBatchWriter } from "../../audit/audit-batch-writer.js";
import type { KyselyStore } from "../../db/kysely-store.js";
import type { TestDatabase } from "../../db/testing/test-databases.js";
import { Delivery } from "../../delivery/delivery.js";
import { SYSTEM_CONTEXT } from "../../directory/caller.js";
import { DirectoryService } from "../../directory/directory-service.js";
import { Keyring } from "../../keys/index.js";
import { Vault } from "../../keys/vault.js";
import { SecretsService } from "../../secrets/secrets-service.js";
import { bootstrapAdmin } from "../../tokens/bootstrap.js";
import { TokenService } from "../../tokens/token-service.js";
import { TokenUsageRecorder } from "../../tokens/token-usage.js";
import { buildApp } from "../app.js";

/** A response as tests read it; `json` is the parsed body, left untyped for terse assertions. */
export interface TestResponse {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary JSON bodies.
  readonly json: any;
  readonly headers: Record<string, unknown>;
  readonly body: string;
}

/** An in-process app over a test database, for `app.inject()` tests of the HTTP layer. */
export interface TestApp {
  readonly app: FastifyInstance;
  readonly store: KyselyStore;
  readonly directory: DirectoryService;
  readonly tokens: TokenService;
  readonly delivery: Delivery;
  readonly audit: AuditBatchWriter;
  /** Flush it to see last-use times at once. */
  readonly tokenUsage: TokenUsageRecorder;
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
  options: { rateLimit?: { ratePerSecond: number; burst: number } } = {},
): Promise<TestApp> {
  const store = await database.open();
  const vault = new Vault(Keyring.fromKeys(randomBytes(32)), store);
  const directory = new DirectoryService(store, vault);
  const tokens = new TokenService(store);
  const bootstrap = await bootstrapAdmin(SYSTEM_CONTEXT, store);
  if (!bootstrap.created || !bootstrap.token) throw new Error("the test store already had an admin");
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const secrets = new SecretsService(store, vault);
  const audit = new AuditBatchWriter(store, { flushIntervalMs: 20 });
  const delivery = new Delivery(secrets, tokens, audit);
  const tokenUsage = new TokenUsageRecorder(store);
  const app = await buildApp({
    store,
    directory,
    secrets,
    tokens,
    delivery,
    tokenUsage,
    rateLimit: options.rateLimit,
    logger: { level: "info", stream },
  });
  const adminToken = bootstrap.token;
  return {
    app,
    store,
    directory,
    tokens,
    adminToken,
    logs,
    async call(method, url, { token, body, headers } = {}) {
      const response = await app.inject({
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
    delivery,
    audit,
    tokenUsage,
    async close() {
      await app.close();
      await tokenUsage.close();
      await audit.close();
      await store.close();
    },
  };
}
