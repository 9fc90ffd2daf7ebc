import { Agent, request as httpRequest } from "node:http";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawConnection, startTestServer, type TestServer } from "../testing/test-server.js";

/**
 * docs/api.md: a route that takes no body refuses a non-empty one, and a body in an encoding the
 * server does not decode is refused. Over real sockets against the real server, because what
 * matters is what the server reads: such a body must be refused before it is read.
 */

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary JSON bodies.
  readonly json: any;
}

const MIB = 1024 * 1024;

describe("request bodies the server does not read", () => {
  let t: TestServer;
  /** The server side of every connection, to read how many bytes the server took off the wire. */
  const serverSockets: Socket[] = [];

  /** One request (over its own connection unless an agent is given); a body is sent with its Content-Length. */
  const send = (
    method: string,
    path: string,
    options: { body?: string; headers?: Record<string, string>; agent?: Agent } = {},
  ): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const request = httpRequest(
        {
          host: "127.0.0.1",
          port: t.port,
          method,
          path,
          agent: options.agent ?? false,
          headers: {
            authorization: `Bearer ${t.adminToken}`,
            // Node's client sends a GET or DELETE body without a length unless it is given one.
            ...(options.body !== undefined
              ? {
                  "content-type": "application/json",
                  "content-length": String(Buffer.byteLength(options.body)),
                }
              : {}),
            ...options.headers,
          },
        },
        (response) => {
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => {
            text += chunk;
          });
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              json: text ? JSON.parse(text) : undefined,
            }),
          );
        },
      );
      request.on("error", reject);
      request.end(options.body);
    });

  const orgNames = async (): Promise<string[]> =>
    (await send("GET", "/v1/orgs")).json.items.map((org: { name: string }) => org.name);

  beforeAll(async () => {
    t = await startTestServer();
    t.server.app.server.on("connection", (socket: Socket) => serverSockets.push(socket));
    for (const name of ["acme", "empty"]) {
      expect((await send("POST", "/v1/orgs", { body: JSON.stringify({ name }) })).status).toBe(201);
    }
    const site = await send("POST", "/v1/sites", { body: JSON.stringify({ name: "shop", org: "acme" }) });
    expect(site.status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("refuses a JSON body on GET /v1/whoami with 400 in the error shape and closes the connection", async () => {
    const answer = await send("GET", "/v1/whoami", { body: JSON.stringify({ admin: true }) });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({
      error: {
        code: "BAD_REQUEST",
        message:
          "GET /v1/whoami takes no request body: send it without one (no Content-Length or Transfer-Encoding).",
        requestId: expect.any(String),
      },
    });
    expect(answer.headers.connection).toBe("close");
    // Without a body, the same request still answers.
    expect((await send("GET", "/v1/whoami")).status).toBe(200);
  });

  it("refuses an empty JSON object on DELETE /v1/orgs/:org, deleting nothing", async () => {
    expect(await orgNames()).toContain("empty");
    const answer = await send("DELETE", "/v1/orgs/empty", { body: "{}" });
    expect(answer.status).toBe(400);
    expect(answer.json.error.message).toBe(
      "DELETE /v1/orgs/:org takes no request body: send it without one (no Content-Length or Transfer-Encoding).",
    );
    expect(await orgNames()).toContain("empty");
  });

  it("refuses a body on the machine endpoints, a PUT without a body, health and unknown routes", async () => {
    const cases: Array<[string, string, number]> = [
      ["GET", "/site/secrets", 400],
      ["GET", "/v1/build/secrets", 400],
      ["GET", "/healthz", 400],
      ["HEAD", "/healthz", 400],
      ["PUT", "/v1/sites/shop/team/admin@localhost", 400],
      ["GET", "/v1/nope", 404],
    ];
    for (const [method, path, status] of cases) {
      const answer = await send(method, path, { body: '{"a":1}' });
      expect(answer.status, `${method} ${path}`).toBe(status);
      expect(answer.headers.connection, `${method} ${path}`).toBe("close");
    }
  });

  it("answers a 20 MB chunked GET with 400 before the client has sent it, having read at most 1 MiB", async () => {
    const connection = await rawConnection(t.port);
    const server = serverSockets.at(-1);
    connection.socket.write(
      `GET /v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t.adminToken}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    // Stream 20 MiB in 64 KiB chunks, as fast as the connection takes them, until it closes.
    const chunk = Buffer.alloc(64 * 1024, "a");
    const frame = Buffer.concat([
      Buffer.from(`${chunk.length.toString(16)}\r\n`),
      chunk,
      Buffer.from("\r\n"),
    ]);
    let sent = 0;
    while (sent < 20 * MIB && !connection.isClosed()) {
      const flushed = connection.socket.write(frame);
      sent += chunk.length;
      if (!flushed) {
        await Promise.race([
          new Promise((resolve) => connection.socket.once("drain", resolve)),
          connection.closed,
        ]);
      }
    }
    if (!connection.isClosed()) connection.socket.end("0\r\n\r\n");
    await connection.closed;
    const answer = connection.received();
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer.toLowerCase()).toContain("connection: close");
    expect(answer).toContain('"code":"BAD_REQUEST"');
    // The client could hand the kernel a few MiB before the close reached it; the server read
    // one buffer of them (64 KiB here; all 20 MiB before the fix).
    expect(sent).toBeLessThan(20 * MIB);
    expect(server?.bytesRead).toBeLessThan(MIB);
  });

  it("refuses a body with Content-Encoding: gzip with 415, storing nothing", async () => {
    const answer = await send("PUT", "/v1/sites/shop/secrets/API_KEY", {
      body: JSON.stringify({ value: "plain-not-gzip" }),
      headers: { "content-encoding": "gzip" },
    });
    expect(answer.status).toBe(415);
    expect(answer.json).toEqual({
      error: {
        code: "UNSUPPORTED_MEDIA_TYPE",
        message:
          "Content-Encoding 'gzip' is not supported: send the body uncompressed, without a Content-Encoding header.",
        requestId: expect.any(String),
      },
    });
    expect(answer.headers.connection).toBe("close");
    for (const encoding of ["deflate", "br", "identity, gzip"]) {
      const other = await send("PUT", "/v1/sites/shop/secrets/API_KEY", {
        body: JSON.stringify({ value: "plain" }),
        headers: { "content-encoding": encoding },
      });
      expect(other.status, encoding).toBe(415);
    }
    const listing = await send("GET", "/v1/sites/shop/secrets");
    expect(listing.json.items).toEqual([]);
  });

  it("accepts Content-Encoding: identity, and keeps a connection alive after a normal request", async () => {
    const answer = await send("PUT", "/v1/sites/shop/secrets/API_KEY", {
      body: JSON.stringify({ value: "plain" }),
      headers: { "content-encoding": "Identity" },
    });
    expect(answer.status).toBe(201);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const whoami = await send("GET", "/v1/whoami", { headers: { "content-length": "0" }, agent });
      expect(whoami.status).toBe(200);
      expect(whoami.headers.connection).toBe("keep-alive");
      const opened = serverSockets.length;
      expect((await send("GET", "/v1/whoami", { agent })).status).toBe(200);
      expect(serverSockets.length).toBe(opened);
    } finally {
      agent.destroy();
    }
  });
});
