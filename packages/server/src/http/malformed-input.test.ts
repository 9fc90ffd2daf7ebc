import { connect } from "node:net";
import { sql } from "kysely";
import { inject } from "light-my-request";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, listenOnLoopback, type TestApp, type TestResponse } from "../testing/test-app.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";

/**
 * Hardening of the management API against malformed input (SPEC §5, §7): every route, sent garbage
 * as the platform admin, answers a 4xx in the one error shape, never echoes a value, and changes
 * nothing in the store.
 */

/** SPEC §7's code → status table, written out independently of `errors.ts`. */
const SPEC_STATUS: Record<string, number> = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ORG_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  SITE_NOT_FOUND: 404,
  ENVIRONMENT_NOT_FOUND: 404,
  SECRET_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  VALIDATION_FAILED: 422,
  RATE_LIMITED: 429,
};

const MEMBER = "member@example.com";
const ORG = "acme";
const PARTNER = "partner";
const SITE = "shop";
const MULTIDEV = "feat1";
const SITE_SECRET = "API_KEY";
const ORG_SECRET = "ORG_KEY";

/** Distinctive values: none of them may ever come back in an error message. */
const MARK = "ZQXMARKVALUE";
const marker = (label: string) => `${MARK}-${label}-qv7`;

type Method = "GET" | "POST" | "PUT" | "DELETE";

/** One management route as docs/api.md lists it, with what a valid request to it looks like. */
interface RouteCase {
  readonly method: Method;
  /** The OpenAPI path, `{param}` for path parameters. */
  readonly path: string;
  /** A valid body; present exactly when the route takes one. */
  readonly body?: Record<string, unknown>;
  /** The query parameters the route declares. */
  readonly query?: readonly string[];
}

const SET_BODY = { value: marker("set"), type: "runtime", scopes: ["web", "user"] };
const IMPORT_BODY = { secrets: { IMPORTED: marker("import") }, scopes: ["web", "user"], dryRun: false };

/** Every management route (docs/api.md). The first test fails when the app serves another one. */
const ROUTES: readonly RouteCase[] = [
  { method: "GET", path: "/v1/whoami" },
  { method: "POST", path: "/v1/users", body: { email: MEMBER, admin: false } },
  { method: "GET", path: "/v1/users", query: ["limit", "after"] },
  { method: "POST", path: "/v1/orgs", body: { name: ORG } },
  { method: "GET", path: "/v1/orgs", query: ["limit", "after"] },
  { method: "GET", path: "/v1/orgs/{org}" },
  { method: "DELETE", path: "/v1/orgs/{org}" },
  { method: "GET", path: "/v1/orgs/{org}/members", query: ["limit", "after"] },
  { method: "PUT", path: "/v1/orgs/{org}/members/{user}", body: { role: "member" } },
  { method: "DELETE", path: "/v1/orgs/{org}/members/{user}" },
  { method: "GET", path: "/v1/orgs/{org}/secrets", query: ["limit", "after"] },
  { method: "PUT", path: "/v1/orgs/{org}/secrets/{name}", body: SET_BODY },
  { method: "PUT", path: "/v1/orgs/{org}/secrets/{name}/envs/{env}", body: SET_BODY },
  { method: "DELETE", path: "/v1/orgs/{org}/secrets/{name}" },
  { method: "DELETE", path: "/v1/orgs/{org}/secrets/{name}/envs/{env}" },
  { method: "POST", path: "/v1/orgs/{org}/secrets/import", body: IMPORT_BODY },
  {
    method: "GET",
    path: "/v1/orgs/{org}/secrets/{name}/versions",
    query: ["env", "limit", "before", "values"],
  },
  { method: "POST", path: "/v1/orgs/{org}/secrets/{name}/rollback", body: { to: 1 } },
  { method: "GET", path: "/v1/orgs/{org}/deleted-secrets", query: ["limit", "after"] },
  // Its `?id=` is checked in deleted-secrets tests: the query checks here send GETs.
  { method: "POST", path: "/v1/orgs/{org}/secrets/{name}/restore" },
  { method: "POST", path: "/v1/sites", body: { name: SITE, org: ORG, supportingOrgs: [PARTNER] } },
  { method: "GET", path: "/v1/sites", query: ["limit", "after", "org"] },
  { method: "GET", path: "/v1/sites/{site}" },
  { method: "DELETE", path: "/v1/sites/{site}" },
  { method: "POST", path: "/v1/sites/{site}/transfer", body: { org: ORG } },
  { method: "PUT", path: "/v1/sites/{site}/supporting-orgs/{org}" },
  { method: "DELETE", path: "/v1/sites/{site}/supporting-orgs/{org}" },
  { method: "PUT", path: "/v1/sites/{site}/team/{user}" },
  { method: "DELETE", path: "/v1/sites/{site}/team/{user}" },
  { method: "GET", path: "/v1/sites/{site}/environments", query: ["limit", "after"] },
  { method: "POST", path: "/v1/sites/{site}/environments", body: { name: MULTIDEV } },
  { method: "DELETE", path: "/v1/sites/{site}/environments/{env}" },
  { method: "GET", path: "/v1/sites/{site}/secrets", query: ["limit", "after", "env"] },
  { method: "PUT", path: "/v1/sites/{site}/secrets/{name}", body: SET_BODY },
  { method: "PUT", path: "/v1/sites/{site}/secrets/{name}/envs/{env}", body: SET_BODY },
  { method: "DELETE", path: "/v1/sites/{site}/secrets/{name}" },
  { method: "DELETE", path: "/v1/sites/{site}/secrets/{name}/envs/{env}" },
  { method: "POST", path: "/v1/sites/{site}/secrets/import", body: IMPORT_BODY },
  {
    method: "GET",
    path: "/v1/sites/{site}/secrets/{name}/versions",
    query: ["env", "limit", "before", "values"],
  },
  { method: "POST", path: "/v1/sites/{site}/secrets/{name}/rollback", body: { to: 1 } },
  { method: "GET", path: "/v1/sites/{site}/deleted-secrets", query: ["limit", "after"] },
  { method: "POST", path: "/v1/sites/{site}/secrets/{name}/restore" },
  { method: "GET", path: "/v1/sites/{site}/resolve", query: ["env", "scope"] },
  { method: "GET", path: "/v1/sites/{site}/local-secrets" },
  { method: "POST", path: "/v1/tokens", body: { kind: "runtime", site: SITE, env: "dev" } },
  { method: "GET", path: "/v1/tokens", query: ["limit", "after", "user", "site"] },
  { method: "DELETE", path: "/v1/tokens/{id}" },
  { method: "POST", path: "/v1/ui/links" },
  { method: "GET", path: "/v1/audit", query: ["org", "site", "since", "limit", "before"] },
  { method: "GET", path: "/v1/audit/verify" },
];

/**
 * The runtime and build endpoints, which take machine tokens (their own test below), and the
 * dashboard's sign-in exchange, which takes a link instead of a token (ui-signin.test.ts).
 */
const MACHINE_ROUTES = ["GET /site/secrets", "GET /v1/build/secrets", "POST /v1/ui/sessions"];

const BODY_ROUTES = ROUTES.filter((r) => r.body !== undefined);
/** Routes whose requests Fastify reads a body for (it never reads one for GET). */
const NON_GET_ROUTES = ROUTES.filter((r) => r.method !== "GET");
const PARAM_ROUTES = ROUTES.filter((r) => r.path.includes("{"));
const QUERY_ROUTES = ROUTES.filter((r) => r.query !== undefined);

const paramsOf = (path: string) => [...path.matchAll(/\{([a-z]+)\}/g)].map((m) => m[1] as string);
const label = (route: RouteCase) => `${route.method} ${route.path}`;

/** Table rows, the audit head and the secrets: everything a request could have changed. */
interface Snapshot {
  readonly counts: Record<string, number>;
  readonly auditHead: string | undefined;
  readonly secrets: string[];
  readonly values: string[];
}

async function snapshot(store: TestApp["db"]): Promise<Snapshot> {
  const counts: Record<string, number> = {};
  const tables = await store.kysely.introspection.getTables();
  for (const table of tables) {
    const result = await sql<{
      n: number | string;
    }>`select count(*) as n from ${sql.table(table.name)}`.execute(store.kysely);
    counts[table.name] = Number(result.rows[0]?.n);
  }
  const secrets = await store.kysely
    .selectFrom("secrets")
    .select(["name", "org_id", "site_id", "type", "scopes", "updated_at"])
    .execute();
  const values = await store.kysely
    .selectFrom("secret_values")
    .select(["secret_id", "env", "updated_at"])
    .execute();
  return {
    counts,
    auditHead: (
      await store.kysely.selectFrom("meta").select("value").where("key", "=", "audit.head").executeTakeFirst()
    )?.value,
    secrets: secrets
      .map((s) => `${s.org_id ?? s.site_id}/${s.name} ${s.type} ${s.scopes} ${s.updated_at}`)
      .sort(),
    values: values.map((v) => `${v.secret_id}/${v.env} ${v.updated_at}`).sort(),
  };
}

interface Expectation {
  /** The exact status, or the statuses allowed; any 4xx when absent. */
  readonly status?: number | readonly number[] | undefined;
  /** Strings the message must not contain (values sent); {@link MARK} always counts. */
  readonly secrets?: readonly string[];
}

/**
 * What is wrong with an error answer: not a 4xx, not exactly `{"error": {code, message, requestId}}`,
 * a code whose SPEC status differs, or a message quoting a value. Empty when it is clean.
 */
function problemsOf(what: string, response: TestResponse, expected: Expectation = {}): string[] {
  const problems: string[] = [];
  const where = `${what} → ${response.status} ${response.body.slice(0, 300)}`;
  const allowed = expected.status === undefined ? undefined : [expected.status].flat();
  if (response.status < 400 || response.status >= 500) problems.push(`not a 4xx: ${where}`);
  else if (allowed && !allowed.includes(response.status))
    problems.push(`expected ${allowed.join("|")}: ${where}`);
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    problems.push(`body is not JSON: ${where}`);
    return problems;
  }
  const error = (body as { error?: Record<string, unknown> })?.error;
  if (
    typeof body !== "object" ||
    body === null ||
    Object.keys(body).join() !== "error" ||
    typeof error !== "object" ||
    error === null ||
    Object.keys(error).sort().join() !== "code,message,requestId" ||
    typeof error.code !== "string" ||
    typeof error.message !== "string" ||
    typeof error.requestId !== "string" ||
    error.requestId === ""
  ) {
    problems.push(`not the error shape: ${where}`);
    return problems;
  }
  const code = error.code as string;
  if (SPEC_STATUS[code] !== response.status)
    problems.push(`code ${code} does not match the status: ${where}`);
  const message = error.message as string;
  for (const secret of [MARK, ...(expected.secrets ?? [])]) {
    if (message.includes(secret)) problems.push(`message echoes a value: ${where}`);
  }
  if (
    /\n\s+at |node_modules|\.[jt]s:\d|\bselect\b.*\bfrom\b|\binsert into\b|\bdelete from\b|SQLSTATE/i.test(
      message,
    )
  ) {
    problems.push(`message leaks internals: ${where}`);
  }
  if (!message.isWellFormed()) problems.push(`message is not well-formed Unicode: ${where}`);
  if (message.length > 1024) problems.push(`message is unbounded (${message.length} chars): ${where}`);
  if (!String(response.headers["content-type"]).startsWith("application/json")) {
    problems.push(`not JSON content type: ${where}`);
  }
  return problems;
}

/**
 * Sends bytes exactly as given over a socket: no client-side URL normalization (an HTTP client
 * would resolve `..` segments before the server ever saw them), no validation of the request line.
 */
function rawRequest(
  port: number,
  method: string,
  target: string,
  options: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<TestResponse> {
  const payload = options.body === undefined ? undefined : Buffer.from(options.body);
  const lines = [
    `${method} ${target} HTTP/1.1`,
    "Host: 127.0.0.1",
    "Connection: close",
    ...Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
    ...(payload ? [`Content-Length: ${payload.length}`] : []),
  ];
  const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, "127.0.0.1");
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const [statusLine = "", ...headerLines] = text.slice(0, split).split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const body = text.slice(split + 4);
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body, json });
    });
    // Not end(): a half-closed socket makes Node drop the response of a request still in flight.
    socket.write(payload ? Buffer.concat([head, payload]) : head);
  });
}

describe.each(await contractDatabases())("management API under malformed input ($name)", ({ create }) => {
  let database: TestDatabase;
  let t: TestApp;
  let port: number;
  let runtimeToken: string;
  let runtimeTokenId: string;
  let revokedToken: string;
  let before: Snapshot;

  /** The value of a path parameter that names a real fixture of this route. */
  const fixtureParam = (route: RouteCase, param: string): string => {
    const orgRoute = route.path.startsWith("/v1/orgs");
    switch (param) {
      case "org":
        return orgRoute ? ORG : PARTNER;
      case "site":
        return SITE;
      case "user":
        return MEMBER;
      case "name":
        return orgRoute ? ORG_SECRET : SITE_SECRET;
      case "env":
        return orgRoute ? "dev" : MULTIDEV;
      case "id":
        return runtimeTokenId;
      default:
        throw new Error(`no fixture for {${param}}`);
    }
  };

  /** The route's URL with fixtures, or `replace` (already URL-encoded) in place of one parameter. */
  const urlOf = (route: RouteCase, replace?: { param: string; raw: string }): string =>
    route.path.replace(/\{([a-z]+)\}/g, (_whole, param: string) =>
      replace?.param === param ? replace.raw : encodeURIComponent(fixtureParam(route, param)),
    );

  /** A request as the platform admin; a Buffer or string body is sent byte for byte. */
  const send = async (
    method: string,
    url: string,
    options: { body?: string | Buffer; contentType?: string | null; token?: string | null } = {},
  ): Promise<TestResponse> => {
    const token = options.token === undefined ? t.adminToken : options.token;
    const contentType = options.contentType === undefined ? "application/json" : options.contentType;
    const response = await inject(t.app.serverHandler, {
      method: method as "GET",
      url,
      headers: {
        ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
        ...(options.body !== undefined && contentType !== null ? { "content-type": contentType } : {}),
      },
      ...(options.body !== undefined ? { payload: options.body } : {}),
    });
    let json: unknown;
    try {
      json = JSON.parse(response.body);
    } catch {
      json = undefined;
    }
    return { status: response.statusCode, headers: response.headers, body: response.body, json };
  };

  const ok = async (method: string, url: string, body: unknown, status: number) => {
    const response = await t.call(method, url, { token: t.adminToken, body });
    expect(response.status, `${method} ${url}: ${response.body}`).toBe(status);
    return response;
  };

  beforeAll(async () => {
    database = await create();
    t = await createTestApp(database);
    port = await listenOnLoopback(t.app);

    const member = await t.user(MEMBER);
    await ok("POST", "/v1/orgs", { name: ORG }, 201);
    await ok("POST", "/v1/orgs", { name: PARTNER }, 201);
    await ok("PUT", `/v1/orgs/${ORG}/members/${MEMBER}`, { role: "member" }, 200);
    await ok("POST", "/v1/sites", { name: SITE, org: ORG }, 201);
    await ok("PUT", `/v1/sites/${SITE}/supporting-orgs/${PARTNER}`, undefined, 204);
    await ok("PUT", `/v1/sites/${SITE}/team/${MEMBER}`, undefined, 204);
    await ok("POST", `/v1/sites/${SITE}/environments`, { name: MULTIDEV }, 201);
    await ok("PUT", `/v1/sites/${SITE}/secrets/${SITE_SECRET}`, SET_BODY, 201);
    await ok("PUT", `/v1/sites/${SITE}/secrets/${SITE_SECRET}/envs/${MULTIDEV}`, { value: marker("o") }, 200);
    await ok("PUT", `/v1/orgs/${ORG}/secrets/${ORG_SECRET}`, { ...SET_BODY, value: marker("org") }, 201);
    await ok("PUT", `/v1/orgs/${ORG}/secrets/${ORG_SECRET}/envs/dev`, { value: marker("org-o") }, 200);
    const runtime = await ok("POST", "/v1/tokens", { kind: "runtime", site: SITE, env: "dev" }, 201);
    runtimeToken = runtime.json.token;
    runtimeTokenId = runtime.json.id;
    const revoked = await ok("POST", "/v1/tokens", { kind: "user", user: member.email }, 201);
    revokedToken = revoked.json.token;
    await ok("DELETE", `/v1/tokens/${revoked.json.id}`, undefined, 204);
    before = await snapshot(t.db);
  });
  afterAll(async () => {
    await t?.close();
    await database?.drop();
  });

  it("serves exactly the routes of this test's table, so a new route cannot go untested", async () => {
    const response = await t.call("GET", "/v1/openapi.json");
    expect(response.status).toBe(200);
    const served = Object.entries(response.json.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    // The document describes the machine endpoints too; their own test covers them below.
    expect(served.sort()).toEqual([...ROUTES.map(label), ...MACHINE_ROUTES].sort());
  });

  it("answers a body that is not JSON with 400 on every route that reads a body", async () => {
    const problems: string[] = [];
    const bodies = [
      `{"value":`,
      `{"value": "${marker("trunc")}"`,
      `{'value': '${marker("quote")}'}`,
      `{"value": "${marker("trail")}",}`,
      `${marker("bare")}`,
      `{"value": "a"}{"value": "${marker("two")}"}`,
      `{"value": NaN}`,
      "\u0000",
    ];
    for (const route of NON_GET_ROUTES) {
      for (const body of bodies) {
        const response = await send(route.method, urlOf(route), { body });
        problems.push(...problemsOf(`${label(route)} ${JSON.stringify(body)}`, response, { status: 400 }));
      }
    }
    expect(problems).toEqual([]);
  });

  it("answers a JSON array, string, number, boolean or null body with 400", async () => {
    const problems: string[] = [];
    const bodies = [
      "[]",
      `[${JSON.stringify(SET_BODY)}]`,
      JSON.stringify(marker("string")),
      "42",
      "-1e999",
      "true",
      "null",
    ];
    for (const route of NON_GET_ROUTES) {
      for (const body of bodies) {
        const response = await send(route.method, urlOf(route), { body });
        problems.push(...problemsOf(`${label(route)} ${body}`, response, { status: 400 }));
      }
    }
    expect(problems).toEqual([]);
  });

  it("answers a field of the wrong type with 400 naming the field, never its value", async () => {
    const problems: string[] = [];
    const wrong: unknown[] = [
      5,
      {},
      [5],
      true,
      null,
      marker("str"),
      { value: marker("nested") },
      [marker("arr")],
    ];
    for (const route of BODY_ROUTES) {
      for (const [field, valid] of Object.entries(route.body ?? {})) {
        for (const value of wrong) {
          // Skip substitutes of the field's own type: they are not wrong (scopes may be a string too).
          if (typeof value === typeof valid && Array.isArray(value) === Array.isArray(valid)) continue;
          if (Array.isArray(valid) && Array.isArray(value) && typeof value[0] === "string") continue;
          if (field === "scopes" && typeof value === "string") continue;
          const body = JSON.stringify({ ...route.body, [field]: value });
          const response = await send(route.method, urlOf(route), { body });
          problems.push(...problemsOf(`${label(route)} ${body}`, response, { status: 400 }));
          if (response.status === 400 && !String(response.json?.error?.message).includes(`'${field}`)) {
            problems.push(`${label(route)} ${body}: the message does not name '${field}': ${response.body}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("refuses unknown fields with 400, including on routes that take no body", async () => {
    const problems: string[] = [];
    for (const route of NON_GET_ROUTES) {
      const bodies = [
        { ...route.body, unexpected: marker("unknown") },
        { ...route.body, Value: marker("case") },
        { ...route.body, constructor: { prototype: { admin: true } } },
        // Many long unknown keys: the message names a few, bounded, never all of them.
        {
          ...route.body,
          ...Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}${"z".repeat(300)}`, 1])),
        },
      ];
      for (const body of bodies) {
        const response = await send(route.method, urlOf(route), { body: JSON.stringify(body) });
        problems.push(...problemsOf(`${label(route)} ${JSON.stringify(body)}`, response, { status: 400 }));
      }
      const proto = `{"__proto__": {"admin": true, "value": "${marker("proto")}"}${
        route.body ? `, ${JSON.stringify(route.body).slice(1, -1)}` : ""
      }}`;
      const response = await send(route.method, urlOf(route), { body: proto });
      problems.push(...problemsOf(`${label(route)} ${proto}`, response, { status: 400 }));
    }
    expect(problems).toEqual([]);
  });

  it("answers a missing or empty body with 400 where a body is required", async () => {
    const problems: string[] = [];
    for (const route of BODY_ROUTES) {
      const cases: Array<[string, Parameters<typeof send>[2]]> = [
        ["no body", {}],
        ["empty body", { body: "" }],
        ["empty body, no content type", { body: "", contentType: null }],
        ["whitespace", { body: "  \r\n " }],
        ["{}", { body: "{}" }],
      ];
      for (const [what, options] of cases) {
        const response = await send(route.method, urlOf(route), options);
        problems.push(...problemsOf(`${label(route)} ${what}`, response, { status: 400 }));
      }
    }
    expect(problems).toEqual([]);
  });

  it("answers a body over 128 KiB with 413 on every route that reads a body (400 on the others)", async () => {
    const problems: string[] = [];
    const big = JSON.stringify({ value: `${marker("big")}${"x".repeat(128 * 1024)}` });
    const bigInvalid = `{"value": "${"y".repeat(129 * 1024)}`;
    for (const route of NON_GET_ROUTES) {
      for (const body of [big, bigInvalid]) {
        const response = await send(route.method, urlOf(route), { body });
        // A route that takes no body refuses any, unread, as a 400 (docs/api.md).
        const status = route.body ? 413 : 400;
        problems.push(...problemsOf(`${label(route)} ${body.length} bytes`, response, { status }));
      }
    }
    expect(problems).toEqual([]);
  });

  it("answers a body that is not application/json with 415 (400 where the route takes no body)", async () => {
    const problems: string[] = [];
    const types = [
      "text/plain",
      "text/plain; charset=utf-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/xml",
      "application/octet-stream",
      "application/jsonx",
      "json",
    ];
    for (const route of NON_GET_ROUTES) {
      for (const contentType of types) {
        const body = JSON.stringify(route.body ?? { value: marker("plain") });
        const response = await send(route.method, urlOf(route), { body, contentType });
        const status = route.body ? 415 : 400;
        problems.push(...problemsOf(`${label(route)} ${contentType}`, response, { status }));
      }
    }
    expect(problems).toEqual([]);
  });

  it("refuses invalid UTF-8 in a body with 400 instead of decoding it to U+FFFD", async () => {
    const problems: string[] = [];
    const invalid = [
      Buffer.from([0xff, 0xfe]),
      Buffer.from([0xc0, 0xaf]), // overlong '/'
      Buffer.from([0xed, 0xa0, 0x80]), // an encoded lone surrogate (CESU-8)
      Buffer.from([0xe2, 0x82]), // truncated sequence
      Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), // five-byte form
    ];
    for (const route of NON_GET_ROUTES) {
      for (const bytes of invalid) {
        for (const field of route.body ? Object.keys(route.body) : ["value"]) {
          const valid = route.body?.[field];
          if (typeof valid !== "string") continue;
          const body = Buffer.concat([
            Buffer.from(`{${JSON.stringify(field)}: "${marker("utf8")}`),
            bytes,
            Buffer.from(`"}`),
          ]);
          const response = await send(route.method, urlOf(route), { body });
          const what = `${label(route)} ${field}=${bytes.toString("hex")}`;
          problems.push(...problemsOf(what, response, { status: 400 }));
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("refuses lone surrogates in values and names with a 4xx", async () => {
    const problems: string[] = [];
    const lone = ["\ud800", "hi\udbff", "\udc00lo", "\udfff\ud800"];
    for (const route of BODY_ROUTES) {
      for (const [field, valid] of Object.entries(route.body ?? {})) {
        for (const surrogate of lone) {
          // Values carry a marker that must not come back; names may be quoted (escaped) in messages.
          const text = field === "value" ? `${marker("lone")}${surrogate}` : surrogate;
          const value = Array.isArray(valid) ? [text] : typeof valid === "string" ? text : undefined;
          if (value === undefined) continue;
          // JSON.stringify writes a lone surrogate as a `\ud800` escape: the bytes are valid UTF-8.
          const body = JSON.stringify({ ...route.body, [field]: value });
          expect(body).toMatch(/\\ud[89a-f]/);
          const response = await send(route.method, urlOf(route), { body });
          const status = field === "value" || field === "name" || field === "email" ? 422 : undefined;
          problems.push(
            ...problemsOf(`${label(route)} ${field}=${JSON.stringify(value)}`, response, { status }),
          );
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("refuses invalid organization, site, environment and secret names with 422", async () => {
    const problems: string[] = [];
    const common = [
      "UPPER",
      "has space",
      "a".repeat(300),
      "../../etc/passwd",
      "%2e%2e%2f",
      "a\u0000b",
      "\ud800",
      "-leading-dash",
      "",
      "ümlaut",
      "a\nb",
      "a/b",
    ];
    const reserved = [
      "default",
      "settings",
      "team",
      "support",
      "multidev",
      "debug",
      "files",
      "tags",
      "billing",
    ];
    const check = async (
      what: string,
      method: Method,
      url: string,
      body: unknown,
      status: number | number[],
    ) => {
      // NUL is refused by the request schemas (400) before any name rule (422) is checked.
      const expected = what.includes("\\u0000") ? [400, ...[status].flat()] : status;
      const response = await send(method, url, { body: JSON.stringify(body) });
      problems.push(...problemsOf(what, response, { status: expected, secrets: [marker("name")] }));
    };
    for (const name of common) {
      await check(`org ${JSON.stringify(name)}`, "POST", "/v1/orgs", { name }, 422);
      await check(`site ${JSON.stringify(name)}`, "POST", "/v1/sites", { name, org: ORG }, 422);
      await check(`personal site ${JSON.stringify(name)}`, "POST", "/v1/sites", { name, owner: MEMBER }, 422);
    }
    for (const name of [...common, ...reserved, "twelve-chars", "dev", "live"]) {
      const status = ["dev", "live"].includes(name) ? [409, 422] : 422;
      await check(
        `multidev ${JSON.stringify(name)}`,
        "POST",
        `/v1/sites/${SITE}/environments`,
        { name },
        status,
      );
    }
    const badSecretNames = [
      "has space",
      "a".repeat(300),
      "../../etc/passwd",
      "%2e%2e%2f",
      "a\u0000b",
      "a/b",
      "é",
    ];
    for (const name of badSecretNames) {
      const encoded = encodeURIComponent(name);
      const body = { value: marker("name") };
      await check(
        `site secret ${JSON.stringify(name)}`,
        "PUT",
        `/v1/sites/${SITE}/secrets/${encoded}`,
        body,
        422,
      );
      await check(
        `org secret ${JSON.stringify(name)}`,
        "PUT",
        `/v1/orgs/${ORG}/secrets/${encoded}`,
        body,
        422,
      );
      const envBody = { value: marker("name"), type: "env" };
      await check(
        `env secret ${JSON.stringify(name)}`,
        "PUT",
        `/v1/sites/${SITE}/secrets/${encoded}`,
        envBody,
        422,
      );
    }
    for (const name of ["1nvalid", "PATH", "LD_PRELOAD", "A-B"]) {
      const body = { value: marker("name"), type: "env" };
      await check(`env secret ${name}`, "PUT", `/v1/orgs/${ORG}/secrets/${name}`, body, 422);
    }
    for (const env of [...common.filter((n) => n !== "" && n.isWellFormed()), ...reserved]) {
      const url = `/v1/orgs/${ORG}/secrets/${ORG_SECRET}/envs/${encodeURIComponent(env)}`;
      await check(`org override env ${JSON.stringify(env)}`, "PUT", url, { value: marker("name") }, 422);
      const siteUrl = `/v1/sites/${SITE}/secrets/${SITE_SECRET}/envs/${encodeURIComponent(env)}`;
      await check(
        `site override env ${JSON.stringify(env)}`,
        "PUT",
        siteUrl,
        { value: marker("name") },
        [404, 422],
      );
      const token = { kind: "runtime", site: SITE, env };
      await check(`runtime token env ${JSON.stringify(env)}`, "POST", "/v1/tokens", token, [404, 422]);
    }
    expect(problems).toEqual([]);
  });

  it("answers path traversal in every path parameter with a 4xx, never touching another resource", async () => {
    const problems: string[] = [];
    const traversals = [
      "..",
      ".",
      "../..",
      "../../etc/passwd",
      "..%2F..%2Fetc%2Fpasswd",
      "%2e%2e%2f",
      "%2e%2e",
      "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
      "..%5C..%5Cwindows",
      "%252e%252e%252f",
      "%00",
      "a%00b",
      "%ED%A0%80",
      "%FF",
      "%",
      "%zz",
      "a;b=c",
      `${"a".repeat(600)}`,
      `${encodeURIComponent("é").repeat(400)}`,
    ];
    for (const route of PARAM_ROUTES) {
      for (const param of paramsOf(route.path)) {
        for (const raw of traversals) {
          const target = urlOf(route, { param, raw });
          const response = await rawRequest(port, route.method, target, {
            headers: {
              authorization: `Bearer ${t.adminToken}`,
              ...(route.body ? { "content-type": "application/json" } : {}),
            },
            ...(route.body ? { body: JSON.stringify(route.body) } : {}),
          });
          problems.push(...problemsOf(`${route.method} ${target.slice(0, 200)}`, response));
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("refuses oversized, unknown and out-of-range query values with 400", async () => {
    const problems: string[] = [];
    const check = async (url: string, status: number | number[] = 400) => {
      const response = await send("GET", url);
      problems.push(...problemsOf(`GET ${url.slice(0, 200)}`, response, { status, secrets: [marker("q")] }));
    };
    for (const route of QUERY_ROUTES) {
      const base = urlOf(route);
      const required = route.path.endsWith("/resolve") ? "env=dev&" : "";
      for (const key of route.query ?? []) {
        await check(`${base}?${required}${key}=${marker("q")}${"q".repeat(5000)}`);
      }
      await check(`${base}?${required}unexpected=${marker("q")}`);
      if (route.query?.includes("limit")) {
        for (const limit of ["-1", "0", "1001", "1e9", "99999999999999999999999", "abc", "1.5", "NaN", ""]) {
          await check(`${base}?limit=${limit}`);
        }
        await check(`${base}?limit=1&limit=2`);
      }
      if (route.query?.includes("before")) {
        for (const before of ["-1", "0", "abc", "1.5", "99999999999999999999999"]) {
          await check(`${base}?before=${before}`);
        }
        // Beyond every event, or beyond a 32-bit column: an empty or full page, never a 500.
        for (const before of ["2147483648", "9007199254740991"]) {
          const response = await send("GET", `${base}?before=${before}`);
          if (response.status !== 200) problems.push(...problemsOf(`GET ${base}?before=${before}`, response));
        }
      }
    }
    // (`/resolve` without ?env= is no longer malformed: it resolves the base values.)
    await check(`/v1/sites/${SITE}/resolve?env=dev&scope=everyone`, 422);
    for (const env of ["%ED%A0%80", "%FF", "%", "..%2F..", "%00"]) {
      await check(`/v1/sites/${SITE}/resolve?env=${env}`, [400, 404, 422]);
      await check(`/v1/sites/${SITE}/secrets?env=${env}`, [400, 404, 422]);
    }
    await check("/v1/audit?since=not-a-date", 422);
    expect(problems).toEqual([]);
  });

  it("refuses query parameters on writes that declare none, so ?env= never widens a delete", async () => {
    const problems: string[] = [];
    for (const route of NON_GET_ROUTES.filter((r) => r.query === undefined)) {
      for (const query of ["env=dev", `force=${marker("q")}`, "env="]) {
        const url = `${urlOf(route)}?${query}`;
        const response = await send(
          route.method,
          url,
          route.body ? { body: JSON.stringify(route.body) } : {},
        );
        problems.push(...problemsOf(`${route.method} ${url}`, response, { status: 400 }));
      }
    }
    expect(problems).toEqual([]);
  });

  it("answers a missing, garbage or revoked token with 401 on every route", async () => {
    const problems: string[] = [];
    const garbage = `lbx_${marker("tok")}`;
    const headers: Array<[string, Record<string, string>]> = [
      ["no header", {}],
      ["garbage", { authorization: `Bearer ${garbage}` }],
      ["well-formed unknown", { authorization: `Bearer lbx_${"A".repeat(43)}` }],
      ["revoked", { authorization: `Bearer ${revokedToken}` }],
      ["empty bearer", { authorization: "Bearer " }],
      ["basic", { authorization: `Basic ${Buffer.from(`admin:${garbage}`).toString("base64")}` }],
      ["two tokens", { authorization: `Bearer ${t.adminToken} ${garbage}` }],
      ["token without scheme", { authorization: t.adminToken }],
    ];
    for (const route of ROUTES) {
      for (const [what, header] of headers) {
        const response = await inject(t.app.serverHandler, {
          method: route.method,
          url: urlOf(route),
          headers: { ...header, ...(route.body ? { "content-type": "application/json" } : {}) },
          ...(route.body ? { payload: JSON.stringify(route.body) } : {}),
        });
        const answer = {
          status: response.statusCode,
          headers: response.headers,
          body: response.body,
          json: {},
        };
        problems.push(
          ...problemsOf(`${label(route)} ${what}`, answer, {
            status: 401,
            secrets: [garbage, revokedToken, t.adminToken],
          }),
        );
        if (response.statusCode === 401 && !response.headers["www-authenticate"]) {
          problems.push(`${label(route)} ${what}: 401 without WWW-Authenticate`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("answers the machine endpoints with 401 for a bad token and 403 for a token of another kind", async () => {
    const problems: string[] = [];
    const garbage = `lbr_${marker("tok")}`;
    for (const url of ["/site/secrets", "/v1/build/secrets"]) {
      for (const [what, token, status] of [
        ["no token", null, 401],
        ["garbage", garbage, 401],
        ["revoked", revokedToken, 401],
        ["user token", t.adminToken, 403],
      ] as const) {
        const response = await send("GET", url, { token });
        problems.push(
          ...problemsOf(`GET ${url} ${what}`, response, { status, secrets: [garbage, t.adminToken] }),
        );
      }
    }
    const wrongKind = await send("GET", "/v1/build/secrets", { token: runtimeToken });
    problems.push(...problemsOf("runtime token at the build endpoint", wrongKind, { status: 403 }));
    expect(problems).toEqual([]);
  });

  it("answers a runtime token on every management route with 403", async () => {
    const problems: string[] = [];
    for (const route of ROUTES) {
      const response = await send(route.method, urlOf(route), {
        token: runtimeToken,
        ...(route.body ? { body: JSON.stringify(route.body) } : {}),
      });
      problems.push(...problemsOf(label(route), response, { status: 403, secrets: [runtimeToken] }));
    }
    expect(problems).toEqual([]);
  });

  it("answers an unknown route or method with 404 in the error shape", async () => {
    const problems: string[] = [];
    const cases: Array<[string, string]> = [
      ["GET", "/v1/nope"],
      ["GET", "/nope"],
      ["GET", "/index.html"],
      ["POST", `/v1/orgs/${ORG}`],
      ["PATCH", `/v1/orgs/${ORG}`],
      ["GET", `/v1/sites/${SITE}/secrets/${SITE_SECRET}`],
      ["GET", `/v1/sites/${SITE}/secrets/${SITE_SECRET}/envs/dev/extra`],
      ["GET", "/v1/../../etc/passwd"],
      ["GET", "/v1/%2e%2e/%2e%2e/etc/passwd"],
      ["GET", `/v1/orgs/${ORG}/secrets/`],
      ["GET", "//v1/orgs"],
      ["GET", "/V1/ORGS"],
      ["GET", `/v1/${"x".repeat(2000)}`],
    ];
    for (const [method, url] of cases) {
      const response = await rawRequest(port, method, url, {
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      problems.push(...problemsOf(`${method} ${url.slice(0, 100)}`, response, { status: 404 }));
    }
    const withBody = await send("POST", "/v1/nope", { body: JSON.stringify({ value: marker("404") }) });
    problems.push(...problemsOf("POST /v1/nope with a body", withBody, { status: 404 }));
    const noToken = await send("GET", "/v1/nope", { token: null });
    problems.push(...problemsOf("GET /v1/nope without a token", noToken, { status: 404 }));
    expect(problems).toEqual([]);
  });

  it("refuses a body on every GET and on every route that takes none with 400 (docs/api.md)", async () => {
    const problems: string[] = [];
    const bodies = ["{}", JSON.stringify({ value: marker("get") }), "{not json", "x".repeat(200 * 1024)];
    for (const route of ROUTES.filter((r) => r.body === undefined)) {
      for (const body of bodies) {
        const response = await send(route.method, urlOf(route), { body });
        problems.push(...problemsOf(`${label(route)} with a body`, response, { status: 400 }));
      }
    }
    const listing = await send("GET", "/v1/orgs", { body: "{}", contentType: "text/plain" });
    problems.push(...problemsOf("GET /v1/orgs with a text body", listing, { status: 400 }));
    expect(problems).toEqual([]);
  });

  it("leaves the store exactly as it was after all of the requests above", async () => {
    const after = await snapshot(t.db);
    expect(after).toEqual(before);
    expect(after.counts.secrets).toBe(2);
    expect(after.auditHead).toBeDefined();
  });

  it("routes a secret name of 255 bytes (the longest valid one) to the handler", async () => {
    const name = `N${"a".repeat(254)}`;
    const created = await t.call("PUT", `/v1/sites/${SITE}/secrets/${name}`, {
      token: t.adminToken,
      body: { value: marker("long") },
    });
    expect(created.status, created.body).toBe(201);
    const tooLong = await t.call("PUT", `/v1/sites/${SITE}/secrets/${name}b`, {
      token: t.adminToken,
      body: { value: marker("long") },
    });
    expect(problemsOf("256-byte name", tooLong, { status: 422 })).toEqual([]);
  });
});
