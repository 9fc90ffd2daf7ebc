import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestApp, listenOnLoopback, type TestApp } from "../testing/test-app.js";
import { sqliteTestDatabase, type TestDatabase } from "../testing/test-databases.js";
import { rawConnection } from "../testing/test-server.js";

/**
 * The warm runtime read answered on the connection (socket-fast-path.ts), ahead of Node's HTTP code.
 * The reference for every answer is Node's own: the same bytes sent in two reads (the first byte,
 * then the rest) reach Node's parser, since this path takes only a request that arrives whole, so
 * each request below is answered both ways and the answers must be the same bytes, `Date` aside.
 */
describe("the runtime read answered on the connection", () => {
  let database: TestDatabase;
  let t: TestApp;
  let port: number;
  let token: string;
  let etag: string;

  beforeAll(async () => {
    database = sqliteTestDatabase();
    t = await createTestApp(database);
    port = await listenOnLoopback(t.app);
    const admin = { token: t.adminToken };
    await t.call("POST", "/v1/orgs", { ...admin, body: { name: "sock-org" } });
    await t.call("POST", "/v1/sites", { ...admin, body: { name: "sock-site", org: "sock-org" } });
    await t.call("PUT", "/v1/sites/sock-site/secrets/SOCK", {
      ...admin,
      body: { value: "sock-value", scopes: "web" },
    });
    const minted = await t.call("POST", "/v1/tokens", {
      ...admin,
      body: { kind: "runtime", site: "sock-site", env: "live" },
    });
    token = minted.json.token as string;
    // The first read resolves and caches the set: from then on it is warm.
    etag = String((await t.call("GET", "/site/secrets", { token })).headers.etag);
  });
  afterAll(async () => {
    await t?.close();
    await database?.drop();
  });

  /** Sends `parts` one after the other (a pause between them), half-closes, reads until the server closes. */
  const exchange = (parts: readonly string[]) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      socket.setNoDelay(true);
      let answer = "";
      socket.setEncoding("latin1");
      socket.on("data", (chunk: string) => {
        answer += chunk;
      });
      socket.on("close", () => resolve(answer));
      socket.on("error", reject);
      socket.once("connect", async () => {
        for (const [i, part] of parts.entries()) {
          if (i > 0) await sleep(30);
          socket.write(part, "latin1");
        }
        socket.end();
      });
    });
  /**
   * The request whole, in one write; and the same bytes as Node's parser gets them. With how many
   * requests Node's server saw each way (its `request` event; none for a request answered here).
   */
  const bothWays = async (request: string) => {
    let seen = 0;
    const count = () => {
      seen += 1;
    };
    t.app.server.on("request", count);
    try {
      const whole = await exchange([request]);
      const seenWhole = seen;
      const node = await exchange([request.slice(0, 1), request.slice(1)]);
      return {
        whole: withoutDate(whole),
        node: withoutDate(node),
        requests: { whole: seenWhole, node: seen - seenWhole },
        date: /\r\nDate: ([^\r]*)/.exec(whole)?.[1],
      };
    } finally {
      t.app.server.off("request", count);
    }
  };
  /** An answer without what differs from one request to the next: its date and request id. */
  const withoutDate = (answer: string) =>
    answer.replace(/\r\nDate: [^\r]*/g, "\r\nDate: -").replace(/"requestId":"[^"]*"/g, '"requestId":"-"');
  const get = (headers: string) => `GET /site/secrets HTTP/1.1\r\nHost: x\r\n${headers}\r\n`;
  const auth = () => `Authorization: Bearer ${token}\r\n`;

  it("answers a warm read and its 304 with the bytes Node writes, and counts them in the route's metrics", async () => {
    const answered = vi.spyOn(t.lockbox.delivery, "cachedRuntimeRead");
    try {
      const ok = await bothWays(get(auth()));
      expect(ok.whole).toBe(ok.node);
      expect(ok.requests).toEqual({ whole: 0, node: 1 });
      expect(ok.date).toBe(new Date(Date.parse(ok.date ?? "")).toUTCString());
      expect(ok.whole).toMatch(/^HTTP\/1\.1 200 OK\r\ncache-control: no-cache\r\netag: "[0-9a-f]+"\r\n/);
      expect(ok.whole).toContain('"Value":"sock-value"');
      for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
        const notModified = await bothWays(get(`${auth()}If-None-Match: ${ifNoneMatch}\r\n`));
        expect([ifNoneMatch, notModified.whole]).toEqual([ifNoneMatch, notModified.node]);
        expect(notModified.requests).toEqual({ whole: 0, node: 1 });
        expect(notModified.whole).toMatch(/^HTTP\/1\.1 304 Not Modified\r\n/);
      }
      // Both ways went through the warm read (the whole request on the connection, the split one
      // ahead of Fastify): 2 + 2 × 4.
      expect(answered).toHaveBeenCalledTimes(10);
    } finally {
      answered.mockRestore();
    }
    const metrics = (await t.call("GET", "/metrics")).body;
    expect(metrics).toMatch(
      /^lockbox_http_requests_total\{method="GET",route="\/site\/secrets",status="304"\} 8$/m,
    );
  });

  it("leaves every other request to Node, which answers it as it would have", async () => {
    const cases: Array<[string, string]> = [
      ["no token", get("")],
      ["an unknown token", get("Authorization: Bearer lbr_unknown\r\n")],
      ["two Authorization headers", get(`${auth()}${auth()}`)],
      ["a user token", get(`Authorization: Bearer ${t.adminToken}\r\n`)],
      ["no Host", `GET /site/secrets HTTP/1.1\r\n${auth()}\r\n`],
      ["HTTP/1.0", `GET /site/secrets HTTP/1.0\r\nHost: x\r\n${auth()}\r\n`],
      ["HEAD", `HEAD /site/secrets HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`],
      ["a lower-case method", `get /site/secrets HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`],
      ["a query", `GET /site/secrets?x=1 HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`],
      ["a blocking read", `GET /site/secrets?wait=0 HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`],
      ["an absolute URL", `GET http://x/site/secrets HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`],
      ["another path", `GET /site/secrets/ HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`],
      ["Connection: close", get(`${auth()}Connection: close\r\n`)],
      ["Connection: keep-alive", get(`${auth()}Connection: keep-alive\r\n`)],
      ["Connection: upgrade", get(`${auth()}Connection: upgrade\r\nUpgrade: websocket\r\n`)],
      // Node's parser reads Proxy-Connection as it reads Connection.
      ["Proxy-Connection: close", get(`${auth()}Proxy-Connection: close\r\n`)],
      ["Expect: 100-continue", get(`${auth()}Expect: 100-continue\r\n`)],
      ["Expect: bogus", get(`${auth()}Expect: bogus\r\n`)],
      ["Content-Length: 0", get(`${auth()}Content-Length: 0\r\n`)],
      ["a body", `${get(`${auth()}Content-Length: 2\r\nContent-Type: application/json\r\n`)}{}`],
      ["chunked", `${get(`${auth()}Transfer-Encoding: chunked\r\n`)}0\r\n\r\n`],
      ["Content-Encoding: gzip", get(`${auth()}Content-Encoding: gzip\r\n`)],
      ["a folded header", get(`${auth()}X-Folded: a\r\n b\r\n`)],
      ["a blank before the colon", get(`${auth()}X-Blank : a\r\n`)],
      ["a byte past ASCII", get(`${auth()}X-Latin: caf\u00e9\r\n`)],
      ["a bare LF", get(`${auth()}X-A: a\nX-B: b\r\n`)],
      ["a NUL", get(`${auth()}X-Nul: a\u0000b\r\n`)],
      ["a repeated header", get(`${auth()}X-Same: 1\r\nX-Same: 2\r\n`)],
      ["a head past 16 KiB", get(`${auth()}X-Long: ${"a".repeat(17 * 1024)}\r\n`)],
      ["garbage", "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003\r\n\r\n"],
    ];
    for (const [what, request] of cases) {
      const { whole, node } = await bothWays(request);
      expect([what, whole]).toEqual([what, node]);
    }
  });

  it("reads a head in time linear in its length, however its blanks fall", async () => {
    // A header line's blanks can be read as leading or trailing in many ways: a head of 8 KiB of
    // them, before a byte that fails the line, must cost no more than 8 KiB of letters does.
    const timed = async (line: string) => {
      const started = performance.now();
      for (let i = 0; i < 20; i++) await exchange([get(`${line}\r\n`)]);
      return performance.now() - started;
    };
    const letters = await timed(`X-Pad: ${"a".repeat(8000)}\u0001`);
    const blanks = await timed(`X-Pad:${"\t".repeat(8000)}\u0001`);
    expect(blanks).toBeLessThan(letters * 3 + 100);
  });

  it("answers pipelined requests in order, handing the connection to Node at the first it does not answer", async () => {
    const fast = get(auth());
    const request = `${fast}${fast}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n${fast}${get(`${auth()}If-None-Match: ${etag}\r\n`)}`;
    const { whole, node, requests } = await bothWays(request);
    expect(whole).toBe(node);
    // The first two here; the health check and the two after it, Node's.
    expect(requests).toEqual({ whole: 3, node: 5 });
    const statuses = [...whole.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((match) => match[1]);
    expect(statuses).toEqual(["200", "200", "200", "200", "304"]);
    expect(whole).toContain('{"status":"ok"}');
  });

  it("answers a client that sends faster than it reads: every request, in order", async () => {
    const count = 2000;
    const connection = await rawConnection(port);
    connection.socket.pause();
    connection.socket.write(get(auth()).repeat(count));
    await sleep(200);
    connection.socket.resume();
    await vi.waitFor(() => expect(connection.received().split("HTTP/1.1 200 OK").length - 1).toBe(count), {
      timeout: 10_000,
    });
    connection.socket.destroy();
  });

  it("closes an idle connection after the server's keep-alive timeout, as Node does", async () => {
    const before = t.app.server.keepAliveTimeout;
    t.app.server.keepAliveTimeout = 300;
    /** Milliseconds from the answer to the server's close, the request sent in `parts`. */
    const idleFor = async (parts: readonly string[]) => {
      const connection = await rawConnection(port);
      for (const [i, part] of parts.entries()) {
        if (i > 0) await sleep(30);
        connection.socket.write(part);
      }
      await vi.waitFor(() => expect(connection.received()).toContain("Keep-Alive: timeout=0\r\n"));
      const answered = Date.now();
      await connection.closed;
      return Date.now() - answered;
    };
    try {
      const request = get(auth());
      const [whole, node] = await Promise.all([
        idleFor([request]),
        idleFor([request.slice(0, 1), request.slice(1)]),
      ]);
      // Node keeps the connection a second past the timeout it advertises (its keep-alive buffer),
      // so that a client reusing it just inside that timeout does not meet a closing connection.
      expect(node).toBeGreaterThanOrEqual(1000);
      expect(whole).toBeGreaterThanOrEqual(1000);
      expect(Math.abs(whole - node)).toBeLessThan(500);
    } finally {
      t.app.server.keepAliveTimeout = before;
    }
  });
});

describe("a server closing with connections the runtime read holds", () => {
  it("closes them at once instead of waiting out their keep-alive", async () => {
    const database = sqliteTestDatabase();
    const t = await createTestApp(database);
    try {
      const port = await listenOnLoopback(t.app);
      const admin = { token: t.adminToken };
      await t.call("POST", "/v1/orgs", { ...admin, body: { name: "close-org" } });
      await t.call("POST", "/v1/sites", { ...admin, body: { name: "close-site", org: "close-org" } });
      const minted = await t.call("POST", "/v1/tokens", {
        ...admin,
        body: { kind: "runtime", site: "close-site", env: "live" },
      });
      const token = minted.json.token as string;
      await t.call("GET", "/site/secrets", { token });
      const connection = await rawConnection(port);
      connection.socket.write(
        `GET /site/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`,
      );
      await vi.waitFor(() => expect(connection.received()).toContain("HTTP/1.1 200 OK"));
      const started = Date.now();
      await t.close();
      await connection.closed;
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await t.close().catch(() => {});
      await database.drop();
    }
  });

  it("does not wait for a client that does not read its answers", async () => {
    const database = sqliteTestDatabase();
    const t = await createTestApp(database);
    let client: Socket | undefined;
    try {
      const port = await listenOnLoopback(t.app);
      const admin = { token: t.adminToken };
      await t.call("POST", "/v1/orgs", { ...admin, body: { name: "stall-org" } });
      await t.call("POST", "/v1/sites", { ...admin, body: { name: "stall-site", org: "stall-org" } });
      for (const name of ["A", "B", "C", "D", "E", "F", "G", "H"]) {
        await t.call("PUT", `/v1/sites/stall-site/secrets/BIG_${name}`, {
          ...admin,
          body: { value: name.repeat(16_000), scopes: "web" },
        });
      }
      const minted = await t.call("POST", "/v1/tokens", {
        ...admin,
        body: { kind: "runtime", site: "stall-site", env: "live" },
      });
      const token = minted.json.token as string;
      await t.call("GET", "/site/secrets", { token });
      const held = new Promise<Socket>((resolve) => t.app.server.once("connection", resolve));
      const connection = await rawConnection(port);
      client = connection.socket;
      client.pause();
      const server = await held;
      // Whole requests, each sent once the one before is answered, until the kernel's buffers are
      // full and an answer waits in the socket's own: the connection is still held here (the next
      // request would go to Node, which pauses a client that does not read).
      let seen = 0;
      t.app.server.on("request", () => {
        seen += 1;
      });
      for (let i = 0; i < 500 && server.writableLength === 0; i++) {
        const written = server.bytesWritten;
        client.write(`GET /site/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
        await vi.waitFor(() => expect(server.bytesWritten).toBeGreaterThan(written));
      }
      expect(server.writableLength).toBeGreaterThan(0);
      expect(seen).toBe(0);
      const closed = t.close().then(() => "closed");
      // Node's close destroys an idle connection whose answer is not yet written; so does this path.
      expect(await Promise.race([closed, sleep(5000).then(() => "waiting")])).toBe("closed");
    } finally {
      client?.destroy();
      await t.close().catch(() => {});
      await database.drop();
    }
  }, 15_000);
});
