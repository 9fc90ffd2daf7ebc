import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, type TestResponse } from "../testing/test-app.js";
import { contractDatabases, sqliteTestDatabase, type TestDatabase } from "../testing/test-databases.js";

/**
 * What the server writes to its log (SPEC §6: no plaintext value reaches the logs; §7: errors never
 * carry a stack, query, value or token): one line per request with method, path and status, and
 * nothing a caller sent in a body, a query or a header.
 */

/** Distinctive values: none may ever appear in a log line. */
const MARK = "LOGMARK9Q";
const marker = (label: string) => `${MARK}-${label}-zz`;

/** A log line as pino writes it (one JSON object per line). */
interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly reqId?: string;
  readonly method?: string;
  readonly path?: string;
  readonly status?: number;
  readonly [key: string]: unknown;
}

const parseLines = (logs: readonly string[]): LogLine[] =>
  logs
    .join("")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as LogLine);

/** Fails with the offending lines when a log line names its request id more than once. */
function expectOneReqIdPerLine(logs: readonly string[]): void {
  const lines = logs
    .join("")
    .split("\n")
    .filter((line) => line.trim() !== "");
  expect(lines.length).toBeGreaterThan(0);
  expect(lines.filter((line) => line.split('"reqId":').length > 2)).toEqual([]);
}

/** Fails with the offending lines when the log holds any of `needles` (case-insensitive). */
function expectLogsFreeOf(logs: readonly string[], needles: readonly string[]): void {
  const offending = logs
    .join("")
    .split("\n")
    .filter((line) => needles.some((needle) => line.toLowerCase().includes(needle.toLowerCase())));
  expect(offending).toEqual([]);
}

/** A 5xx body: exactly the error shape, with nothing that reveals the server's insides. */
function expectOpaqueServerError(response: TestResponse): void {
  expect(response.status).toBeGreaterThanOrEqual(500);
  expect(Object.keys(response.json)).toEqual(["error"]);
  expect(Object.keys(response.json.error).sort()).toEqual(["code", "message", "requestId"]);
  expect(["INTERNAL", "UNAVAILABLE"]).toContain(response.json.error.code);
  expect(response.body).not.toMatch(/\bat \S+ \(|\.ts:\d|\.js:\d|node_modules|stack/i);
  expect(response.body).not.toMatch(/\b(select|insert|update|delete)\b.*\b(from|into|set|where)\b/i);
  expect(response.body).not.toMatch(/sqlite|postgres|kysely|SQLSTATE/i);
  expect(response.body).not.toContain(MARK);
}

describe.each(await contractDatabases())("request logs ($name)", ({ create }) => {
  let database: TestDatabase;
  let t: TestApp;
  /** Every management request the test sent, with the status it got. */
  const sent: Array<{ method: string; path: string; status: number }> = [];
  /** Every token string the server issued or the test sent. */
  const tokens: string[] = [];
  /** Every value marker sent in a body or a query. */
  const markers: string[] = [];

  const send = async (
    method: string,
    url: string,
    options: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<TestResponse> => {
    const { token = t.adminToken, ...rest } = options;
    const response = await t.call(method, url, token === null ? rest : { ...rest, token });
    sent.push({ method, path: url.split("?")[0] ?? url, status: response.status });
    return response;
  };
  const expectStatus = async (status: number, ...args: Parameters<typeof send>) => {
    const response = await send(...args);
    expect(response.status, `${args[0]} ${args[1]}: ${response.body}`).toBe(status);
    return response;
  };
  const value = (label: string) => {
    const text = marker(label);
    markers.push(text);
    return text;
  };

  beforeAll(async () => {
    database = await create();
    t = await createTestApp(database);
    tokens.push(t.adminToken);
  });
  afterAll(async () => {
    // The last test closes the store under the app: closing it again may fail, and that is fine.
    await t?.close().catch(() => undefined);
    await database?.drop();
  });

  it("logs method, path and status of every request, and never a value, token or Authorization header", async () => {
    const alice = await t.user("alice@example.com");
    tokens.push(alice.token);
    await expectStatus(201, "POST", "/v1/orgs", { body: { name: "acme" } });
    await expectStatus(200, "PUT", "/v1/orgs/acme/members/alice@example.com", { body: { role: "admin" } });
    await expectStatus(201, "POST", "/v1/sites", { body: { name: "shop", org: "acme" } });
    await expectStatus(201, "POST", "/v1/sites/shop/environments", { body: { name: "feat1" } });

    const site = "/v1/sites/shop/secrets";
    await expectStatus(201, "PUT", `${site}/API_KEY`, { body: { value: value("base"), scopes: "web,user" } });
    await expectStatus(200, "PUT", `${site}/API_KEY/envs/dev`, { body: { value: value("dev") } });
    await expectStatus(200, "PUT", `${site}/API_KEY/envs/feat1`, { body: { value: value("feat1") } });
    await expectStatus(201, "PUT", `${site}/DB_PASSWORD`, {
      token: alice.token,
      body: { value: value("env"), type: "env", scopes: ["ic", "web", "user"] },
    });
    await expectStatus(201, "PUT", `${site}/github-oauth.github.com`, {
      body: { value: value("composer"), type: "composer", scopes: "ic,user" },
    });
    await expectStatus(201, "PUT", "/v1/orgs/acme/secrets/ORG_KEY", {
      body: { value: value("org"), scopes: ["web", "user"] },
    });
    await expectStatus(200, "PUT", "/v1/orgs/acme/secrets/ORG_KEY/envs/live", {
      body: { value: value("org-l") },
    });

    const listed = await expectStatus(200, "GET", site);
    expect(JSON.stringify(listed.json)).toContain(marker("base"));
    await expectStatus(200, "GET", `${site}?env=dev`);
    await expectStatus(200, "GET", "/v1/orgs/acme/secrets");
    const resolved = await expectStatus(200, "GET", "/v1/sites/shop/resolve?env=live&scope=user");
    expect(JSON.stringify(resolved.json)).toContain(marker("org-l"));
    await expectStatus(200, "GET", "/v1/sites/shop/local-secrets");

    const runtime = await expectStatus(201, "POST", "/v1/tokens", {
      body: { kind: "runtime", site: "shop", env: "dev" },
    });
    const build = await expectStatus(201, "POST", "/v1/tokens", {
      body: { kind: "build", site: "shop", env: "dev" },
    });
    const extra = await expectStatus(201, "POST", "/v1/tokens", {
      token: alice.token,
      body: { kind: "user" },
    });
    tokens.push(runtime.json.token, build.json.token, extra.json.token);
    await expectStatus(200, "GET", "/v1/tokens?site=shop");
    await expectStatus(204, "DELETE", `/v1/tokens/${extra.json.id}`);

    // The machine endpoints deliver values too.
    const delivered = await t.call("GET", "/site/secrets", { token: runtime.json.token });
    expect(delivered.status).toBe(200);
    expect(delivered.body).toContain(marker("dev"));
    const built = await t.call("GET", "/v1/build/secrets", { token: build.json.token });
    expect(built.status).toBe(200);
    expect(built.body).toContain(marker("env"));

    // Failures with values in them.
    await expectStatus(422, "PUT", `${site}/API_KEY`, { body: { value: value("type"), type: "bogus" } });
    await expectStatus(422, "PUT", `${site}/BIG`, { body: { value: `${value("big")}${"x".repeat(16384)}` } });
    await expectStatus(422, "PUT", `${site}/NUL_VALUE`, {
      body: { value: `${value("nul")}\u0000`, type: "env" },
    });
    await expectStatus(400, "PUT", `${site}/API_KEY`, {
      body: `{"value": "${value("badjson")}"`,
      headers: { "content-type": "application/json" },
    });
    await expectStatus(400, "PUT", `${site}/API_KEY`, {
      body: { value: value("unknown"), extra: value("x") },
    });
    await expectStatus(409, "PUT", `${site}/API_KEY`, { body: { value: value("conflict"), type: "env" } });
    await expectStatus(404, "GET", `${site}?env=${value("query")}`);
    await expectStatus(413, "PUT", `${site}/API_KEY`, {
      body: { value: `${value("huge")}${"y".repeat(140_000)}` },
    });
    await expectStatus(403, "GET", "/v1/orgs", { token: runtime.json.token });
    const garbage = `lbx_${value("garbage")}`;
    tokens.push(garbage);
    await expectStatus(401, "GET", "/v1/orgs", { token: garbage });
    await expectStatus(401, "GET", "/v1/orgs", { token: extra.json.token });
    await expectStatus(401, "GET", "/v1/orgs", {
      token: null,
      headers: { authorization: `Basic ${garbage}` },
    });

    // A token put where an id belongs: masked in the log line and in the answer.
    for (const path of [`/v1/tokens/${runtime.json.token}`, `/site/secrets/${build.json.token}`]) {
      const response = await t.call(path.startsWith("/v1") ? "DELETE" : "GET", path, { token: t.adminToken });
      expect(response.status).toBe(404);
      for (const token of tokens) expect(response.body).not.toContain(token.slice(4, 20));
    }

    const lines = parseLines(t.logs);
    const requests = lines.filter((line) => line.msg === "request");
    expect(requests.map((line) => line.path)).toEqual(
      expect.arrayContaining(["/v1/tokens/[token]", "/site/secrets/[token]"]),
    );
    for (const request of sent) {
      expect(requests, `${request.method} ${request.path} ${request.status}`).toContainEqual(
        expect.objectContaining({
          method: request.method,
          path: request.path,
          status: request.status,
          reqId: expect.any(String),
        }),
      );
    }
    expectOneReqIdPerLine(t.logs);
    // Nothing but these fields: no headers, query, body or caller.
    const allowed = ["hostname", "level", "method", "ms", "msg", "path", "pid", "reqId", "status", "time"];
    expect(requests.flatMap((line) => Object.keys(line).filter((key) => !allowed.includes(key)))).toEqual([]);
    expect(markers.length).toBeGreaterThan(10);
    expectLogsFreeOf(t.logs, [
      MARK,
      ...tokens,
      ...tokens.map((token) => token.slice(4, 20)),
      "lbx_",
      "lbr_",
      "lbb_",
      "authorization",
      "bearer",
      "cookie",
      "x".repeat(64),
    ]);
  });

  it("answers an internal error with an opaque 500 and logs its kind and place (request id once), never its message", async () => {
    const store = t.stores.orgs as unknown as Record<string, unknown>;
    const original = store.listOrgs;
    // A driver error that quotes the statement and a value, over several lines as some drivers do.
    store.listOrgs = async () => {
      throw new Error(
        `insert into secret_values (secret_id, ciphertext) values ('${marker("sql")}')\nDETAIL: Key (value)=(${marker("detail")}) already exists.`,
      );
    };
    let response: TestResponse;
    try {
      response = await send("GET", "/v1/orgs?limit=5");
    } finally {
      store.listOrgs = original;
    }
    expect(response.status).toBe(500);
    expectOpaqueServerError(response);
    expect(response.json.error.code).toBe("INTERNAL");

    const failure = parseLines(t.logs).find(
      (line) => line.reqId === response.json.error.requestId && line.level >= 50,
    );
    expect(failure).toMatchObject({ msg: "request failed", kind: "Error" });
    expect(failure?.stack).toMatch(/logging\.test\.ts/);
    expect(parseLines(t.logs)).toContainEqual(
      expect.objectContaining({ msg: "request", method: "GET", path: "/v1/orgs", status: 500 }),
    );
    expectLogsFreeOf(t.logs, [MARK, "insert into", "DETAIL"]);
    expectOneReqIdPerLine(t.logs);
  });

  it("answers with an opaque 5xx when the store has gone away, and logs no statement", async () => {
    await t.db.close();
    for (const [method, url, body] of [
      ["GET", "/v1/orgs", undefined],
      ["GET", "/v1/sites/shop/secrets", undefined],
      ["PUT", "/v1/sites/shop/secrets/API_KEY", { value: value("closed") }],
    ] as const) {
      const response = await t.call(method, url, { token: t.adminToken, body });
      expectOpaqueServerError(response);
    }
    const ready = await t.call("GET", "/readyz");
    expect(ready.status).toBe(503);
    expect(ready.json.error.code).toBe("UNAVAILABLE");
    expectLogsFreeOf(t.logs, [MARK, ...tokens, "select ", "insert ", "authorization"]);
  });
});

describe("request ids", () => {
  it("are the server's own, unless a trusted proxy (--trust-proxy) gives its X-Request-Id", async () => {
    for (const trustProxy of [false, true]) {
      const database = sqliteTestDatabase();
      const t = await createTestApp(database, { trustProxy });
      try {
        const response = await t.call("GET", "/v1/nope", {
          token: t.adminToken,
          headers: { "x-request-id": "earlier-request-7" },
        });
        expect(response.status).toBe(404);
        const id = response.json.error.requestId as string;
        if (trustProxy) expect(id).toBe("earlier-request-7");
        else expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(parseLines(t.logs).find((line) => line.msg === "request")?.reqId).toBe(id);
      } finally {
        await t.close();
        await database.drop();
      }
    }
  });
});
