import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, listenOnLoopback, type TestApp } from "../testing/test-app.js";
import { sqliteTestDatabase, type TestDatabase } from "../testing/test-databases.js";
import { rawConnection } from "../testing/test-server.js";

/**
 * A blocking read whose client goes away while its set is still being read (a cold read awaits the
 * store, for long after an org-wide change) holds no place among the held reads: its `close` came
 * before the read was held, and no connection is left to end it.
 */
describe("a blocking read whose client left before it was held", () => {
  let database: TestDatabase;
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    database = sqliteTestDatabase();
    t = await createTestApp(database);
    port = await listenOnLoopback(t.app);
  });
  afterAll(async () => {
    await t?.close();
    await database?.drop();
  });

  const held = async () => {
    const metrics = await t.call("GET", "/metrics");
    return Number(/^lockbox_held_requests (\d+)$/m.exec(metrics.body)?.[1]);
  };

  it("is not held: the gauge stays at 0 and the cap keeps its room", async () => {
    const admin = { token: t.adminToken };
    await t.call("POST", "/v1/orgs", { ...admin, body: { name: "gone-org" } });
    await t.call("POST", "/v1/sites", { ...admin, body: { name: "gone-site", org: "gone-org" } });
    await t.call("PUT", "/v1/sites/gone-site/secrets/K", { ...admin, body: { value: "v", scopes: "web" } });
    const minted = await t.call("POST", "/v1/tokens", {
      ...admin,
      body: { kind: "runtime", site: "gone-site", env: "dev" },
    });
    const token = minted.json.token as string;
    const etag = String((await t.call("GET", "/site/secrets", { token })).headers.etag);

    // The set is read slowly, as a cold read under load is.
    const delivery = t.lockbox.delivery;
    const runtimeSet = delivery.runtimeSet.bind(delivery);
    delivery.runtimeSet = async (identity) => {
      await sleep(300);
      return runtimeSet(identity);
    };
    try {
      const connection = await rawConnection(port);
      connection.socket.write(
        `GET /site/secrets?wait=30 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nIf-None-Match: ${etag}\r\n\r\n`,
      );
      await sleep(100);
      connection.socket.resetAndDestroy();
      await connection.closed;
      await sleep(500);
    } finally {
      delivery.runtimeSet = runtimeSet;
    }
    expect(await held()).toBe(0);
  });
});
