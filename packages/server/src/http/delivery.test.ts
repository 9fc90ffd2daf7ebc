import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../testing/test-app.js";
import { contractDatabases } from "../testing/test-databases.js";

describe.each(await contractDatabases())("delivery endpoints ($name)", ({ create }) => {
  let t: TestApp;
  let drop: () => Promise<void>;
  const admin = () => ({ token: t.adminToken });
  const put = async (url: string, body: unknown) => {
    const response = await t.call("PUT", url, { ...admin(), body });
    expect([url, response.status]).toEqual([url, expect.any(Number)]);
    expect(response.status, JSON.stringify(response.json)).toBeLessThan(300);
  };
  const mint = async (kind: "runtime" | "build", site: string, env: string) => {
    const response = await t.call("POST", "/v1/tokens", { ...admin(), body: { kind, site, env } });
    expect(response.status, JSON.stringify(response.json)).toBe(201);
    return response.json as { token: string; id: string };
  };
  const runtime = (token: string, headers: Record<string, string> = {}) =>
    t.call("GET", "/site/secrets", { token, headers });
  const values = async (token: string) => {
    const response = await runtime(token);
    expect(response.status, response.body).toBe(200);
    return Object.fromEntries(
      Object.entries(response.json.Secrets as Record<string, { Value: string }>).map(([k, v]) => [
        k,
        v.Value,
      ]),
    );
  };

  beforeAll(async () => {
    const database = await create();
    drop = () => database.drop();
    t = await createTestApp(database);
    for (const name of ["org-a", "org-b", "org-s"])
      await t.call("POST", "/v1/orgs", { ...admin(), body: { name } });
    await t.call("POST", "/v1/sites", {
      ...admin(),
      body: { name: "site-a", org: "org-a", supportingOrgs: ["org-s"] },
    });
    await t.call("POST", "/v1/sites", { ...admin(), body: { name: "site-b", org: "org-b" } });
    await t.call("POST", "/v1/sites/site-a/environments", { ...admin(), body: { name: "feature" } });
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it("answers in the seed product's wire shape with a content Version as ETag, and 304 when unchanged", async () => {
    await put("/v1/sites/site-b/secrets/WIRE", { value: "wire-value", scopes: "web,user" });
    const { token } = await mint("runtime", "site-b", "live");
    const response = await runtime(token);
    expect(response.status).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    const site = (await t.call("GET", "/v1/sites/site-b", admin())).json;
    expect(response.json).toEqual({
      SiteID: site.id,
      Environment: "live",
      Secrets: { WIRE: { Type: "runtime", Value: "wire-value", Scopes: ["web", "user"] } },
      Count: 1,
      Version: expect.stringMatching(/^[0-9a-f]{32}$/),
      Scopes: ["web"],
    });
    expect(response.headers.etag).toBe(`"${response.json.Version}"`);
    const unchanged = await runtime(token, { "if-none-match": String(response.headers.etag) });
    expect([unchanged.status, unchanged.body]).toEqual([304, ""]);
    // Weak comparison, lists and `*`, as HTTP caches and proxies send them.
    const etag = String(response.headers.etag);
    for (const header of [`W/${etag}`, `"other", ${etag}`, `"other",W/${etag}`, "*"]) {
      expect((await runtime(token, { "if-none-match": header })).status).toBe(304);
    }
    for (const header of ['"other"', `"${response.json.Version.slice(1)}"`, ""]) {
      expect((await runtime(token, { "if-none-match": header })).status).toBe(200);
    }
    await put("/v1/sites/site-b/secrets/WIRE", { value: "wire-value-2" });
    const changed = await runtime(token, { "if-none-match": String(response.headers.etag) });
    expect(changed.status).toBe(200);
    expect(changed.json.Version).not.toBe(response.json.Version);
    // The same content gives the same Version again.
    await put("/v1/sites/site-b/secrets/WIRE", { value: "wire-value" });
    expect((await runtime(token)).json.Version).toBe(response.json.Version);
  });

  it("applies every resolution consequence for scope web", async () => {
    await put("/v1/orgs/org-a/secrets/PRECEDENCE", { value: "org", scopes: "web" });
    await put("/v1/orgs/org-a/secrets/PRECEDENCE/envs/live", { value: "org-live" });
    await put("/v1/sites/site-a/secrets/PRECEDENCE", { value: "site", scopes: "web" });
    await put("/v1/sites/site-a/secrets/PRECEDENCE/envs/live", { value: "site-live" });
    await put("/v1/orgs/org-a/secrets/HIDDEN_BY_SITE", { value: "org", scopes: "web" });
    await put("/v1/orgs/org-a/secrets/HIDDEN_BY_SITE/envs/live", { value: "org-live" });
    await put("/v1/sites/site-a/secrets/HIDDEN_BY_SITE", { value: "site-base", scopes: "web" });
    await put("/v1/orgs/org-a/secrets/FILTERED", { value: "org-web", scopes: "web" });
    await put("/v1/sites/site-a/secrets/FILTERED", { value: "site-ic", type: "env", scopes: "ic" });
    await put("/v1/orgs/org-s/secrets/SUPPORTING", { value: "never", scopes: "web" });
    await put("/v1/sites/site-a/secrets/AN_ENV_TYPE", { value: "env-type", type: "env", scopes: "web" });
    await put("/v1/sites/site-a/secrets/NO_WEB", { value: "user-only", scopes: "user" });
    await put("/v1/orgs/org-a/secrets/RETURNS", { value: "org-returns", scopes: "web" });
    await put("/v1/sites/site-a/secrets/RETURNS", { value: "site-returns", scopes: "web" });
    const live = await mint("runtime", "site-a", "live");
    const dev = await mint("runtime", "site-a", "dev");
    const got = await values(live.token);
    expect(got).toMatchObject({
      PRECEDENCE: "site-live",
      HIDDEN_BY_SITE: "site-base",
      FILTERED: "org-web",
      AN_ENV_TYPE: "env-type",
      RETURNS: "site-returns",
    });
    expect(got).not.toHaveProperty("SUPPORTING");
    expect(got).not.toHaveProperty("NO_WEB");
    expect((await values(dev.token)).PRECEDENCE).toBe("site");
    await t.call("DELETE", "/v1/sites/site-a/secrets/RETURNS", admin());
    expect((await values(live.token)).RETURNS).toBe("org-returns");
  });

  it("gives a token of site A in live nothing of site B or of dev", async () => {
    await put("/v1/sites/site-b/secrets/B_ONLY", { value: "b", scopes: "web" });
    await put("/v1/sites/site-a/secrets/DEV_ONLY", { value: "base", scopes: "web" });
    await put("/v1/sites/site-a/secrets/DEV_ONLY/envs/dev", { value: "dev-value" });
    const live = await mint("runtime", "site-a", "live");
    const got = await values(live.token);
    expect(got).not.toHaveProperty("B_ONLY");
    expect(got.DEV_ONLY).toBe("base");
    expect(JSON.stringify(got)).not.toContain("dev-value");
  });

  it("serves a write at once, and refuses a revoked token or one whose multidev is gone", async () => {
    const live = await mint("runtime", "site-a", "live");
    await values(live.token);
    await put("/v1/orgs/org-a/secrets/FRESH", { value: "one", scopes: "web" });
    expect((await values(live.token)).FRESH).toBe("one");
    await put("/v1/orgs/org-a/secrets/FRESH", { value: "two" });
    expect((await values(live.token)).FRESH).toBe("two");

    expect((await t.call("DELETE", `/v1/tokens/${live.id}`, admin())).status).toBe(204);
    expect((await runtime(live.token)).json.error.code).toBe("UNAUTHENTICATED");

    await t.call("POST", "/v1/sites/site-a/environments", { ...admin(), body: { name: "gone" } });
    const gone = await mint("runtime", "site-a", "gone");
    await values(gone.token);
    expect((await t.call("DELETE", "/v1/sites/site-a/environments/gone", admin())).status).toBe(204);
    expect((await runtime(gone.token)).status).toBe(401);
  });

  it("follows a transfer: the site inherits from its new owner at once", async () => {
    await t.call("POST", "/v1/sites", { ...admin(), body: { name: "site-moving", org: "org-a" } });
    await put("/v1/orgs/org-b/secrets/FROM_B", { value: "b", scopes: "web" });
    const token = (await mint("runtime", "site-moving", "dev")).token;
    expect(await values(token)).not.toHaveProperty("FROM_B");
    expect(
      (await t.call("POST", "/v1/sites/site-moving/transfer", { ...admin(), body: { org: "org-b" } })).status,
    ).toBe(200);
    expect((await values(token)).FROM_B).toBe("b");
  });

  it("refuses other kinds of tokens on each endpoint", async () => {
    const build = await mint("build", "site-a", "dev");
    const live = await mint("runtime", "site-a", "live");
    expect((await runtime(t.adminToken)).json.error.code).toBe("FORBIDDEN");
    expect((await runtime(build.token)).status).toBe(403);
    expect((await t.call("GET", "/v1/build/secrets", { token: live.token })).status).toBe(403);
    expect((await runtime("lbr_nonsense")).status).toBe(401);
    expect((await t.call("GET", "/site/secrets")).status).toBe(401);
  });

  it("answers its errors with Cache-Control: no-store on both endpoints", async () => {
    const live = await mint("runtime", "site-a", "live");
    const refusals = [
      await runtime("lbr_nonsense"),
      await runtime(t.adminToken),
      await t.call("GET", "/site/secrets"),
      await t.call("GET", "/v1/build/secrets", { token: "lbb_nonsense" }),
      await t.call("GET", "/v1/build/secrets", { token: live.token }),
    ];
    expect(refusals.map((r) => [r.status, r.headers["cache-control"]])).toEqual([
      [401, "no-store"],
      [403, "no-store"],
      [401, "no-store"],
      [401, "no-store"],
      [403, "no-store"],
    ]);
    expect((await runtime(live.token)).headers["cache-control"]).toBe("no-cache");
  });

  it("builds environment variables and COMPOSER_AUTH for a build token of dev or a multidev only", async () => {
    await put("/v1/orgs/org-b/secrets/COMPOSER_AUTH", {
      value: JSON.stringify({
        "http-basic": {
          "repo.example.com": { username: "base", password: "base" },
          "other.example.com": { username: "o", password: "p" },
        },
      }),
      type: "env",
      scopes: "ic",
    });
    await put("/v1/sites/site-b/secrets/http-basic.repo.example.com:8080", {
      value: "user:pa:ss",
      type: "composer",
      scopes: "ic",
    });
    await put("/v1/sites/site-b/secrets/http-basic.repo.example.com", {
      value: "site:secret",
      type: "composer",
      scopes: "ic",
    });
    await put("/v1/sites/site-b/secrets/BUILD_FLAG", { value: "yes", type: "env", scopes: "ic" });
    await put("/v1/sites/site-b/secrets/RUNTIME_ONLY", { value: "no", type: "runtime", scopes: "ic,web" });
    const refused = await t.call("POST", "/v1/tokens", {
      ...admin(),
      body: { kind: "build", site: "site-b", env: "live" },
    });
    expect([refused.status, refused.json.error.message]).toEqual([
      422,
      "Integrated Composer builds run only in dev or a multidev environment, never in 'live'.",
    ]);
    const build = await mint("build", "site-b", "dev");
    const response = await t.call("GET", "/v1/build/secrets", { token: build.token });
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      site: "site-b",
      environment: "dev",
      env: { BUILD_FLAG: "yes" },
      composerAuth: {
        "http-basic": {
          "repo.example.com": { username: "site", password: "secret" },
          "repo.example.com:8080": { username: "user", password: "pa:ss" },
          "other.example.com": { username: "o", password: "p" },
        },
      },
    });
    expect(response.json.env).not.toHaveProperty("RUNTIME_ONLY");
    expect(response.json.env).not.toHaveProperty("COMPOSER_AUTH");
  });

  it("records the last use of runtime and build tokens, a 304 included, like a user token's", async () => {
    await t.call("POST", "/v1/sites", { ...admin(), body: { name: "site-usage", org: "org-a" } });
    const live = await mint("runtime", "site-usage", "live");
    const build = await mint("build", "site-usage", "dev");
    const unused = await mint("runtime", "site-usage", "test");
    const user = await t.user("usage@example.com");
    const lastUsed = async (query: string): Promise<Record<string, string | null>> => {
      await t.lockbox.tokenUsage.flush();
      const listed = await t.call("GET", `/v1/tokens?${query}`, admin());
      expect(listed.status, listed.body).toBe(200);
      return Object.fromEntries(
        (listed.json.items as Array<{ id: string; lastUsedAt: string | null }>).map((token) => [
          token.id,
          token.lastUsedAt,
        ]),
      );
    };
    expect(await lastUsed("site=site-usage")).toEqual({
      [live.id]: null,
      [build.id]: null,
      [unused.id]: null,
    });

    const before = Date.now();
    const usedAt = (at: string | null | undefined) => Date.parse(at ?? "");
    const first = await runtime(live.token);
    expect(first.status).toBe(200);
    expect((await t.call("GET", "/v1/build/secrets", { token: build.token })).status).toBe(200);
    expect((await t.call("GET", "/v1/whoami", { token: user.token })).status).toBe(200);
    // A refused read is no use of the token.
    expect((await t.call("GET", "/v1/build/secrets", { token: unused.token })).status).toBe(403);
    const used = await lastUsed("site=site-usage");
    expect(usedAt(used[live.id])).toBeGreaterThanOrEqual(before);
    expect(usedAt(used[build.id])).toBeGreaterThanOrEqual(before);
    expect(used[unused.id]).toBeNull();
    const [userUse] = Object.values(await lastUsed("user=usage@example.com"));
    expect(usedAt(userUse)).toBeGreaterThanOrEqual(before);

    await new Promise((resolve) => setTimeout(resolve, 5));
    const unchanged = await runtime(live.token, { "if-none-match": String(first.headers.etag) });
    expect(unchanged.status).toBe(304);
    const again = await lastUsed("site=site-usage");
    expect(usedAt(again[live.id])).toBeGreaterThan(usedAt(used[live.id]));
    expect(again[build.id]).toBe(used[build.id]);
  });

  it("audits the first delivery of each version to each token, off the request path, and not a 304", async () => {
    const { token, id } = await mint("runtime", "site-b", "test");
    const first = await runtime(token);
    await runtime(token);
    await runtime(token, { "if-none-match": String(first.headers.etag) });
    await t.lockbox.auditWriter.flush();
    const site = (await t.call("GET", "/v1/sites/site-b", admin())).json;
    const events = await t.stores.audit.listAudit({ siteId: site.id, limit: 1000 });
    const deliveries = events.filter((e) => e.action === "runtime.deliver" && e.actor === `token:${id}`);
    expect(deliveries.map((e) => [e.target, e.environment])).toEqual([
      [`site:${site.id}/version:${first.json.Version}`, "test"],
    ]);
  });

  it("answers HEAD with the ETag and no values, which is no delivery; management routes have no HEAD", async () => {
    const { token, id } = await mint("runtime", "site-b", "dev");
    const head = await t.call("HEAD", "/site/secrets", { token });
    expect([head.status, head.body]).toEqual([200, ""]);
    const other = await mint("runtime", "site-b", "dev");
    expect(head.headers.etag).toBe((await runtime(other.token)).headers.etag);
    const listing = await t.call("HEAD", "/v1/sites/site-b/local-secrets", admin());
    expect(listing.status).toBe(404);
    const build = await mint("build", "site-b", "dev");
    expect((await t.call("HEAD", "/v1/build/secrets", { token: build.token })).status).toBe(404);
    await t.lockbox.auditWriter.flush();
    const site = (await t.call("GET", "/v1/sites/site-b", admin())).json;
    const events = await t.stores.audit.listAudit({ siteId: site.id, limit: 1000 });
    // The HEAD delivered nothing; the other token's GET did. The HEAD of the local file decrypted
    // and audited nothing.
    const deliveriesTo = (tokenId: string) =>
      events.filter((e) => e.action === "runtime.deliver" && e.actor === `token:${tokenId}`);
    expect(deliveriesTo(id)).toHaveLength(0);
    expect(deliveriesTo(other.id)).toHaveLength(1);
    expect(events.filter((e) => e.action === "secret.local-generate")).toHaveLength(0);
    expect(
      events.filter((e) => e.action === "build.deliver" && e.actor === `token:${build.id}`),
    ).toHaveLength(0);
  });
});
