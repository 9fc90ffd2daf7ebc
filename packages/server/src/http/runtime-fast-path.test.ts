import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { inject } from "light-my-request";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestApp, type TestApp } from "../testing/test-app.js";
import { contractDatabases } from "../testing/test-databases.js";
import { runtimeFastPath, warmRuntimeRead } from "./runtime-fast-path.js";

/**
 * The runtime fast path (runtime-fast-path.ts) answers exactly what the Fastify route answers, and
 * only the warm case: everything else reaches the route untouched.
 */
describe.each(await contractDatabases())("the runtime fast path ($name)", ({ create }) => {
  let t: TestApp;
  let drop: () => Promise<void>;
  let runtimeToken: string;
  let buildToken: string;
  const admin = () => ({ token: t.adminToken });

  /** A request into the fast path, then (when it declines) Fastify: whether the fast path answered. */
  const viaFastPath = async (options: {
    method?: string;
    url?: string;
    headers?: Record<string, string>;
    body?: string;
    behindTrustedProxy?: boolean;
  }) => {
    const fastPath = runtimeFastPath(
      warmRuntimeRead({
        delivery: t.lockbox.delivery,
        usage: t.lockbox.tokenUsage,
        metrics: t.app.metrics.route("GET", "/site/secrets"),
        behindTrustedProxy: options.behindTrustedProxy ?? false,
      }),
    );
    let answered = false;
    const response = await inject(
      (request: IncomingMessage, reply: ServerResponse) => {
        answered = fastPath(request, reply);
        if (!answered) t.app.routing(request, reply);
      },
      {
        method: (options.method ?? "GET") as "GET",
        url: options.url ?? "/site/secrets",
        headers: options.headers ?? {},
        ...(options.body !== undefined ? { payload: options.body } : {}),
      },
    );
    return { answered, response };
  };
  /** The same request into Fastify alone (the route, as before the fast path). */
  const viaFastify = (headers: Record<string, string>) =>
    t.app.inject({ method: "GET", url: "/site/secrets", headers });
  const withoutDate = (headers: Record<string, unknown>) => {
    const { date: _date, ...rest } = headers;
    return rest;
  };

  beforeAll(async () => {
    const database = await create();
    drop = () => database.drop();
    t = await createTestApp(database);
    await t.call("POST", "/v1/orgs", { ...admin(), body: { name: "org-f" } });
    await t.call("POST", "/v1/sites", { ...admin(), body: { name: "site-f", org: "org-f" } });
    await t.call("PUT", "/v1/sites/site-f/secrets/FAST", {
      ...admin(),
      body: { value: "fast-value", scopes: "web" },
    });
    const mint = async (kind: string, env: string) =>
      (await t.call("POST", "/v1/tokens", { ...admin(), body: { kind, site: "site-f", env } })).json
        .token as string;
    runtimeToken = await mint("runtime", "live");
    buildToken = await mint("build", "dev");
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it("answers a warm read and its 304 with the route's status, headers and body", async () => {
    const auth = { authorization: `Bearer ${runtimeToken}` };
    const cold = await viaFastPath({ headers: auth });
    // The first read resolves the set: the route's, which caches it.
    expect([cold.answered, cold.response.statusCode]).toEqual([false, 200]);
    const warm = await viaFastPath({ headers: auth });
    const route = await viaFastify(auth);
    expect(warm.answered).toBe(true);
    expect(warm.response.statusCode).toBe(200);
    expect(warm.response.body).toBe(route.body);
    expect(warm.response.json().Secrets.FAST.Value).toBe("fast-value");
    expect(withoutDate(warm.response.headers)).toEqual(withoutDate(route.headers));

    const etag = String(route.headers.etag);
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const headers = { ...auth, "if-none-match": ifNoneMatch };
      const fast = await viaFastPath({ headers });
      const fastify = await viaFastify(headers);
      expect([ifNoneMatch, fast.answered, fast.response.statusCode, fast.response.body]).toEqual([
        ifNoneMatch,
        true,
        304,
        "",
      ]);
      expect(withoutDate(fast.response.headers)).toEqual(withoutDate(fastify.headers));
    }
    const stale = await viaFastPath({ headers: { ...auth, "if-none-match": '"other"' } });
    expect([stale.answered, stale.response.statusCode, stale.response.body]).toEqual([true, 200, route.body]);
  });

  it("leaves everything but a warm plain GET to the route", async () => {
    const auth = { authorization: `Bearer ${runtimeToken}` };
    await viaFastPath({ headers: auth });
    const cases: Array<[string, Parameters<typeof viaFastPath>[0], number]> = [
      ["no token", { headers: {} }, 401],
      ["unknown token", { headers: { authorization: "Bearer lbr_unknown" } }, 401],
      ["a user token", { headers: { authorization: `Bearer ${t.adminToken}` } }, 403],
      ["a build token", { headers: { authorization: `Bearer ${buildToken}` } }, 403],
      ["a query", { url: "/site/secrets?x=1", headers: auth }, 200],
      ["a blocking read", { url: "/site/secrets?wait=0", headers: auth }, 200],
      ["a bad wait", { url: "/site/secrets?wait=x", headers: auth }, 400],
      ["HEAD", { method: "HEAD", headers: auth }, 200],
      ["a body", { headers: { ...auth, "content-type": "application/json" }, body: "{}" }, 400],
      ["an encoding", { headers: { ...auth, "content-encoding": "gzip" } }, 415],
      ["another path", { url: "/site/secrets/", headers: auth }, 404],
    ];
    for (const [what, request, status] of cases) {
      const { answered, response } = await viaFastPath(request);
      expect([what, answered, response.statusCode]).toEqual([what, false, status]);
    }
    // The 401 without a token says where an application's token comes from, not only a person's.
    const none = await t.call("GET", "/site/secrets");
    expect([none.status, none.json.error.message]).toEqual([
      401,
      expect.stringContaining("token:runtime:create"),
    ]);
    // A build token whose identity is cached (it was used) is still the route's 403.
    await t.call("GET", "/v1/build/secrets", { token: buildToken });
    const build = await viaFastPath({ headers: { authorization: `Bearer ${buildToken}` } });
    expect([build.answered, build.response.statusCode]).toEqual([false, 403]);
  });

  it("stops answering at once when a write or a revocation makes its memory stale", async () => {
    const auth = { authorization: `Bearer ${runtimeToken}` };
    await viaFastPath({ headers: auth });
    await t.call("PUT", "/v1/sites/site-f/secrets/FAST", { ...admin(), body: { value: "fast-value-2" } });
    const changed = await viaFastPath({ headers: auth });
    expect([changed.answered, changed.response.json().Secrets.FAST.Value]).toEqual([false, "fast-value-2"]);
    expect((await viaFastPath({ headers: auth })).answered).toBe(true);

    const other = (
      await t.call("POST", "/v1/tokens", {
        ...admin(),
        body: { kind: "runtime", site: "site-f", env: "live" },
      })
    ).json as { token: string; id: string };
    const otherAuth = { authorization: `Bearer ${other.token}` };
    await viaFastPath({ headers: otherAuth });
    expect((await viaFastPath({ headers: otherAuth })).answered).toBe(true);
    expect((await t.call("DELETE", `/v1/tokens/${other.id}`, admin())).status).toBe(204);
    const revoked = await viaFastPath({ headers: otherAuth });
    expect([revoked.answered, revoked.response.statusCode]).toEqual([false, 401]);
  });

  it("counts in the route's metrics, records the token's use and audits a first delivery once", async () => {
    const minted = (
      await t.call("POST", "/v1/tokens", {
        ...admin(),
        body: { kind: "runtime", site: "site-f", env: "dev" },
      })
    ).json as { token: string; id: string };
    const auth = { authorization: `Bearer ${minted.token}` };
    const metricsLine = async () =>
      (await t.call("GET", "/metrics")).body
        .split("\n")
        .find((line) =>
          line.startsWith('lockbox_http_requests_total{method="GET",route="/site/secrets",status="304"}'),
        );
    const before = Number((await metricsLine())?.split(" ").pop() ?? 0);
    const record = vi.spyOn(t.lockbox.tokenUsage, "record");
    const recordDelivery = vi.spyOn(t.lockbox.delivery, "recordDelivery");
    try {
      const first = await viaFastPath({ headers: auth });
      const etag = String(first.response.headers.etag);
      const second = await viaFastPath({
        headers: { ...auth, "x-request-id": "fast-1" },
        behindTrustedProxy: true,
      });
      const notModified = await viaFastPath({ headers: { ...auth, "if-none-match": etag } });
      // Without --trust-proxy, the client does not choose its request id.
      const third = await viaFastPath({ headers: { ...auth, "x-request-id": "fast-2" } });
      expect([first.answered, second.answered, notModified.answered, third.answered]).toEqual([
        false,
        true,
        true,
        true,
      ]);
      expect(record.mock.calls).toEqual([[minted.id], [minted.id], [minted.id], [minted.id]]);
      // The 304 delivers nothing: three calls, the second with the proxy's request id.
      const requestIds = recordDelivery.mock.calls.map(([, , id]) => (typeof id === "string" ? id : id()));
      expect(requestIds).toEqual([expect.any(String), "fast-1", expect.stringMatching(/^[0-9a-f-]{36}$/)]);
      expect(Number((await metricsLine())?.split(" ").pop())).toBe(before + 1);
    } finally {
      record.mockRestore();
      recordDelivery.mockRestore();
    }
  });

  it("runs ahead of Fastify on the app's own server", async () => {
    const address = await t.app.listen({ host: "127.0.0.1", port: 0 });
    expect(address).toMatch(/^http:/);
    const { port } = t.app.server.address() as AddressInfo;
    const cachedRead = vi.spyOn(t.lockbox.delivery, "cachedRuntimeRead");
    try {
      const get = () =>
        fetch(`http://127.0.0.1:${port}/site/secrets`, {
          headers: { authorization: `Bearer ${runtimeToken}` },
        });
      const first = await get();
      const second = await get();
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(await second.text()).toBe(await first.text());
      expect(cachedRead).toHaveBeenCalledTimes(2);
    } finally {
      cachedRead.mockRestore();
    }
  });
});
