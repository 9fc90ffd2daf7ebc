import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../testing/test-app.js";
import { contractDatabases } from "../testing/test-databases.js";

/**
 * The history and rollback routes over HTTP: paging newest first with `before`, values only when
 * asked (and only with the `user` scope), the status codes of a refused rollback, and bad input
 * answered 400 without a change.
 */
describe.each(await contractDatabases())("secret history routes ($name)", ({ create }) => {
  let t: TestApp;
  let drop: () => Promise<void>;
  let admin: { token: string };

  beforeAll(async () => {
    const database = await create();
    drop = () => database.drop();
    t = await createTestApp(database);
    admin = { token: t.adminToken };
    await t.call("POST", "/v1/orgs", { ...admin, body: { name: "acme" } });
    await t.call("POST", "/v1/sites", { ...admin, body: { name: "shop", org: "acme" } });
    for (let i = 1; i <= 5; i++) {
      const set = await t.call("PUT", "/v1/sites/shop/secrets/KEY", {
        ...admin,
        body: { value: `value-${i}`, scopes: "web,user" },
      });
      expect(set.status).toBeLessThan(300);
    }
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it("pages newest first with ?limit= and ?before=<next>, values only with ?values=true", async () => {
    const first = await t.call("GET", "/v1/sites/shop/secrets/KEY/versions?limit=2", admin);
    expect(first.status).toBe(200);
    expect(first.json).toEqual({
      items: [
        { version: 5, at: expect.any(String), actor: expect.any(String), action: "set" },
        { version: 4, at: expect.any(String), actor: expect.any(String), action: "set" },
      ],
      next: "4",
    });
    const seen: number[] = [];
    let before: string | null = null;
    do {
      const page = await t.call(
        "GET",
        `/v1/sites/shop/secrets/KEY/versions?limit=2&values=true${before ? `&before=${before}` : ""}`,
        admin,
      );
      seen.push(
        ...page.json.items.map((v: { version: number; value: string }) => {
          expect(v.value).toBe(`value-${v.version}`);
          return v.version;
        }),
      );
      before = page.json.next;
    } while (before !== null);
    expect(seen).toEqual([5, 4, 3, 2, 1]);
  });

  it("refuses a rollback to a delete version (409) and to a missing one (404), and bad input (400), changing nothing", async () => {
    await t.call("PUT", "/v1/sites/shop/secrets/KEY/envs/live", { ...admin, body: { value: "live" } });
    await t.call("DELETE", "/v1/sites/shop/secrets/KEY/envs/live", admin);
    const toDelete = await t.call("POST", "/v1/sites/shop/secrets/KEY/rollback", {
      ...admin,
      body: { env: "live", to: 2 },
    });
    expect(toDelete.status).toBe(409);
    expect(toDelete.json.error.message).toContain("is a delete and holds no value");
    const missing = await t.call("POST", "/v1/sites/shop/secrets/KEY/rollback", {
      ...admin,
      body: { to: 99 },
    });
    expect(missing.status).toBe(404);
    for (const body of [{ to: 0 }, { to: "1" }, { to: 1, extra: true }, {}]) {
      expect((await t.call("POST", "/v1/sites/shop/secrets/KEY/rollback", { ...admin, body })).status).toBe(
        400,
      );
    }
    expect((await t.call("GET", "/v1/sites/shop/secrets/KEY/versions?before=0", admin)).status).toBe(400);
    const after = await t.call("GET", "/v1/sites/shop/secrets/KEY/versions?limit=1", admin);
    expect(after.json.items[0]).toMatchObject({ version: 5, action: "set" });

    const rolled = await t.call("POST", "/v1/sites/shop/secrets/KEY/rollback", { ...admin, body: { to: 2 } });
    expect(rolled.status).toBe(200);
    expect(rolled.json).toEqual({
      message: "Secret rolled back.",
      name: "KEY",
      env: null,
      version: 6,
      from: 2,
    });
  });
});
