import { MAX_IMPORT_ENTRIES } from "@lockbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../testing/test-app.js";
import { contractDatabases } from "../testing/test-databases.js";

/** Every value sent here holds this marker: it must never come back in an answer or a log line. */
const MARK = "QZIMPORTMARK";

/** `POST …/secrets/import` over HTTP: its bounds, its access rules, and values kept out of answers and logs. */
describe.each(await contractDatabases())("POST …/secrets/import ($name)", ({ create }) => {
  let t: TestApp;
  let drop: () => Promise<void>;
  const admin = () => ({ token: t.adminToken });

  beforeAll(async () => {
    const database = await create();
    drop = () => database.drop();
    t = await createTestApp(database);
    await t.call("POST", "/v1/orgs", { ...admin(), body: { name: "acme" } });
    await t.call("POST", "/v1/sites", { ...admin(), body: { name: "shop", org: "acme" } });
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it(`refuses more than ${MAX_IMPORT_ENTRIES} entries and a __proto__ name with 400, writing nothing`, async () => {
    const many = Object.fromEntries(
      Array.from({ length: MAX_IMPORT_ENTRIES + 1 }, (_, i) => [`K${i}`, `${MARK}${i}`]),
    );
    const tooMany = await t.call("POST", "/v1/sites/shop/secrets/import", {
      ...admin(),
      body: { secrets: many },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error.message).toContain(`more than ${MAX_IMPORT_ENTRIES} secrets`);
    const proto = await t.call("POST", "/v1/sites/shop/secrets/import", {
      ...admin(),
      body: `{"secrets": {"__proto__": "${MARK}", "A": "${MARK}"}}`,
      headers: { "content-type": "application/json" },
    });
    expect(proto.status).toBe(400);
    expect(proto.json.error.message).toContain("__proto__");
    const listed = await t.call("GET", "/v1/sites/shop/secrets", admin());
    expect(listed.json.items).toEqual([]);
    expect(tooMany.body + proto.body).not.toContain(MARK);
  });

  it("lets only an org's admins import its secrets, and anyone who manages a site import the site's", async () => {
    const member = await t.user("member@example.com");
    await t.call("PUT", "/v1/orgs/acme/members/member@example.com", { ...admin(), body: { role: "member" } });
    const body = { secrets: { SHARED: `${MARK}-org` } };
    const refused = await t.call("POST", "/v1/orgs/acme/secrets/import", { token: member.token, body });
    expect(refused.status).toBe(403);
    const stranger = await t.user("stranger@example.com");
    const hidden = await t.call("POST", "/v1/sites/shop/secrets/import", { token: stranger.token, body });
    expect(hidden.status).toBe(404);
    const site = await t.call("POST", "/v1/sites/shop/secrets/import", { token: member.token, body });
    expect(site.status).toBe(200);
    expect(site.json).toEqual({
      plan: [{ name: "SHARED", action: "create" }],
      applied: true,
      notes: ["Applications will not see 'SHARED': it has no web scope."],
    });
  });

  it("answers a refused plan with 200 and applied false, without values, and logs none", async () => {
    const response = await t.call("POST", "/v1/sites/shop/secrets/import", {
      ...admin(),
      body: { type: "env", secrets: { "1BAD": `${MARK}-a`, GOOD: `${MARK}-b` } },
    });
    expect(response.status).toBe(200);
    expect(response.json.applied).toBe(false);
    expect(response.json.plan.map((entry: { action: string }) => entry.action)).toEqual([
      "refused",
      "create",
    ]);
    expect(response.body).not.toContain(MARK);
    expect(t.logs.join("\n")).not.toContain(MARK);
  });

  it("gives runtimes the imported set at once (the change drops their cached set)", async () => {
    const minted = await t.call("POST", "/v1/tokens", {
      ...admin(),
      body: { kind: "runtime", site: "shop", env: "live" },
    });
    const runtime = { token: minted.json.token as string };
    const before = await t.call("GET", "/site/secrets", runtime);
    expect(before.json.Secrets.RUNTIME_SEEN).toBeUndefined();
    const imported = await t.call("POST", "/v1/sites/shop/secrets/import", {
      ...admin(),
      body: { scopes: "web,user", secrets: { RUNTIME_SEEN: `${MARK}-runtime` } },
    });
    expect(imported.json.applied).toBe(true);
    const after = await t.call("GET", "/site/secrets", runtime);
    expect(after.json.Secrets.RUNTIME_SEEN?.Value).toBe(`${MARK}-runtime`);
    expect(after.json.Version).not.toBe(before.json.Version);
  });
});
