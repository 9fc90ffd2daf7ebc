import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../testing/test-app.js";
import { sqliteTestDatabase, type TestDatabase } from "../testing/test-databases.js";

/**
 * A token revoked while its blocking read is being authenticated (the store read had answered, the
 * revocation's change arrived before the read was held) still ends the read at once with 401, not
 * when its wait runs out.
 */
describe("a blocking read whose token is revoked while it is authenticated", () => {
  let database: TestDatabase;
  let t: TestApp;

  beforeAll(async () => {
    database = sqliteTestDatabase();
    t = await createTestApp(database);
  });
  afterAll(async () => {
    await t?.close();
    await database?.drop();
  });

  it("ends with 401 at once", async () => {
    const admin = { token: t.adminToken };
    await t.call("POST", "/v1/orgs", { ...admin, body: { name: "rev-org" } });
    await t.call("POST", "/v1/sites", { ...admin, body: { name: "rev-site", org: "rev-org" } });
    await t.call("PUT", "/v1/sites/rev-site/secrets/K", { ...admin, body: { value: "v", scopes: "web" } });
    const minted = await t.call("POST", "/v1/tokens", {
      ...admin,
      body: { kind: "runtime", site: "rev-site", env: "dev" },
    });
    const { token, id } = minted.json as { token: string; id: string };
    const etag = String((await t.call("GET", "/site/secrets", { token })).headers.etag);

    const delivery = t.lockbox.delivery;
    const identify = delivery.identify.bind(delivery);
    let revokeOnce = true;
    delivery.identify = async (...args) => {
      const identity = await identify(...args);
      if (revokeOnce) {
        revokeOnce = false;
        const revoked = await t.call("DELETE", `/v1/tokens/${id}`, admin);
        expect(revoked.status).toBe(204);
      }
      return identity;
    };
    try {
      const started = performance.now();
      const read = await t.call("GET", "/site/secrets?wait=5", { token, headers: { "if-none-match": etag } });
      expect(read.status).toBe(401);
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      delivery.identify = identify;
    }
  }, 15_000);
});
