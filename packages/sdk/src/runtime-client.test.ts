import { createHash } from "node:crypto";
import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { environmentNameSchema, RESERVED_MULTIDEV_NAMES } from "@lockbox/core";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createRuntimeClient,
  getSecret,
  getSecrets,
  LockboxRuntimeError,
  type RuntimeClientOptions,
  resetDefaultRuntimeClient,
} from "./runtime-client.js";

const TOKEN = "lbr_TESTTOKENtesttokenTESTTOKENtesttokenTESTTOK";
const TTL_MS = 300_000;
/** While serving stale, the next attempt comes this much later (or after the TTL, if shorter). */
const RETRY_MS = 30_000;

type Mode = "ok" | "401" | "403" | "500" | "echo" | "close" | "hang" | "html" | "redirect";

/** A stand-in for `GET /site/secrets` on a real socket, with the wire shape and ETag of the server. */
class FakeLockbox {
  mode: Mode = "ok";
  secrets = new Map<string, string>();
  delayMs = 0;
  /** Every request to `/site/secrets`, in order. */
  readonly requests: { ifNoneMatch: string | undefined; authorization: string | undefined }[] = [];
  /** Requests to any other path. */
  readonly strayRequests: string[] = [];
  readonly notModified: number[] = [];
  #server: Server = createServer((req, res) => this.#handle(req, res));
  #port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get etag(): string {
    return `"${this.#version()}"`;
  }

  async start(): Promise<void> {
    this.#server = createServer((req, res) => this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server.listen(this.#port, "127.0.0.1", resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  #version(): string {
    return createHash("sha256")
      .update(JSON.stringify([...this.secrets]))
      .digest("hex")
      .slice(0, 32);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.url !== "/site/secrets") {
      this.strayRequests.push(req.url ?? "");
      res.writeHead(404).end();
      return;
    }
    this.requests.push({
      ifNoneMatch: req.headers["if-none-match"],
      authorization: req.headers.authorization,
    });
    const answer = () => this.#answer(req, res);
    if (this.delayMs > 0) setTimeout(answer, this.delayMs);
    else answer();
  }

  #answer(req: IncomingMessage, res: ServerResponse): void {
    const error = (status: number, code: string, message: string): void => {
      res
        .writeHead(status, { "content-type": "application/json" })
        .end(JSON.stringify({ error: { code, message, requestId: "req-42" } }));
    };
    switch (this.mode) {
      case "hang":
        return;
      case "close":
        req.socket.destroy();
        return;
      case "401":
        error(
          401,
          "UNAUTHENTICATED",
          // What the real server says (token-service.ts).
          "The token is invalid, expired or revoked.",
        );
        return;
      case "403":
        error(403, "FORBIDDEN", "A user token cannot be used here.");
        return;
      case "500":
        error(500, "INTERNAL", "Internal error.");
        return;
      case "echo":
        // A proxy or a broken server that repeats the request's headers in its error.
        error(500, `X ${req.headers.authorization}`, `boom ${req.headers.authorization}`);
        return;
      case "html":
        res.writeHead(200, { "content-type": "text/html" }).end("<html>maintenance</html>");
        return;
      case "redirect":
        res.writeHead(302, { location: `${this.url}/elsewhere?token=x` }).end();
        return;
      case "ok": {
        const etag = this.etag;
        if (req.headers["if-none-match"] === etag) {
          this.notModified.push(this.requests.length);
          res.writeHead(304, { etag }).end();
          return;
        }
        const secrets: Record<string, unknown> = Object.create(null);
        for (const [name, value] of this.secrets)
          secrets[name] = { Type: "runtime", Value: value, Scopes: ["web"] };
        res.writeHead(200, { "content-type": "application/json; charset=utf-8", etag }).end(
          JSON.stringify({
            SiteID: "0b7e3c55-5d0e-4b8f-9c0a-2f6f5f5b1a11",
            Environment: "live",
            Secrets: { ...secrets },
            Count: this.secrets.size,
            Version: this.#version(),
            Scopes: ["web"],
          }),
        );
      }
    }
  }
}

let fake: FakeLockbox;
let clock: number;
let warnings: string[];

beforeEach(async () => {
  fake = new FakeLockbox();
  fake.secrets.set("DB_PASSWORD", "s3cret-db-value");
  fake.secrets.set("API_KEY", "s3cret-api-value");
  await fake.start();
  clock = 1_000_000;
  warnings = [];
});

afterEach(async () => {
  await fake.stop();
});

function client(extra: RuntimeClientOptions = {}) {
  return createRuntimeClient({
    url: fake.url,
    token: TOKEN,
    now: () => clock,
    logger: { warn: (message) => warnings.push(message) },
    processEnv: {},
    ...extra,
  });
}

async function failure(promise: Promise<unknown>): Promise<LockboxRuntimeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LockboxRuntimeError);
  return error as LockboxRuntimeError;
}

function expectNoSecretIn(text: string): void {
  for (const value of ["s3cret-db-value", "s3cret-api-value", "s3cret-new-value", TOKEN]) {
    expect(text).not.toContain(value);
  }
}

describe("createRuntimeClient against a server", () => {
  it("serves many getSecret calls from one fetch, sending the runtime token", async () => {
    const secrets = client();
    expect(await secrets.getSecret("DB_PASSWORD")).toBe("s3cret-db-value");
    expect(await secrets.getSecret("API_KEY")).toBe("s3cret-api-value");
    expect(await secrets.getSecret("DB_PASSWORD")).toBe("s3cret-db-value");
    expect(await secrets.getSecrets()).toEqual({
      DB_PASSWORD: "s3cret-db-value",
      API_KEY: "s3cret-api-value",
    });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toEqual({ ifNoneMatch: undefined, authorization: `Bearer ${TOKEN}` });
  });

  it("answers null for a name the set does not have, including inherited Object names", async () => {
    const secrets = client();
    expect(await secrets.getSecret("MISSING")).toBeNull();
    expect(await secrets.getSecret("db_password")).toBeNull();
    expect(await secrets.getSecret("toString")).toBeNull();
    expect(await secrets.getSecret("__proto__")).toBeNull();
  });

  it("getSecrets returns a frozen null-prototype record in which __proto__ is an ordinary name", async () => {
    fake.secrets.set("__proto__", "proto-value");
    const secrets = client();
    const all = await secrets.getSecrets();
    expect(Object.getPrototypeOf(all)).toBeNull();
    expect(Object.isFrozen(all)).toBe(true);
    expect(Object.keys(all)).toContain("__proto__");
    expect(await secrets.getSecret("__proto__")).toBe("proto-value");
    expect(await secrets.getSecrets()).toBe(all);
  });

  it("revalidates with If-None-Match after the TTL, keeps the set on 304 and restarts the TTL", async () => {
    const secrets = client();
    await secrets.getSecret("DB_PASSWORD");
    clock += TTL_MS - 1;
    await secrets.getSecret("DB_PASSWORD");
    expect(fake.requests).toHaveLength(1);

    clock += 1;
    const before = await secrets.getSecrets();
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1]?.ifNoneMatch).toBe(fake.etag);
    expect(fake.notModified).toEqual([2]);
    expect(await secrets.getSecret("DB_PASSWORD")).toBe("s3cret-db-value");
    expect(await secrets.getSecrets()).toBe(before);

    clock += TTL_MS - 1;
    await secrets.getSecret("DB_PASSWORD");
    expect(fake.requests).toHaveLength(2);
  });

  it("honours a custom ttlSeconds, and 0 revalidates on every read", async () => {
    const short = client({ ttlSeconds: 10 });
    await short.getSecret("API_KEY");
    clock += 10_000;
    await short.getSecret("API_KEY");
    expect(fake.requests).toHaveLength(2);

    const always = client({ ttlSeconds: 0 });
    await always.getSecret("API_KEY");
    await always.getSecret("API_KEY");
    expect(fake.requests).toHaveLength(4);
  });

  it("picks up a changed set after the TTL, and not before", async () => {
    const secrets = client();
    await secrets.getSecret("DB_PASSWORD");
    fake.secrets.set("DB_PASSWORD", "s3cret-new-value");
    fake.secrets.delete("API_KEY");
    clock += TTL_MS - 1;
    expect(await secrets.getSecret("DB_PASSWORD")).toBe("s3cret-db-value");
    clock += 1;
    expect(await secrets.getSecret("DB_PASSWORD")).toBe("s3cret-new-value");
    expect(await secrets.getSecret("API_KEY")).toBeNull();
    expect(fake.notModified).toEqual([]);
  });

  it("keeps serving the cached set while the server is stopped, with exactly one warning and no value in it", async () => {
    const secrets = client();
    await secrets.getSecret("DB_PASSWORD");
    await fake.stop();

    for (let i = 0; i < 3; i++) {
      clock += TTL_MS;
      expect(await secrets.getSecret("DB_PASSWORD")).toBe("s3cret-db-value");
      expect(await secrets.getSecrets()).toEqual({
        DB_PASSWORD: "s3cret-db-value",
        API_KEY: "s3cret-api-value",
      });
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(fake.url);
    expect(warnings[0]).toContain("connection refused");
    expect(warnings[0]).toContain("300 s ago");
    expect(warnings[0]).toContain("next attempt in 30 s");
    expectNoSecretIn(warnings[0] ?? "");
  });

  it("retries 30 s after a failure, picks a change up once the server is back, and warns again on the next outage", async () => {
    const secrets = client();
    await secrets.getSecret("DB_PASSWORD");
    await fake.stop();
    clock += TTL_MS;
    expect(await secrets.getSecret("DB_PASSWORD")).toBe("s3cret-db-value");

    fake.secrets.set("DB_PASSWORD", "s3cret-new-value");
    await fake.start();
    clock += RETRY_MS - 1;
    expect(await secrets.getSecret("DB_PASSWORD")).toBe("s3cret-db-value");
    expect(fake.requests).toHaveLength(1);
    clock += 1;
    expect(await secrets.getSecret("DB_PASSWORD")).toBe("s3cret-new-value");
    expect(warnings).toHaveLength(1);

    fake.mode = "500";
    clock += TTL_MS;
    expect(await secrets.getSecret("DB_PASSWORD")).toBe("s3cret-new-value");
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toContain("HTTP 500 INTERNAL: Internal error. (request id req-42)");
  });

  it("never repeats its token when the server's error does", async () => {
    fake.mode = "echo";
    const refused = await failure(client().getSecret("DB_PASSWORD"));
    expect(refused.message).toContain("HTTP 500 X Bearer [token]: boom Bearer [token]");
    expect(refused.message).not.toContain(TOKEN.slice(4));
  });

  it("while serving stale, tries again after 30 s, or after the TTL when it is shorter", async () => {
    const secrets = client();
    await secrets.getSecret("DB_PASSWORD");
    fake.mode = "500";
    clock += TTL_MS;
    await secrets.getSecret("DB_PASSWORD");
    expect(fake.requests).toHaveLength(2);
    clock += RETRY_MS - 1;
    await secrets.getSecret("DB_PASSWORD");
    expect(fake.requests).toHaveLength(2);
    clock += 1;
    await secrets.getSecret("DB_PASSWORD");
    expect(fake.requests).toHaveLength(3);

    const short = client({ ttlSeconds: 5 });
    await short.getSecrets().catch(() => undefined);
    fake.mode = "ok";
    await short.getSecrets();
    fake.mode = "500";
    clock += 5000;
    await short.getSecrets();
    clock += 5000;
    await short.getSecrets();
    expect(fake.requests).toHaveLength(7);
    expect(warnings.at(-1)).toContain("next attempt in 5 s");
  });

  it("keeps a server's error message to one bounded line", async () => {
    const message = `first line\n${"x".repeat(5000)}`;
    const error = await failure(
      client({
        fetch: async () =>
          new Response(JSON.stringify({ error: { code: "INTERNAL", message, requestId: "r" } }), {
            status: 500,
          }),
      }).getSecret("A"),
    );
    expect(error.message).not.toContain("\n");
    expect(error.message.length).toBeLessThan(400);
  });

  it("serves the cached set even when the logger throws", async () => {
    const secrets = client({
      logger: {
        warn: () => {
          throw new Error("log sink down");
        },
      },
    });
    await secrets.getSecret("DB_PASSWORD");
    await fake.stop();
    clock += TTL_MS;
    expect(await secrets.getSecret("DB_PASSWORD")).toBe("s3cret-db-value");
  });

  it.each([
    ["500", "HTTP 500"],
    ["close", "the connection closed before the answer was complete"],
    ["html", "a body that is not a secrets set (not JSON)"],
  ] as const)("serves the cached set when the server answers %s", async (mode, reason) => {
    const secrets = client();
    await secrets.getSecret("API_KEY");
    fake.mode = mode;
    clock += TTL_MS;
    expect(await secrets.getSecret("API_KEY")).toBe("s3cret-api-value");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(reason);
    expectNoSecretIn(warnings[0] ?? "");
  });

  it("rejects with a message naming the URL and the fix when nothing was fetched and the server is down", async () => {
    await fake.stop();
    const error = await failure(client().getSecret("DB_PASSWORD"));
    expect(error.code).toBe("UNREACHABLE");
    expect(error.message).toBe(
      `Cannot reach Lockbox at ${fake.url}: connection refused (ECONNREFUSED). Check LOCKBOX_URL and that the server is running and reachable from here.`,
    );
    expect(warnings).toEqual([]);
  });

  it("names fetch's own reason when the failure has no system error code (a port fetch refuses)", async () => {
    // undici refuses some ports (6000: X11) before connecting; its error says only "fetch failed"
    // and carries the reason in its cause.
    const error = await failure(client({ url: "http://127.0.0.1:6000" }).getSecret("DB_PASSWORD"));
    expect(error.code).toBe("UNREACHABLE");
    expect(error.message).toBe(
      "Cannot reach Lockbox at http://127.0.0.1:6000: bad port. Check LOCKBOX_URL and that the server is running and reachable from here.",
    );
  });

  it("rejects a 5xx with SERVER_ERROR, the server's code and request id, when nothing was fetched", async () => {
    fake.mode = "500";
    const error = await failure(client().getSecrets());
    expect(error).toMatchObject({ code: "SERVER_ERROR", status: 500, requestId: "req-42" });
    expect(error.message).toBe(
      `Lockbox at ${fake.url} failed with HTTP 500 INTERNAL: Internal error. (request id req-42): look at the server's log.`,
    );
  });

  it("rejects a 401 instead of serving the cached set, and drops that set", async () => {
    const secrets = client();
    await secrets.getSecret("DB_PASSWORD");
    fake.mode = "401";
    clock += TTL_MS;
    const error = await failure(secrets.getSecret("DB_PASSWORD"));
    expect(error).toMatchObject({ code: "UNAUTHENTICATED", status: 401, requestId: "req-42" });
    // Said once (not the server's "invalid, expired or revoked" and then ours again), with the fix.
    expect(error.message).toBe(
      `Lockbox at ${fake.url} refused the runtime token (HTTP 401, request id req-42): it is unknown, expired or revoked. Set LOCKBOX_RUNTIME_TOKEN to a current runtime token of this site environment (create one with lockbox token:runtime:create <site>.<env>).`,
    );
    expect(error.message.match(/expired/g)).toHaveLength(1);
    expectNoSecretIn(error.message);
    expect(warnings).toEqual([]);

    // The revoked token's set is gone: an outage now cannot bring it back.
    await fake.stop();
    expect((await failure(secrets.getSecret("DB_PASSWORD"))).code).toBe("UNREACHABLE");
    expect(warnings).toEqual([]);
  });

  it("rejects a 403 with FORBIDDEN saying a runtime token is needed", async () => {
    fake.mode = "403";
    const error = await failure(client().getSecret("DB_PASSWORD"));
    expect(error).toMatchObject({ code: "FORBIDDEN", status: 403 });
    expect(error.message).toContain("must be a runtime token (lbr_…)");
    expectNoSecretIn(error.message);
  });

  it("times out a server that never answers, then serves the cached set on later timeouts", async () => {
    fake.mode = "hang";
    const started = performance.now();
    const error = await failure(client({ timeoutMs: 150 }).getSecret("DB_PASSWORD"));
    expect(performance.now() - started).toBeLessThan(2000);
    expect(error.code).toBe("UNREACHABLE");
    expect(error.message).toContain("no answer within 150 ms (timeoutMs)");

    fake.mode = "ok";
    const secrets = client({ timeoutMs: 150 });
    await secrets.getSecret("DB_PASSWORD");
    fake.mode = "hang";
    clock += TTL_MS;
    expect(await secrets.getSecret("DB_PASSWORD")).toBe("s3cret-db-value");
    expect(warnings).toHaveLength(1);
  });

  it("shares one request between concurrent callers, for the first fetch and for a revalidation", async () => {
    fake.delayMs = 50;
    const secrets = client();
    const first = await Promise.all([
      ...Array.from({ length: 10 }, () => secrets.getSecret("DB_PASSWORD")),
      secrets.getSecrets(),
      secrets.refresh(),
    ]);
    expect(first.slice(0, 10)).toEqual(Array(10).fill("s3cret-db-value"));
    expect(fake.requests).toHaveLength(1);

    clock += TTL_MS;
    fake.secrets.set("API_KEY", "s3cret-new-value");
    const second = await Promise.all(Array.from({ length: 10 }, () => secrets.getSecret("API_KEY")));
    expect(second).toEqual(Array(10).fill("s3cret-new-value"));
    expect(fake.requests).toHaveLength(2);
  });

  it("shares one failing request between concurrent callers and still warns once", async () => {
    const secrets = client();
    await secrets.getSecret("DB_PASSWORD");
    fake.mode = "500";
    fake.delayMs = 30;
    clock += TTL_MS;
    const values = await Promise.all(Array.from({ length: 5 }, () => secrets.getSecret("DB_PASSWORD")));
    expect(values).toEqual(Array(5).fill("s3cret-db-value"));
    expect(fake.requests).toHaveLength(2);
    expect(warnings).toHaveLength(1);
  });

  it("refresh() revalidates within the TTL, and rejects while the server is down but keeps the set", async () => {
    const secrets = client();
    await secrets.getSecret("DB_PASSWORD");
    fake.secrets.set("DB_PASSWORD", "s3cret-new-value");
    await secrets.refresh();
    expect(fake.requests).toHaveLength(2);
    expect(await secrets.getSecret("DB_PASSWORD")).toBe("s3cret-new-value");

    await fake.stop();
    expect((await failure(secrets.refresh())).code).toBe("UNREACHABLE");
    expect(await secrets.getSecret("DB_PASSWORD")).toBe("s3cret-new-value");
  });

  it("does not follow a redirect, so the token never goes elsewhere", async () => {
    fake.mode = "redirect";
    const error = await failure(client().getSecret("DB_PASSWORD"));
    expect(error.code).toBe("UNEXPECTED_RESPONSE");
    expect(error.message).toBe(
      `Lockbox at ${fake.url} answered GET /site/secrets with HTTP 302 (a redirect to ${fake.url}/elsewhere): check that LOCKBOX_URL is the Lockbox server's base URL.`,
    );
    expect(fake.strayRequests).toEqual([]);
  });

  it("keeps a path prefix of the URL and drops its query", async () => {
    const seen: string[] = [];
    const secrets = client({
      url: "https://lockbox.example.com/prefix/?debug=1",
      fetch: async (input) => {
        seen.push(String(input));
        return new Response(JSON.stringify({ Secrets: {}, Version: "v1" }), { status: 200 });
      },
    });
    expect(await secrets.getSecrets()).toEqual({});
    expect(seen).toEqual(["https://lockbox.example.com/prefix/site/secrets"]);
  });

  it("falls back to the body's Version for If-None-Match when a proxy strips the ETag", async () => {
    const ifNoneMatch: (string | null)[] = [];
    const secrets = client({
      fetch: async (_input, init) => {
        ifNoneMatch.push(new Headers(init?.headers).get("if-none-match"));
        return ifNoneMatch.length === 1
          ? new Response(JSON.stringify({ Secrets: { A: { Value: "a" } }, Version: "abc" }), { status: 200 })
          : new Response(null, { status: 304 });
      },
    });
    await secrets.getSecret("A");
    clock += TTL_MS;
    expect(await secrets.getSecret("A")).toBe("a");
    expect(ifNoneMatch).toEqual([null, '"abc"']);
  });
});

describe("createRuntimeClient configuration", () => {
  it("reads LOCKBOX_URL and LOCKBOX_RUNTIME_TOKEN from processEnv", async () => {
    const secrets = createRuntimeClient({
      processEnv: { LOCKBOX_URL: fake.url, LOCKBOX_RUNTIME_TOKEN: TOKEN, LOCKBOX_SECRETS_FILE: "" },
    });
    expect(await secrets.getSecret("API_KEY")).toBe("s3cret-api-value");
    expect(fake.requests[0]?.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("refuses to start without a URL and token, naming what is missing and the fix", () => {
    expect(() => createRuntimeClient({ processEnv: {} })).toThrow(
      expect.objectContaining({
        code: "NOT_CONFIGURED",
        message: expect.stringMatching(
          /^Lockbox is not configured: set LOCKBOX_URL and LOCKBOX_RUNTIME_TOKEN\..*LOCKBOX_SECRETS_FILE/,
        ),
      }),
    );
    expect(() => createRuntimeClient({ processEnv: { LOCKBOX_URL: fake.url } })).toThrow(
      /set LOCKBOX_RUNTIME_TOKEN\./,
    );
  });

  it("refuses a URL with credentials or another scheme without echoing it", () => {
    const attempt = (url: string) => () => createRuntimeClient({ url, token: TOKEN, processEnv: {} });
    expect(attempt("https://user:pa55word@lockbox.example.com")).toThrow(
      /must not contain a user name or password/,
    );
    expect(attempt("https://user:pa55word@lockbox.example.com")).not.toThrow(/pa55word/);
    expect(attempt("ftp://lockbox.example.com")).toThrow(/must start with http:\/\/ or https:\/\//);
    expect(attempt("not a url")).toThrow(/LOCKBOX_URL is not a valid URL/);
  });

  it("refuses a token with spaces without echoing it", () => {
    const attempt = () => createRuntimeClient({ url: fake.url, token: "lbr_ab cd", processEnv: {} });
    expect(attempt).toThrow(/LOCKBOX_RUNTIME_TOKEN/);
    expect(attempt).not.toThrow(/ab cd/);
  });

  it("refuses a negative TTL and a timeout that is not positive", () => {
    expect(() => client({ ttlSeconds: -1 })).toThrow(RangeError);
    expect(() => client({ ttlSeconds: Number.NaN })).toThrow(RangeError);
    expect(() => client({ timeoutMs: 0 })).toThrow(RangeError);
    expect(() => createRuntimeClient({ secretsFile: "secrets.json", ttlSeconds: -1 })).toThrow(RangeError);
  });
});

describe("getSecret and getSecrets (the default client)", () => {
  beforeEach(() => {
    resetDefaultRuntimeClient();
    vi.stubEnv("LOCKBOX_SECRETS_FILE", "");
    vi.stubEnv("CUSTOMER_SECRETS_FAKE_FILE", "");
  });

  afterEach(() => {
    vi.unstubAllEnvs();
    resetDefaultRuntimeClient();
  });

  it("creates one client from the environment on first use and reuses it", async () => {
    vi.stubEnv("LOCKBOX_URL", fake.url);
    vi.stubEnv("LOCKBOX_RUNTIME_TOKEN", TOKEN);
    expect(await getSecret("DB_PASSWORD")).toBe("s3cret-db-value");
    expect(await getSecret("NOPE")).toBeNull();
    expect(await getSecrets()).toEqual({ DB_PASSWORD: "s3cret-db-value", API_KEY: "s3cret-api-value" });
    expect(fake.requests).toHaveLength(1);
  });

  it("rejects (not throws) while unconfigured, and works once configured", async () => {
    vi.stubEnv("LOCKBOX_URL", "");
    vi.stubEnv("LOCKBOX_RUNTIME_TOKEN", "");
    const pending = getSecret("DB_PASSWORD");
    expect((await failure(pending)).code).toBe("NOT_CONFIGURED");
    vi.stubEnv("LOCKBOX_URL", fake.url);
    vi.stubEnv("LOCKBOX_RUNTIME_TOKEN", TOKEN);
    expect(await getSecret("DB_PASSWORD")).toBe("s3cret-db-value");
  });

  it("resetDefaultRuntimeClient() makes the next call read the environment and fetch again", async () => {
    vi.stubEnv("LOCKBOX_URL", fake.url);
    vi.stubEnv("LOCKBOX_RUNTIME_TOKEN", TOKEN);
    await getSecret("DB_PASSWORD");
    fake.secrets.set("DB_PASSWORD", "s3cret-new-value");
    expect(await getSecret("DB_PASSWORD")).toBe("s3cret-db-value");
    resetDefaultRuntimeClient();
    expect(await getSecret("DB_PASSWORD")).toBe("s3cret-new-value");
    expect(fake.requests).toHaveLength(2);
  });
});

describe("createRuntimeClient in local mode", () => {
  let dir: string;
  let file: string;
  const noFetch: typeof fetch = () => Promise.reject(new Error("local mode must not call the server"));

  const localFile = {
    EntityType: "sites",
    EntityId: "0b7e3c55-5d0e-4b8f-9c0a-2f6f5f5b1a11",
    Secrets: {
      SITE_OVERRIDE: {
        Type: "runtime",
        Value: "site-base",
        Scopes: ["web", "user"],
        EnvValues: { live: "site-live" },
        OrgValues: { default: "org-base", live: "org-live" },
      },
      SITE_BASE: {
        Type: "runtime",
        Value: "site-base",
        Scopes: ["web", "user"],
        EnvValues: { live: null },
        OrgValues: { live: "org-live" },
      },
      ORG_OVERRIDE: {
        Type: "runtime",
        Value: null,
        Scopes: ["web"],
        EnvValues: {},
        OrgValues: { default: "org-base", live: "org-live" },
      },
      ORG_BASE: {
        Type: "runtime",
        Value: null,
        Scopes: ["web"],
        EnvValues: {},
        OrgValues: { default: "org-base", live: null },
      },
      REDACTED: { Type: "runtime", Value: null, Scopes: ["web"], EnvValues: {}, OrgValues: {} },
    },
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "lockbox-sdk-"));
    file = join(dir, "secrets.json");
    await writeFile(file, JSON.stringify(localFile));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads LOCKBOX_SECRETS_FILE instead of the server, resolving each step for LOCKBOX_ENV", async () => {
    const secrets = createRuntimeClient({
      fetch: noFetch,
      processEnv: {
        LOCKBOX_SECRETS_FILE: file,
        LOCKBOX_ENV: "live",
        LOCKBOX_URL: fake.url,
        LOCKBOX_RUNTIME_TOKEN: TOKEN,
      },
    });
    expect(await secrets.getSecrets()).toEqual({
      SITE_OVERRIDE: "site-live",
      SITE_BASE: "site-base",
      ORG_OVERRIDE: "org-live",
      ORG_BASE: "org-base",
    });
    expect(await secrets.getSecret("REDACTED")).toBeNull();
    expect(fake.requests).toEqual([]);
  });

  it("skips the environment steps without LOCKBOX_ENV", async () => {
    const secrets = createRuntimeClient({ processEnv: { LOCKBOX_SECRETS_FILE: file } });
    expect(await secrets.getSecrets()).toEqual({
      SITE_OVERRIDE: "site-base",
      SITE_BASE: "site-base",
      ORG_OVERRIDE: "org-base",
      ORG_BASE: "org-base",
    });
  });

  it("takes the env option over LOCKBOX_ENV", async () => {
    const secrets = createRuntimeClient({
      env: "dev",
      processEnv: { LOCKBOX_SECRETS_FILE: file, LOCKBOX_ENV: "live" },
    });
    expect(await secrets.getSecret("SITE_OVERRIDE")).toBe("site-base");
  });

  it("refuses an environment name no environment can have, instead of serving the base values", () => {
    for (const [processEnv, option, message] of [
      [{ LOCKBOX_ENV: "Live" }, undefined, 'LOCKBOX_ENV "Live" is not an environment name'],
      [{ LOCKBOX_ENV: " live" }, undefined, 'LOCKBOX_ENV " live" is not an environment name'],
      [{}, "my_feature", 'The env option "my_feature" is not an environment name'],
    ] as const) {
      let caught: unknown;
      try {
        createRuntimeClient({
          ...(option ? { env: option } : {}),
          processEnv: { LOCKBOX_SECRETS_FILE: file, ...processEnv },
        });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(LockboxRuntimeError);
      expect(caught).toMatchObject({ code: "NOT_CONFIGURED" });
      expect((caught as Error).message).toContain(message);
      expect((caught as Error).message).toContain("use dev, test, live or a multidev name");
    }
  });

  it("accepts exactly the environment names core accepts (reserved multidev names aside)", () => {
    const candidates = [
      ...["dev", "test", "live", "a", "9", "feature-1", "abcdefghijk", "x-", "0-0"],
      ...["abcdefghijkl", "-dev", "Dev", "LIVE", "my_feature", "a.b", "a b", "é", "dev\n", "a/b"],
    ];
    for (const name of candidates) {
      if ((RESERVED_MULTIDEV_NAMES as readonly string[]).includes(name)) continue;
      const accepted = (() => {
        try {
          createRuntimeClient({ env: name, processEnv: { LOCKBOX_SECRETS_FILE: file } });
          return true;
        } catch {
          return false;
        }
      })();
      expect({ name, accepted }).toEqual({ name, accepted: environmentNameSchema.safeParse(name).success });
    }
  });

  it("honours the seed product's CUSTOMER_SECRETS_FAKE_FILE; LOCKBOX_SECRETS_FILE and the option win over it", async () => {
    const other = join(dir, "other.json");
    const third = join(dir, "third.json");
    await writeFile(
      other,
      JSON.stringify({ Secrets: { WHICH: { Type: "runtime", Value: "other", Scopes: ["web"] } } }),
    );
    await writeFile(third, JSON.stringify({ Secrets: { WHICH: { Value: "third" } } }));

    const alias = createRuntimeClient({ processEnv: { CUSTOMER_SECRETS_FAKE_FILE: other } });
    expect(await alias.getSecret("WHICH")).toBe("other");

    const both = createRuntimeClient({
      processEnv: { CUSTOMER_SECRETS_FAKE_FILE: other, LOCKBOX_SECRETS_FILE: third },
    });
    expect(await both.getSecret("WHICH")).toBe("third");

    const option = createRuntimeClient({
      secretsFile: other,
      processEnv: { CUSTOMER_SECRETS_FAKE_FILE: file, LOCKBOX_SECRETS_FILE: third },
    });
    expect(await option.getSecret("WHICH")).toBe("other");
  });

  it("re-reads the file when it changes, and serves the same set while it does not", async () => {
    const secrets = createRuntimeClient({ processEnv: { LOCKBOX_SECRETS_FILE: file } });
    const first = await secrets.getSecrets();
    expect(await secrets.getSecrets()).toBe(first);

    await writeFile(file, JSON.stringify({ Secrets: { SITE_BASE: { Value: "edited" } } }));
    const later = new Date(Date.now() + 5000);
    await utimes(file, later, later);
    expect(await secrets.getSecret("SITE_BASE")).toBe("edited");
    expect(await secrets.getSecret("ORG_BASE")).toBeNull();
  });

  it("names the file, the variable and local-generate when the file is missing", async () => {
    const missing = join(dir, "missing.json");
    const error = await failure(
      createRuntimeClient({ processEnv: { CUSTOMER_SECRETS_FAKE_FILE: missing } }).getSecret("X"),
    );
    expect(error.code).toBe("SECRETS_FILE_UNREADABLE");
    expect(error.message).toBe(
      `Cannot read the Lockbox secrets file '${missing}' (named by CUSTOMER_SECRETS_FAKE_FILE): it does not exist. Write it with lockbox secret:site:local-generate <site> --filepath=${missing}, or unset CUSTOMER_SECRETS_FAKE_FILE to use the server.`,
    );
  });

  it("names the file for bad JSON without echoing its text", async () => {
    await writeFile(file, '{"Secrets": {"DB_PASSWORD": {"Value": "s3cret-db-value",}}}');
    const error = await failure(
      createRuntimeClient({ processEnv: { LOCKBOX_SECRETS_FILE: file } }).getSecrets(),
    );
    expect(error.code).toBe("SECRETS_FILE_INVALID");
    expect(error.message).toMatch(
      new RegExp(
        `^The Lockbox secrets file '${file}' \\(named by LOCKBOX_SECRETS_FILE\\) is not usable: it is not valid JSON`,
      ),
    );
    expect(error.message).toContain("local-generate");
    expect(error.cause).toBeUndefined();
    expectNoSecretIn(error.message);
  });

  it("names the secret and field for a bad shape, and recovers once the file is fixed", async () => {
    await writeFile(file, JSON.stringify({ Secrets: { DB_PASSWORD: { Value: 42 } } }));
    const secrets = createRuntimeClient({ secretsFile: file, processEnv: {} });
    const error = await failure(secrets.getSecret("DB_PASSWORD"));
    expect(error.message).toContain("(named by the secretsFile option)");
    expect(error.message).toContain('Secrets["DB_PASSWORD"].Value must be a string or null, not a number');

    await writeFile(file, JSON.stringify({ Secrets: { DB_PASSWORD: { Value: "fixed" } } }));
    const later = new Date(Date.now() + 5000);
    await utimes(file, later, later);
    expect(await secrets.getSecret("DB_PASSWORD")).toBe("fixed");
  });

  it("refresh() re-reads the file", async () => {
    const secrets = createRuntimeClient({ secretsFile: file, processEnv: {} });
    await secrets.getSecrets();
    await secrets.refresh();
    expect(await secrets.getSecret("ORG_BASE")).toBe("org-base");
  });
});
