import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseRetryAfter } from "./answers.js";
import { LockboxApiError, LockboxClient, LockboxConnectionError } from "./management-client.js";

const TOKEN = `lbx_${"a".repeat(43)}`;

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string>; raw?: string };

/** A node:http server whose answers a test scripts, recording each request. */
let server: Server;
let seen: Seen[];
let replies: ((request: Seen) => Reply)[];
let baseUrl: string;

beforeEach(async () => {
  seen = [];
  replies = [];
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const record: Seen = {
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      seen.push(record);
      const next = replies.shift() ?? ((): Reply => ({ status: 200, body: { items: [], next: null } }));
      const reply = next(record);
      for (const [name, value] of Object.entries(reply.headers ?? {})) response.setHeader(name, value);
      response.statusCode = reply.status;
      if (reply.raw !== undefined) response.end(reply.raw);
      else if (reply.body === undefined) response.end();
      else {
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify(reply.body));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function client(options: Partial<ConstructorParameters<typeof LockboxClient>[0]> = {}): LockboxClient {
  return new LockboxClient({ url: baseUrl, token: TOKEN, ...options });
}

describe("LockboxClient", () => {
  it("sends the token as a bearer token, JSON bodies, and its user agent", async () => {
    replies.push(() => ({
      status: 200,
      body: { message: "Secret successfully set.", created: true, secret: {}, notes: [] },
    }));
    await client({ userAgent: "test-agent" }).setSiteSecret("my-site", "API_KEY", {
      value: "v",
      type: "env",
      scopes: ["web", "user"],
    });
    const request = seen[0] as Seen;
    expect(request.method).toBe("PUT");
    expect(request.url).toBe("/v1/sites/my-site/secrets/API_KEY");
    expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers["user-agent"]).toBe("test-agent");
    expect(JSON.parse(request.body)).toEqual({ value: "v", type: "env", scopes: ["web", "user"] });
  });

  it("URL-encodes every path segment", async () => {
    replies.push(() => ({ status: 200, body: { message: "ok" } }));
    await client().deleteSiteSecretOverride("my-site", "http-basic.example.com:8443/x?y#z", "feat-1");
    expect(seen[0]?.url).toBe(
      "/v1/sites/my-site/secrets/http-basic.example.com%3A8443%2Fx%3Fy%23z/envs/feat-1",
    );
  });

  it("refuses '.' and '..' as names, which the URL parser would resolve away", () => {
    expect(() => client().getSite("..")).toThrow(/cannot be empty, '\.' or '\.\.'/);
    expect(() => client().deleteSiteSecret("my-site", ".")).toThrow(TypeError);
  });

  it("keeps a path prefix of the base URL and drops a trailing slash", async () => {
    replies.push(() => ({ status: 200, body: { user: { id: "u", email: "a@b.c" }, token: { id: "t" } } }));
    await client({ url: `${baseUrl}/lockbox/` }).whoami();
    expect(seen[0]?.url).toBe("/lockbox/v1/whoami");
  });

  it("sends query parameters only when given", async () => {
    replies.push(() => ({ status: 200, body: { items: [] } }));
    replies.push(() => ({ status: 200, body: { items: [] } }));
    await client().listSiteSecrets("my-site");
    await client().resolve("my-site", "live", "ic");
    expect(seen[0]?.url).toBe("/v1/sites/my-site/secrets?limit=1000");
    expect(seen[1]?.url).toBe("/v1/sites/my-site/resolve?env=live&scope=ic");
  });

  it("follows the next cursor of paginated lists", async () => {
    replies.push(() => ({ status: 200, body: { items: [{ id: "1", name: "a" }], next: "c1" } }));
    replies.push(() => ({ status: 200, body: { items: [{ id: "2", name: "b" }], next: null } }));
    const orgs = await client().listOrgs();
    expect(orgs.map((org) => org.name)).toEqual(["a", "b"]);
    expect(seen.map((request) => request.url)).toEqual([
      "/v1/orgs?limit=1000",
      "/v1/orgs?after=c1&limit=1000",
    ]);
  });

  it("follows the next cursor of secret listings, keeping their filter on every page", async () => {
    replies.push(() => ({ status: 200, body: { items: [{ name: "A" }, { name: "B" }], next: "B" } }));
    replies.push(() => ({ status: 200, body: { items: [{ name: "C" }], next: null } }));
    replies.push(() => ({ status: 200, body: { items: [{ name: "ORG_A" }], next: "ORG_A" } }));
    replies.push(() => ({ status: 200, body: { items: [{ name: "ORG_B" }], next: null } }));
    const site = await client().listSiteSecrets("my-site", { env: "live" });
    const org = await client().listOrgSecrets("acme");
    expect(site.map((row) => row.name)).toEqual(["A", "B", "C"]);
    expect(org.map((row) => row.name)).toEqual(["ORG_A", "ORG_B"]);
    expect(seen.map((request) => request.url)).toEqual([
      "/v1/sites/my-site/secrets?env=live&limit=1000",
      "/v1/sites/my-site/secrets?env=live&after=B&limit=1000",
      "/v1/orgs/acme/secrets?limit=1000",
      "/v1/orgs/acme/secrets?after=ORG_A&limit=1000",
    ]);
  });

  it("answers undefined for 204", async () => {
    replies.push(() => ({ status: 204 }));
    await expect(client().deleteSite("my-site")).resolves.toBeUndefined();
  });

  it("turns an error answer into LockboxApiError with status, code, message and request id", async () => {
    replies.push(() => ({
      status: 404,
      body: {
        error: {
          code: "SITE_NOT_FOUND",
          message: "Site 'x' was not found, or you do not have access to it.",
          requestId: "req-9",
        },
      },
    }));
    const error = await client()
      .getSite("x")
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LockboxApiError);
    expect(error).toMatchObject({
      status: 404,
      code: "SITE_NOT_FOUND",
      message: "Site 'x' was not found, or you do not have access to it.",
      requestId: "req-9",
    });
  });

  it("explains an error answer that is not a Lockbox error body", async () => {
    replies.push(() => ({ status: 502, raw: "<html>Bad gateway</html>" }));
    const error = (await client()
      .listOrgs()
      .catch((caught: unknown) => caught)) as LockboxApiError;
    expect(error.code).toBe("INTERNAL");
    expect(error.message).toContain("HTTP 502");
    expect(error.message).toContain(baseUrl);
  });

  it("follows no redirect: a secret's value and the token stay with the configured server", async () => {
    const elsewhere: string[] = [];
    const catcher = createServer((request, response) => {
      request.on("data", (chunk: Buffer) => elsewhere.push(chunk.toString()));
      request.on("end", () => response.end("{}"));
    });
    await new Promise<void>((resolve) => catcher.listen(0, "127.0.0.1", resolve));
    const target = `http://127.0.0.1:${(catcher.address() as AddressInfo).port}`;
    try {
      for (const status of [301, 302, 303, 307, 308]) {
        replies.push((request) => ({ status, headers: { location: `${target}${request.url}?x=1` } }));
        const error = (await client()
          .setSiteSecret("shop", "API_KEY", { value: "s3cr3t-value" })
          .catch((caught: unknown) => caught)) as LockboxApiError;
        expect(error).toBeInstanceOf(LockboxApiError);
        expect(error.code).toBe("BAD_RESPONSE");
        expect(error.message).toBe(
          `The server at ${baseUrl} answered HTTP ${status}, a redirect to ${target}/v1/sites/shop/secrets/API_KEY: Lockbox clients follow no redirect, so that a token and secret values go only where they were told. Point LOCKBOX_URL (or lockbox auth:login --url) at the Lockbox server itself.`,
        );
      }
      expect(elsewhere).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => catcher.close(() => resolve()));
    }
  });

  it("reads no answer past 128 MiB: a server that streams without end gets an error, not the memory", async () => {
    replies.push(() => ({ status: 200, headers: { "content-length": String(200 * 1024 * 1024) }, raw: "[" }));
    const declared = (await client()
      .listOrgs()
      .catch((caught: unknown) => caught)) as LockboxApiError;
    expect(declared.code).toBe("BAD_RESPONSE");
    expect(declared.message).toBe(
      `The server at ${baseUrl} did not answer as Lockbox does: its answer is larger than 128 MiB, which no Lockbox answer is: check that the URL points to a Lockbox server (LOCKBOX_URL, or lockbox auth:login --url).`,
    );
  });

  it("names the URL, not the token, when the server cannot be reached", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = (await new LockboxClient({ url: `http://127.0.0.1:${port}`, token: TOKEN })
      .whoami()
      .catch((caught: unknown) => caught)) as LockboxConnectionError;
    expect(error).toBeInstanceOf(LockboxConnectionError);
    expect(error.message).toBe(
      `Cannot reach the Lockbox server at http://127.0.0.1:${port}: connection refused (ECONNREFUSED). Is it running? Check LOCKBOX_URL or run lockbox auth:login.`,
    );
    expect(error.message).not.toContain(TOKEN);
  });

  it("says to use http:// when an https:// URL reaches a server that speaks plain HTTP", async () => {
    const plain = createServer((_request, response) => response.end("x"));
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
    const port = (plain.address() as AddressInfo).port;
    try {
      const error = (await new LockboxClient({ url: `https://127.0.0.1:${port}`, token: TOKEN })
        .whoami()
        .catch((caught: unknown) => caught)) as LockboxConnectionError;
      expect(error).toBeInstanceOf(LockboxConnectionError);
      expect(error.message).toContain(
        `Cannot reach the Lockbox server at https://127.0.0.1:${port}: the server does not speak TLS: if it serves plain HTTP, use an http:// URL (ERR_SSL_WRONG_VERSION_NUMBER).`,
      );
    } finally {
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  it("names fetch's own reason when the failure has no system error code (a port fetch refuses)", async () => {
    const error = (await new LockboxClient({ url: "http://127.0.0.1:6000", token: TOKEN })
      .whoami()
      .catch((caught: unknown) => caught)) as LockboxConnectionError;
    expect(error).toBeInstanceOf(LockboxConnectionError);
    expect(error.message).toBe(
      "Cannot reach the Lockbox server at http://127.0.0.1:6000: bad port. Is it running? Check LOCKBOX_URL or run lockbox auth:login.",
    );
  });

  it("waits Retry-After seconds after a 429 and retries, calling onRateLimited each time", async () => {
    const rateLimited = {
      status: 429,
      headers: { "retry-after": "0.2" },
      body: { error: { code: "RATE_LIMITED", message: "Too many requests", requestId: "r" } },
    };
    replies.push(
      () => rateLimited,
      () => rateLimited,
    );
    replies.push(() => ({ status: 200, body: { items: [{ name: "A" }] } }));
    const waits: number[] = [];
    const started = Date.now();
    const rows = await client({ onRateLimited: (seconds) => waits.push(seconds) }).listOrgSecrets("acme");
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    expect(rows).toEqual([{ name: "A" }]);
    expect(waits).toEqual([0.2, 0.2]);
    expect(seen).toHaveLength(3);
  });

  it("gives up after maxRateLimitRetries and throws the 429 with its Retry-After", async () => {
    const rateLimited = {
      status: 429,
      headers: { "retry-after": "0" },
      body: {
        error: {
          code: "RATE_LIMITED",
          message: "Too many requests for this token: retry in 0 s.",
          requestId: "r",
        },
      },
    };
    for (let i = 0; i < 4; i++) replies.push(() => rateLimited);
    const error = (await client({ maxRateLimitRetries: 3 })
      .listOrgs()
      .catch((caught: unknown) => caught)) as LockboxApiError;
    expect(error).toBeInstanceOf(LockboxApiError);
    expect(error.status).toBe(429);
    expect(error.retryAfterSeconds).toBe(0);
    expect(seen).toHaveLength(4);
  });

  it("does not wait for a Retry-After longer than maxRetryAfterSeconds", async () => {
    replies.push(() => ({
      status: 429,
      headers: { "retry-after": "3600" },
      body: { error: { code: "RATE_LIMITED", message: "Too many requests", requestId: "r" } },
    }));
    const error = (await client()
      .listOrgs()
      .catch((caught: unknown) => caught)) as LockboxApiError;
    expect(error.retryAfterSeconds).toBe(3600);
    expect(seen).toHaveLength(1);
  });

  it("refuses a malformed URL or token without echoing them", () => {
    expect(() => new LockboxClient({ url: "not a url", token: TOKEN })).toThrow(/not a valid URL/);
    expect(() => new LockboxClient({ url: "ftp://x", token: TOKEN })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => new LockboxClient({ url: "https://user:pw@example.com", token: TOKEN })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining("pw") }),
    );
    const badToken = "lbx_abc def";
    expect(() => new LockboxClient({ url: baseUrl, token: badToken })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(badToken) }),
    );
  });

  it("covers every route of docs/api.md with the documented method and path", async () => {
    const c = client();
    const calls: [Promise<unknown>, string][] = [
      [c.whoami(), "GET /v1/whoami"],
      [c.createUser({ email: "a@example.com" }), "POST /v1/users"],
      [c.listUsers(), "GET /v1/users?limit=1000"],
      [c.createOrg("acme"), "POST /v1/orgs"],
      [c.listOrgs(), "GET /v1/orgs?limit=1000"],
      [c.getOrg("acme"), "GET /v1/orgs/acme"],
      [c.deleteOrg("acme"), "DELETE /v1/orgs/acme"],
      [c.listMembers("acme"), "GET /v1/orgs/acme/members?limit=1000"],
      [c.setMember("acme", "a@example.com", "admin"), "PUT /v1/orgs/acme/members/a%40example.com"],
      [c.removeMember("acme", "a@example.com"), "DELETE /v1/orgs/acme/members/a%40example.com"],
      [c.listOrgSecrets("acme"), "GET /v1/orgs/acme/secrets?limit=1000"],
      [c.setOrgSecret("acme", "K", { value: "v" }), "PUT /v1/orgs/acme/secrets/K"],
      [c.setOrgSecretOverride("acme", "K", "live", { value: "v" }), "PUT /v1/orgs/acme/secrets/K/envs/live"],
      [c.deleteOrgSecret("acme", "K"), "DELETE /v1/orgs/acme/secrets/K"],
      [c.deleteOrgSecretOverride("acme", "K", "live"), "DELETE /v1/orgs/acme/secrets/K/envs/live"],
      [c.importOrgSecrets("acme", { secrets: { K: "v" } }), "POST /v1/orgs/acme/secrets/import"],
      [c.createSite({ name: "s", org: "acme" }), "POST /v1/sites"],
      [c.listSites({ org: "acme" }), "GET /v1/sites?org=acme&limit=1000"],
      [c.getSite("s"), "GET /v1/sites/s"],
      [c.deleteSite("s"), "DELETE /v1/sites/s"],
      [c.transferSite("s", { org: "other" }), "POST /v1/sites/s/transfer"],
      [c.addSupportingOrg("s", "agency"), "PUT /v1/sites/s/supporting-orgs/agency"],
      [c.removeSupportingOrg("s", "agency"), "DELETE /v1/sites/s/supporting-orgs/agency"],
      [c.addTeamMember("s", "a@example.com"), "PUT /v1/sites/s/team/a%40example.com"],
      [c.removeTeamMember("s", "a@example.com"), "DELETE /v1/sites/s/team/a%40example.com"],
      [c.listEnvironments("s"), "GET /v1/sites/s/environments?limit=1000"],
      [c.createMultidev("s", "feat"), "POST /v1/sites/s/environments"],
      [c.deleteMultidev("s", "feat"), "DELETE /v1/sites/s/environments/feat"],
      [c.listSiteSecrets("s", { env: "live" }), "GET /v1/sites/s/secrets?env=live&limit=1000"],
      [c.setSiteSecret("s", "K", { value: "v" }), "PUT /v1/sites/s/secrets/K"],
      [c.setSiteSecretOverride("s", "K", "dev", { value: "v" }), "PUT /v1/sites/s/secrets/K/envs/dev"],
      [c.deleteSiteSecret("s", "K"), "DELETE /v1/sites/s/secrets/K"],
      [c.deleteSiteSecretOverride("s", "K", "dev"), "DELETE /v1/sites/s/secrets/K/envs/dev"],
      [c.importSiteSecrets("s", { secrets: { K: "v" }, env: "live" }), "POST /v1/sites/s/secrets/import"],
      [c.resolve("s", "live"), "GET /v1/sites/s/resolve?env=live"],
      [
        c.secretVersions({ site: "s" }, "K", { env: "live", values: true }),
        "GET /v1/sites/s/secrets/K/versions?env=live&values=true&limit=1000",
      ],
      [c.secretVersions({ org: "acme" }, "K"), "GET /v1/orgs/acme/secrets/K/versions?limit=1000"],
      [c.rollbackSecret({ site: "s" }, "K", { to: 1 }), "POST /v1/sites/s/secrets/K/rollback"],
      [
        c.rollbackSecret({ org: "acme" }, "K", { to: 2, env: "live" }),
        "POST /v1/orgs/acme/secrets/K/rollback",
      ],
      [c.listDeletedSecrets({ site: "s" }), "GET /v1/sites/s/deleted-secrets?limit=1000"],
      [c.listDeletedSecrets({ org: "acme" }), "GET /v1/orgs/acme/deleted-secrets?limit=1000"],
      [c.restoreSecret({ site: "s" }, "K"), "POST /v1/sites/s/secrets/K/restore"],
      [
        c.restoreSecret({ org: "acme" }, "K", { id: "0b6d3c1e-8f5a-4d2b-9c7e-1a2b3c4d5e6f" }),
        "POST /v1/orgs/acme/secrets/K/restore?id=0b6d3c1e-8f5a-4d2b-9c7e-1a2b3c4d5e6f",
      ],
      [c.createToken({ kind: "runtime", site: "s", env: "live" }), "POST /v1/tokens"],
      [c.listTokens({ site: "s" }), "GET /v1/tokens?site=s&limit=1000"],
      [c.revokeToken("t1"), "DELETE /v1/tokens/t1"],
      [
        c.listAudit({ site: "s", since: "2026-11-01T00:00:00.000Z", limit: 5 }),
        "GET /v1/audit?site=s&since=2026-11-01T00%3A00%3A00.000Z&limit=5",
      ],
      [c.verifyAudit(), "GET /v1/audit/verify"],
    ];
    await Promise.all(calls.map(([call]) => call));
    expect(seen.map((request) => `${request.method} ${request.url}`).sort()).toEqual(
      calls.map(([, route]) => route).sort(),
    );
  });
});

describe("parseRetryAfter", () => {
  it("reads delta-seconds, HTTP dates, and falls back to 1 s", () => {
    expect(parseRetryAfter("3")).toBe(3);
    expect(parseRetryAfter("0.5")).toBe(0.5);
    expect(parseRetryAfter(null)).toBe(1);
    expect(parseRetryAfter("soon")).toBe(1);
    expect(parseRetryAfter(new Date(Date.now() + 4000).toUTCString())).toBeGreaterThanOrEqual(3);
  });
});
