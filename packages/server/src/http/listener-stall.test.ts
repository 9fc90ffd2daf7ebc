import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../server.js";
import { type OwnPostgres, startOwnPostgres } from "../testing/own-postgres.js";
import { callServer, listenerPids, waitForListeners } from "../testing/server-calls.js";
import { randomMasterKey } from "../testing/test-lockbox.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Never the shared PostgreSQL: this suite stops (SIGSTOP) backends of a server of its own. */
const postgres: OwnPostgres | undefined = await startOwnPostgres();

/**
 * A LISTEN connection that stalls without dropping (a NAT or firewall that forgets it, a backend
 * that stops answering) raises no error and no end: without a check, the server would go on
 * trusting its caches, serving a revoked token and old values for as long as the stall lasts.
 */
describe.skipIf(!postgres)("a stalled change listener (a real backend stopped with SIGSTOP)", () => {
  let a: RunningServer;
  let b: RunningServer;
  let admin: string;

  const call = callServer;
  const pids = () => listenerPids(postgres?.url ?? "");
  const waitForListenersUp = (count: number, old: readonly number[] = []) =>
    waitForListeners(postgres?.url ?? "", count, old);

  beforeAll(async () => {
    if (!postgres) return;
    const options = {
      db: postgres.url,
      host: "127.0.0.1",
      port: 0,
      rateLimit: "0",
      env: { LOCKBOX_MASTER_KEY: randomMasterKey() },
    };
    a = await startServer(options);
    b = await startServer(options);
    if (!a.bootstrap.created || !a.bootstrap.token) throw new Error("the new store had an admin already");
    admin = a.bootstrap.token;
    expect((await call(a, "POST", "/v1/orgs", admin, { name: "acme" })).status).toBe(201);
    expect((await call(a, "POST", "/v1/sites", admin, { name: "shop", org: "acme" })).status).toBe(201);
    expect(
      (await call(a, "PUT", "/v1/sites/shop/secrets/API_KEY", admin, { value: "v1", scopes: "web" })).status,
    ).toBeLessThan(300);
    await waitForListenersUp(2);
  }, 60_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await postgres?.destroy();
  }, 60_000);

  it("stops trusting its caches within seconds: a token revoked and a value changed on another server take effect", async () => {
    const minted = await call(a, "POST", "/v1/tokens", admin, { kind: "runtime", site: "shop", env: "live" });
    const token = minted.json.token as string;
    const other = (await call(a, "POST", "/v1/tokens", admin, { kind: "runtime", site: "shop", env: "live" }))
      .json.token as string;
    // Server b caches both tokens and the set.
    expect((await call(b, "GET", "/site/secrets", token)).json.Secrets.API_KEY.Value).toBe("v1");
    expect((await call(b, "GET", "/site/secrets", other)).json.Secrets.API_KEY.Value).toBe("v1");

    const stopped = await pids();
    expect(stopped).toHaveLength(2);
    for (const pid of stopped) process.kill(pid, "SIGSTOP");
    try {
      // Written on a: b hears nothing of it while its listener is stalled.
      expect((await call(a, "DELETE", `/v1/tokens/${minted.json.id}`, admin)).status).toBe(204);
      expect(
        (await call(a, "PUT", "/v1/sites/shop/secrets/API_KEY", admin, { value: "v2" })).status,
      ).toBeLessThan(300);
      const started = Date.now();
      let revoked = 0;
      let value = "";
      while (Date.now() - started < 10_000) {
        revoked = (await call(b, "GET", "/site/secrets", token)).status;
        value = (await call(b, "GET", "/site/secrets", other)).json?.Secrets?.API_KEY?.Value;
        if (revoked === 401 && value === "v2") break;
        await sleep(50);
      }
      const tookMs = Date.now() - started;
      expect({ revoked, value }).toEqual({ revoked: 401, value: "v2" });
      // A check each second, late after one more: about two seconds; four leave room for a busy machine.
      expect(tookMs).toBeLessThan(4000);
    } finally {
      for (const pid of stopped) process.kill(pid, "SIGCONT");
    }
    // Both listen again on new connections, and b hears the next change from a.
    await waitForListenersUp(2, stopped);
    expect(
      (await call(a, "PUT", "/v1/sites/shop/secrets/API_KEY", admin, { value: "v3" })).status,
    ).toBeLessThan(300);
    const deadline = Date.now() + 5000;
    let seen = "";
    while (Date.now() < deadline && seen !== "v3") {
      seen = (await call(b, "GET", "/site/secrets", other)).json.Secrets.API_KEY.Value;
      if (seen !== "v3") await sleep(20);
    }
    expect(seen).toBe("v3");
    expect((await call(b, "GET", "/site/secrets", token)).status).toBe(401);
  }, 60_000);
});
