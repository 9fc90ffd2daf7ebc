import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../server.js";
import { callServer } from "../testing/server-calls.js";
import { postgresAvailable, postgresTestDatabase, type TestDatabase } from "../testing/test-databases.js";
import { randomMasterKey } from "../testing/test-lockbox.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `GET /site/secrets?wait=` against real servers: two on one PostgreSQL database (a change on one
 * wakes the reads held on the other through LISTEN/NOTIFY), over real HTTP.
 */
describe.skipIf(!(await postgresAvailable()))("blocking reads (two servers on PostgreSQL)", () => {
  let database: TestDatabase;
  let a: RunningServer;
  /** Holds at most two reads, and gives a client one second to send a request. */
  let b: RunningServer;
  let admin: string;
  let token: string;
  let tokenId: string;

  const api = async (server: RunningServer, method: string, path: string, body?: unknown) => {
    const answer = await callServer(server, method, path, admin, body);
    expect(answer.status, `${method} ${path}: ${answer.text}`).toBeLessThan(300);
    return answer.json;
  };
  const read = async (
    server: RunningServer,
    query = "",
    headers: Record<string, string> = {},
    options: { token?: string; signal?: AbortSignal } = {},
  ) => {
    const started = performance.now();
    const response = await fetch(`${server.url}/site/secrets${query}`, {
      headers: { authorization: `Bearer ${options.token ?? token}`, ...headers },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      json: text ? JSON.parse(text) : undefined,
      endedAt: performance.now(),
      ms: performance.now() - started,
    };
  };
  const etagNow = async () => (await read(a)).headers.get("etag") as string;
  const held = async (server: RunningServer) =>
    Number(/^lockbox_held_requests (\d+)$/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1]);
  /** Waits until `server` holds `count` reads, so a write cannot come before the read is held. */
  const untilHeld = async (server: RunningServer, count: number) => {
    const deadline = Date.now() + 5000;
    while ((await held(server)) !== count) {
      if (Date.now() > deadline) throw new Error(`the server never held ${count} read(s)`);
      await sleep(10);
    }
  };
  /** Holds a read on `on`, writes with `write` once it is held, and says how long the answer took after the write. */
  const answerAfterWrite = async (on: RunningServer, write: () => Promise<unknown>) => {
    const etag = await etagNow();
    const holding = read(on, "?wait=30", { "if-none-match": etag });
    await untilHeld(on, 1);
    await write();
    const writtenAt = performance.now();
    const answer = await holding;
    expect(answer.status).toBe(200);
    expect(answer.headers.get("etag")).not.toBe(etag);
    return { answer, afterWriteMs: answer.endedAt - writtenAt };
  };

  beforeAll(async () => {
    database = await postgresTestDatabase();
    const env = { LOCKBOX_MASTER_KEY: randomMasterKey() };
    a = await startServer({ db: database.location, host: "127.0.0.1", port: 0, env });
    b = await startServer({
      db: database.location,
      host: "127.0.0.1",
      port: 0,
      env,
      maxHeldRequests: 2,
      requestTimeout: 1,
    });
    if (!a.bootstrap.created || !a.bootstrap.token)
      throw new Error("the test server did not create its admin");
    admin = a.bootstrap.token;
    await api(a, "POST", "/v1/orgs", { name: "org-w" });
    await api(a, "POST", "/v1/sites", { name: "site-w", org: "org-w" });
    await api(a, "PUT", "/v1/sites/site-w/secrets/API_KEY", { value: "v0", scopes: "web" });
    const minted = await api(a, "POST", "/v1/tokens", { kind: "runtime", site: "site-w", env: "live" });
    token = minted.token;
    tokenId = minted.id;
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await database?.drop();
  });

  it("refuses a wait that is not a whole number of seconds from 0 to 300, with 400 naming the fix", async () => {
    for (const wait of ["abc", "-1", "1.5", "301", "1e2", "", "1&wait=2", " 5"]) {
      const response = await read(a, `?wait=${wait}`);
      expect([wait, response.status]).toEqual([wait, 400]);
      expect(response.json.error.message).toMatch(/wait .*whole number of seconds from 0 to 300/);
    }
    expect((await read(a, "?wait=0")).status).toBe(200);
  });

  it("answers at once when If-None-Match is absent or names another Version", async () => {
    const fresh = await read(a, "?wait=30");
    expect(fresh.status).toBe(200);
    expect(fresh.ms).toBeLessThan(1000);
    const stale = await read(a, "?wait=30", { "if-none-match": '"an-older-version"' });
    expect(stale.status).toBe(200);
    expect(stale.json.Secrets.API_KEY.Value).toBe("v0");
    expect(stale.ms).toBeLessThan(1000);
  });

  /**
   * The median of five writes: the claim is about the mechanism (a notification, not a timer), and
   * one scheduling hiccup on a loaded two-core machine must not decide it. Every one is printed.
   */
  const medianAfterWrite = async (reader: typeof a, label: string) => {
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const value = `${label}-${i}`;
      const { answer, afterWriteMs } = await answerAfterWrite(reader, () =>
        api(a, "PUT", "/v1/sites/site-w/secrets/API_KEY", { value, scopes: "web" }),
      );
      expect(answer.json.Secrets.API_KEY.Value).toBe(value);
      delays.push(afterWriteMs);
    }
    console.log(
      `held read answered ${delays.map((ms) => ms.toFixed(1)).join(", ")} ms after the write's answer (${label})`,
    );
    return [...delays].sort((x, y) => x - y)[2] as number;
  };

  it("answers a held read within 100 ms of a write on the same server", async () => {
    expect(await medianAfterWrite(a, "same-server")).toBeLessThan(100);
    expect(await held(a)).toBe(0);
  });

  it("answers a held read within 100 ms of a write on another server", async () => {
    expect(await medianAfterWrite(b, "other-server")).toBeLessThan(100);
  });

  it("wakes a site's held read when an org secret changes", async () => {
    const { answer } = await answerAfterWrite(b, () =>
      api(a, "PUT", "/v1/orgs/org-w/secrets/ORG_WIDE", { value: "org-value", scopes: "web" }),
    );
    expect(answer.json.Secrets.ORG_WIDE.Value).toBe("org-value");
  });

  it("keeps holding through a change that leaves the set as it was", async () => {
    const etag = await etagNow();
    const holding = read(a, "?wait=1", { "if-none-match": etag });
    await untilHeld(a, 1);
    // Another site's change, and a token of this site minted: the set stays the same.
    await api(a, "POST", "/v1/sites", { name: "site-other", org: "org-w" });
    await api(a, "POST", "/v1/tokens", { kind: "runtime", site: "site-w", env: "dev" });
    expect((await holding).status).toBe(304);
  });

  it("answers 304 with the current ETag when the wait ends, even past the request timeout", async () => {
    const etag = await etagNow();
    // b gives a client 1 s to send its request: holding the answer longer is not a timeout.
    const answer = await read(b, "?wait=2", { "if-none-match": etag });
    expect(answer.status).toBe(304);
    expect(answer.headers.get("etag")).toBe(etag);
    expect(answer.ms).toBeGreaterThanOrEqual(1900);
    expect(answer.ms).toBeLessThan(3500);
    expect(await held(b)).toBe(0);
  });

  it("over --max-held-requests answers 304 with Retry-After at once", async () => {
    const etag = await etagNow();
    const first = read(b, "?wait=2", { "if-none-match": etag });
    const second = read(b, "?wait=2", { "if-none-match": etag });
    await untilHeld(b, 2);
    const third = await read(b, "?wait=30", { "if-none-match": etag });
    expect(third.status).toBe(304);
    expect(third.headers.get("retry-after")).toBe("5");
    expect(third.ms).toBeLessThan(500);
    expect((await first).status).toBe(304);
    expect((await second).status).toBe(304);
  });

  it("forgets a held read whose client goes away", async () => {
    const controller = new AbortController();
    const holding = read(a, "?wait=30", { "if-none-match": await etagNow() }, { signal: controller.signal });
    await untilHeld(a, 1);
    controller.abort();
    await expect(holding).rejects.toThrow();
    await untilHeld(a, 0);
  });

  it("ends a revoked token's held read with 401, on another server", async () => {
    const etag = await etagNow();
    const holding = read(b, "?wait=30", { "if-none-match": etag });
    await untilHeld(b, 1);
    await api(a, "DELETE", `/v1/tokens/${tokenId}`);
    const revokedAt = performance.now();
    const answer = await holding;
    expect(answer.status).toBe(401);
    expect(answer.endedAt - revokedAt).toBeLessThan(1000);
    expect(answer.text).not.toContain("other-server");
  });

  it("answers every held read 304 at once when the server closes", async () => {
    const minted = await api(a, "POST", "/v1/tokens", { kind: "runtime", site: "site-w", env: "live" });
    const etag = (await read(b, "", {}, { token: minted.token })).headers.get("etag") as string;
    const holding = read(b, "?wait=60", { "if-none-match": etag }, { token: minted.token });
    await untilHeld(b, 1);
    const closing = b.close();
    const closingAt = performance.now();
    const answer = await holding;
    expect(answer.status).toBe(304);
    expect(answer.endedAt - closingAt).toBeLessThan(500);
    await closing;
    // The held read's connection is not left open until the keep-alive timeout.
    expect(performance.now() - closingAt).toBeLessThan(5000);
  });
});
