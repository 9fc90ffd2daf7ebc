import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Lockbox } from "../lockbox.js";
import { runServer } from "../run-server.js";
import { sqliteTestDatabase, type TestDatabase } from "../testing/test-databases.js";
import { createTestLockbox } from "../testing/test-lockbox.js";
import {
  type RawConnection,
  rawConnection,
  startTestServer,
  type TestServer,
} from "../testing/test-server.js";
import { buildApp } from "./app.js";

/**
 * Slow and idle clients cannot hold the server: `--request-timeout` bounds the time to send a
 * request and `--max-connections` the connections open at once. Real sockets against the real
 * server, with a 1 s timeout so that the tests take seconds.
 */

/** Resolves once every connection is closed, or after `ms`; says which are still open. */
async function stillOpenAfter(connections: readonly RawConnection[], ms: number): Promise<number> {
  await Promise.race([Promise.all(connections.map((c) => c.closed)), sleep(ms)]);
  return connections.filter((c) => !c.isClosed()).length;
}

/** Sends one byte of body on each open connection every `ms`, until stopped. */
function trickle(connections: readonly RawConnection[], ms: number): () => void {
  const timer = setInterval(() => {
    for (const c of connections) if (!c.isClosed()) c.socket.write("a");
  }, ms);
  return () => clearInterval(timer);
}

/** The status line of each answer a connection received (a body may run into the next answer). */
const statusLines = (c: RawConnection) => c.received().match(/HTTP\/1\.1 \d{3} [^\r]*/g) ?? [];

describe("--request-timeout=1 on the real server", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ requestTimeout: "1" });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("closes connections whose body trickles in, authenticated or not, once the timeout passes", async () => {
    const connections = await Promise.all(Array.from({ length: 20 }, () => rawConnection(t.port)));
    connections.forEach((c, i) => {
      // The last one is authenticated as the platform admin.
      const auth = i === connections.length - 1 ? `Authorization: Bearer ${t.adminToken}\r\n` : "";
      c.socket.write(
        `POST /v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`,
      );
    });
    const stop = trickle(connections, 200);
    try {
      // 1 s of timeout, Node's check every 250 ms, and room for a loaded machine.
      expect(await stillOpenAfter(connections, 6000)).toBe(0);
    } finally {
      stop();
    }
    for (const c of connections) {
      expect(statusLines(c)).toEqual(["HTTP/1.1 400 Bad Request"]);
      expect(c.received()).toContain("The request did not arrive in time.");
    }
  });

  it("closes a connection that sends nothing at all once the timeout passes", async () => {
    const silent = await rawConnection(t.port);
    expect(await stillOpenAfter([silent], 6000)).toBe(0);
  });

  it("closes a connection whose headers trickle in once the timeout passes", async () => {
    const slow = await rawConnection(t.port);
    slow.socket.write("GET /v1/whoami HTTP/1.1\r\nX-Slow: ");
    const stop = trickle([slow], 200);
    try {
      expect(await stillOpenAfter([slow], 6000)).toBe(0);
    } finally {
      stop();
    }
  });

  it("accepts a body sent in pieces within the timeout", async () => {
    const body = JSON.stringify({ name: "slow-but-fine" });
    const c = await rawConnection(t.port);
    c.socket.write(
      `POST /v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t.adminToken}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    for (const piece of [body.slice(0, 5), body.slice(5, 10), body.slice(10)]) {
      await sleep(150);
      c.socket.write(piece);
    }
    await c.closed;
    expect(statusLines(c)).toEqual(["HTTP/1.1 201 Created"]);
  });

  it("keeps an idle kept-alive connection open past the timeout and serves its next request", async () => {
    const c = await rawConnection(t.port);
    const get = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    c.socket.write(get);
    await sleep(2500);
    expect(c.isClosed()).toBe(false);
    c.socket.write(get);
    for (let waited = 0; statusLines(c).length < 2 && waited < 3000; waited += 50) await sleep(50);
    expect(statusLines(c)).toEqual(["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]);
    expect(c.isClosed()).toBe(false);
    c.socket.destroy();
  });
});

describe("the request timeout ends when the request has arrived", () => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  let app: FastifyInstance;
  let port: number;
  beforeAll(async () => {
    database = sqliteTestDatabase();
    lockbox = await createTestLockbox(database);
    app = await buildApp(lockbox, { limits: { requestTimeoutMs: 1000 } });
    // A route that holds its answer, as a long poll (`GET /site/secrets?wait=`) would.
    app.get("/test/hold", async () => {
      await sleep(2500);
      return { held: true };
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    port = typeof address === "object" && address !== null ? address.port : 0;
  });
  afterAll(async () => {
    await app?.close();
    await lockbox?.close();
    await database?.drop();
  });

  it("lets the server take longer than the timeout to answer", async () => {
    const response = await fetch(`http://127.0.0.1:${port}/test/hold`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ held: true });
  });
});

describe("--max-connections=3 on the real server", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ maxConnections: "3" });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("closes a connection over the cap at once, and accepts again once one closes", async () => {
    const held = await Promise.all([1, 2, 3].map(() => rawConnection(t.port)));
    // Let the server count them before the next one arrives.
    await sleep(200);
    const over = await rawConnection(t.port);
    over.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect(await stillOpenAfter([over], 2000)).toBe(0);
    expect(over.received()).toBe("");
    expect(held.filter((c) => c.isClosed())).toEqual([]);

    held[0]?.socket.destroy();
    await held[0]?.closed;
    await sleep(200);
    const response = await fetch(`http://127.0.0.1:${t.port}/healthz`, { headers: { connection: "close" } });
    expect(response.status).toBe(200);
    for (const c of held) c.socket.destroy();
  });
});

describe("--max-connections-per-address=2 on the real server", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ maxConnectionsPerAddress: "2" });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("closes a third connection from one address at once, before reading it, and accepts again once one closes", async () => {
    const held = await Promise.all([1, 2].map(() => rawConnection(t.port)));
    await sleep(200);
    const over = await rawConnection(t.port);
    over.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect(await stillOpenAfter([over], 2000)).toBe(0);
    expect(over.received()).toBe("");
    expect(held.filter((c) => c.isClosed())).toEqual([]);
    // The connections under the cap still work.
    held[1]?.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await sleep(300);
    expect(statusLines(held[1] as RawConnection)).toEqual(["HTTP/1.1 200 OK"]);

    held[0]?.socket.destroy();
    await held[0]?.closed;
    await sleep(200);
    const response = await fetch(`http://127.0.0.1:${t.port}/healthz`, { headers: { connection: "close" } });
    expect(response.status).toBe(200);
    for (const c of held) c.socket.destroy();
  });
});

describe("--trust-proxy without --max-connections-per-address on the real server", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ trustProxy: true });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("has no per-address cap: every connection comes from the proxy", async () => {
    const connections = await Promise.all(Array.from({ length: 300 }, () => rawConnection(t.port)));
    await sleep(300);
    expect(connections.filter((c) => c.isClosed())).toEqual([]);
    for (const c of connections) c.socket.destroy();
  });
});

describe("server:start's --request-timeout and --max-connections flags", () => {
  const run = async (flags: {
    requestTimeout?: string;
    maxConnections?: string;
    maxConnectionsPerAddress?: string;
  }) => {
    let stderr = "";
    const sink = (write: (text: string) => void) =>
      new Writable({
        write(chunk, _encoding, done) {
          write(String(chunk));
          done();
        },
      });
    const code = await runServer(
      { db: "/nonexistent/never-opened.db", ...flags },
      {
        stdout: sink(() => {}),
        stderr: sink((text) => {
          stderr += text;
        }),
        env: {},
      },
    );
    return { code, stderr };
  };

  it.each([
    [{ requestTimeout: "abc" }, "Invalid --request-timeout 'abc': use seconds from 0 (no timeout) to 86400"],
    [{ requestTimeout: "-1" }, "Invalid --request-timeout '-1'"],
    [{ requestTimeout: "86401" }, "Invalid --request-timeout '86401'"],
    [
      { maxConnections: "1.5" },
      "Invalid --max-connections '1.5': use a whole number, for example 1000, or 0 for no cap.",
    ],
    [{ maxConnections: "-3" }, "Invalid --max-connections '-3'"],
    [
      { maxConnectionsPerAddress: "many" },
      "Invalid --max-connections-per-address 'many': use a whole number, for example 256, or 0 for no cap.",
    ],
  ])("refuses %o as a usage error (exit 2) before opening anything", async (flags, message) => {
    const { code, stderr } = await run(flags);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });
});
