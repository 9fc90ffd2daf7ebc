import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../testing/test-app.js";
import { contractDatabases } from "../testing/test-databases.js";

/**
 * Every management list is paginated the same way (SPEC §7, docs/api.md): `?limit=<1-1000>`
 * (default 100) and `?after=<cursor>`, answered with `{items, next}` where `next` is `null` on the
 * last page. Paging through a list, whatever the page size, gives exactly the rows of the whole list.
 */

/** A list route, with the key its cursor is made of. */
interface ListCase {
  readonly url: string;
  readonly key: (row: Record<string, unknown>) => string;
}

const byName = (row: Record<string, unknown>) => String(row.name);
const byEmail = (row: Record<string, unknown>) => String(row.email);
const byId = (row: Record<string, unknown>) => String(row.id);

/** The lists of this test's fixture; each has at least three rows. */
const LISTS: readonly ListCase[] = [
  { url: "/v1/users", key: byEmail },
  { url: "/v1/orgs", key: byName },
  { url: "/v1/sites", key: byName },
  { url: "/v1/tokens?user=admin-paging@example.com", key: byId },
  { url: "/v1/orgs/acme/members", key: byEmail },
  { url: "/v1/orgs/acme/secrets", key: byName },
  { url: "/v1/sites/shop/environments", key: byName },
  { url: "/v1/sites/shop/secrets", key: byName },
  { url: "/v1/sites/shop/secrets?env=dev", key: byName },
];

/** The lists that were answered whole before they were paginated. */
const NEWLY_PAGINATED = [
  "/v1/orgs/acme/members",
  "/v1/orgs/acme/secrets",
  "/v1/sites/shop/environments",
  "/v1/sites/shop/secrets",
  "/v1/sites/shop/secrets?env=dev",
];

const withQuery = (url: string, query: string) => `${url}${url.includes("?") ? "&" : "?"}${query}`;

describe.each(await contractDatabases())("paginated lists ($name)", ({ create }) => {
  let t: TestApp;
  let drop: () => Promise<void>;

  const get = async (url: string) => {
    const response = await t.call("GET", url, { token: t.adminToken });
    expect(response.status, `GET ${url}: ${response.body}`).toBe(200);
    return response.json as { items: Record<string, unknown>[]; next: string | null };
  };

  /** Follows `next` from the first page to the last; every page holds at most `limit` rows. */
  const pageThrough = async (url: string, limit: number) => {
    const rows: Record<string, unknown>[] = [];
    const sizes: number[] = [];
    let after: string | null = null;
    for (let page = 0; page < 100; page++) {
      const query: string = `limit=${limit}${after === null ? "" : `&after=${encodeURIComponent(after)}`}`;
      const answer = await get(withQuery(url, query));
      expect(answer.items.length, `${url} ${query}`).toBeLessThanOrEqual(limit);
      rows.push(...answer.items);
      sizes.push(answer.items.length);
      if (answer.next === null) return { rows, sizes };
      expect(typeof answer.next).toBe("string");
      after = answer.next;
    }
    throw new Error(`${url} never reached its last page`);
  };

  const ok = async (method: string, url: string, body?: unknown, token = t.adminToken) => {
    const response = await t.call(method, url, { token, body });
    expect(response.status, `${method} ${url}: ${response.body}`).toBeLessThan(300);
    return response;
  };

  beforeAll(async () => {
    const database = await create();
    drop = () => database.drop();
    t = await createTestApp(database);
    await ok("POST", "/v1/users", { email: "admin-paging@example.com", admin: true });
    for (let i = 0; i < 3; i++)
      await ok("POST", "/v1/tokens", { kind: "user", user: "admin-paging@example.com" });
    await ok("POST", "/v1/orgs", { name: "acme" });
    await ok("POST", "/v1/orgs", { name: "globex" });
    await ok("POST", "/v1/orgs", { name: "initech" });
    for (const who of ["carol", "alice", "dave", "bob"]) {
      await t.user(`${who}@example.com`);
      await ok("PUT", `/v1/orgs/acme/members/${who}@example.com`, {
        role: who === "alice" ? "admin" : "member",
      });
    }
    await ok("POST", "/v1/sites", { name: "shop", org: "acme" });
    await ok("POST", "/v1/sites", { name: "blog", org: "acme" });
    await ok("POST", "/v1/sites", { name: "wiki", org: "globex" });
    for (const env of ["zeta", "feat-b", "feat-a"])
      await ok("POST", "/v1/sites/shop/environments", { name: env });
    // Org secrets, one of them shadowed by a site secret of the same name, and site secrets out of
    // name order, some with a dev override.
    for (const name of ["ORG_ZED", "SHARED", "ORG_ALPHA", "ORG_MID"]) {
      await ok("PUT", `/v1/orgs/acme/secrets/${name}`, { value: `org-${name}`, scopes: "web,user" });
    }
    await ok("PUT", "/v1/orgs/acme/secrets/ORG_MID/envs/live", { value: "org-mid-live" });
    for (const name of ["TOKEN", "API_KEY", "SHARED", "DB_PASSWORD", "b-lower"]) {
      await ok("PUT", `/v1/sites/shop/secrets/${name}`, { value: `site-${name}`, scopes: "web,user" });
    }
    for (const name of ["TOKEN", "API_KEY", "SHARED"]) {
      await ok("PUT", `/v1/sites/shop/secrets/${name}/envs/dev`, { value: `dev-${name}` });
    }
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it.each(LISTS)(
    "$url pages at limit 1 and 2 to exactly the rows of the whole list",
    async ({ url, key }) => {
      const whole = await get(url);
      expect(whole.next).toBeNull();
      expect(whole.items.length).toBeGreaterThanOrEqual(3);
      for (const limit of [1, 2]) {
        const { rows, sizes } = await pageThrough(url, limit);
        expect(rows, `${url} at limit ${limit}`).toEqual(whole.items);
        expect(sizes.length).toBeGreaterThanOrEqual(Math.ceil(whole.items.length / limit));
        expect(new Set(rows.map(key)).size).toBe(rows.length);
      }
    },
  );

  it("pages the audit log newest first with before=<next>, to exactly the events of the whole log", async () => {
    const whole = await get("/v1/audit?limit=1000");
    expect(whole.items.length).toBeGreaterThan(10);
    const seqs = whole.items.map((event) => Number(event.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    const rows: Record<string, unknown>[] = [];
    let before: string | null = null;
    for (let page = 0; page < 1000 && (page === 0 || before !== null); page++) {
      const answer = await get(`/v1/audit?limit=7${before === null ? "" : `&before=${before}`}`);
      rows.push(...answer.items);
      before = answer.next;
    }
    expect(rows).toEqual(whole.items);
  });

  it("lists secrets, members and environments in cursor order, standard environments first", async () => {
    const names = (items: Record<string, unknown>[], key = byName) => items.map(key);
    expect(names((await get("/v1/sites/shop/secrets")).items)).toEqual([
      "API_KEY",
      "DB_PASSWORD",
      "ORG_ALPHA",
      "ORG_MID",
      "ORG_ZED",
      "SHARED",
      "TOKEN",
      "b-lower",
    ]);
    expect(names((await get("/v1/sites/shop/secrets?env=dev")).items)).toEqual([
      "API_KEY",
      "SHARED",
      "TOKEN",
    ]);
    expect(names((await get("/v1/orgs/acme/secrets")).items)).toEqual([
      "ORG_ALPHA",
      "ORG_MID",
      "ORG_ZED",
      "SHARED",
    ]);
    expect(names((await get("/v1/orgs/acme/members")).items, byEmail)).toEqual([
      "alice@example.com",
      "bob@example.com",
      "carol@example.com",
      "dave@example.com",
    ]);
    expect(names((await get("/v1/sites/shop/environments")).items)).toEqual([
      "dev",
      "test",
      "live",
      "feat-a",
      "feat-b",
      "zeta",
    ]);
  });

  it("keeps the resolution and redaction of each row on every page", async () => {
    const page = await get("/v1/sites/shop/secrets?limit=1&after=ORG_ALPHA");
    expect(page).toEqual({
      items: [
        {
          name: "ORG_MID",
          type: "runtime",
          scopes: ["web", "user"],
          value: "org-ORG_MID",
          envValues: {},
          orgValues: { default: "org-ORG_MID", live: "org-mid-live" },
          owner: "org",
        },
      ],
      next: "ORG_MID",
    });
    const shadowed = await get("/v1/sites/shop/secrets?limit=1&after=ORG_ZED");
    expect(shadowed.items[0]).toMatchObject({ name: "SHARED", owner: "site", value: "site-SHARED" });
  });

  it("answers a last page that is exactly full with next null, and an after beyond every row with none", async () => {
    expect(await get("/v1/orgs/acme/secrets?limit=4")).toMatchObject({ next: null });
    expect((await get("/v1/orgs/acme/secrets?limit=3")).next).toBe("ORG_ZED");
    expect(await get("/v1/orgs/acme/secrets?after=ZZZ")).toEqual({ items: [], next: null });
    expect(await get("/v1/sites/shop/environments?after=zeta")).toEqual({ items: [], next: null });
  });

  it("continues after a cursor whose row was deleted between pages", async () => {
    await ok("PUT", "/v1/orgs/acme/secrets/TEMP", { value: "t" });
    const first = await get("/v1/orgs/acme/secrets?limit=4");
    expect(first.next).toBe("SHARED");
    await ok("PUT", "/v1/orgs/acme/secrets/ZULU", { value: "z" });
    await ok("DELETE", "/v1/orgs/acme/secrets/SHARED");
    const second = await get(`/v1/orgs/acme/secrets?limit=4&after=${first.next}`);
    expect(second.items.map(byName)).toEqual(["TEMP", "ZULU"]);
    expect(second.next).toBeNull();
    await ok("PUT", "/v1/orgs/acme/secrets/SHARED", { value: "org-SHARED", scopes: "web,user" });
    await ok("DELETE", "/v1/orgs/acme/secrets/TEMP");
    await ok("DELETE", "/v1/orgs/acme/secrets/ZULU");
  });

  it.each(NEWLY_PAGINATED)("%s refuses an invalid limit or an unknown parameter with 400", async (url) => {
    for (const query of ["limit=0", "limit=1001", "limit=abc", "limit=1.5", "after=a%00b", "colour=red"]) {
      const response = await t.call("GET", withQuery(url, query), { token: t.adminToken });
      expect(response.status, `${url} ${query}`).toBe(400);
      expect(Object.keys(response.json)).toEqual(["error"]);
      expect(response.json.error).toEqual({
        code: "BAD_REQUEST",
        message: expect.stringMatching(/^Invalid request query: '(limit|after|query)' /),
        requestId: expect.any(String),
      });
    }
  });

  it("says a limit out of range in words: 'must be at least 1', 'must be at most 1000'", async () => {
    for (const [query, message] of [
      ["limit=0", "Invalid request query: 'limit' must be at least 1."],
      ["limit=-3", "Invalid request query: 'limit' must be at least 1."],
      ["limit=1001", "Invalid request query: 'limit' must be at most 1000."],
    ]) {
      const response = await t.call("GET", `/v1/sites?${query}`, { token: t.adminToken });
      expect([response.status, response.json.error.message], query).toEqual([400, message]);
    }
  });

  it("lets a member who may list page through the list like the admin", async () => {
    const bob = await ok("POST", "/v1/tokens", { kind: "user", user: "bob@example.com" });
    const token = bob.json.token as string;
    const first = await t.call("GET", "/v1/orgs/acme/members?limit=2", { token });
    expect(first.status).toBe(200);
    expect(first.json.items.map(byEmail)).toEqual(["alice@example.com", "bob@example.com"]);
    const second = await t.call("GET", `/v1/orgs/acme/members?limit=2&after=${first.json.next}`, { token });
    expect(second.json).toMatchObject({ next: null });
    expect(second.json.items.map(byEmail)).toEqual(["carol@example.com", "dave@example.com"]);
    const stranger = await t.user("stranger@example.com");
    const hidden = await t.call("GET", "/v1/orgs/acme/members?limit=1", { token: stranger.token });
    expect(hidden.status).toBe(404);
  });

  it("describes limit, after and next for every paginated list in the OpenAPI document", async () => {
    const document = (await t.call("GET", "/v1/openapi.json")).json;
    const paths = [
      "/v1/orgs/{org}/members",
      "/v1/orgs/{org}/secrets",
      "/v1/sites/{site}/environments",
      "/v1/sites/{site}/secrets",
      "/v1/users",
      "/v1/orgs",
      "/v1/sites",
      "/v1/tokens",
    ];
    for (const path of paths) {
      const operation = document.paths[path].get;
      const query = operation.parameters
        .filter((p: { in: string }) => p.in === "query")
        .map((p: { name: string }) => p.name);
      expect(query, path).toEqual(expect.arrayContaining(["limit", "after"]));
      const limit = operation.parameters.find((p: { name: string }) => p.name === "limit");
      expect(limit.schema, path).toMatchObject({ minimum: 1, maximum: 1000 });
      const schema = operation.responses["200"].content["application/json"].schema;
      expect(schema.required, path).toEqual(expect.arrayContaining(["items", "next"]));
    }
  });
});
