import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { createTestApp, listenOnLoopback } from "../testing/test-app.js";
import { sqliteTestDatabase } from "../testing/test-databases.js";

/**
 * A request that arrives while the server shuts down (its headers finished after `close()` began)
 * is answered in the one error shape: 503 UNAVAILABLE with Retry-After, and the connection closed.
 */
describe("a request arriving during shutdown", () => {
  it("gets 503 UNAVAILABLE in the error shape with Retry-After, and the connection closes", async () => {
    const database = sqliteTestDatabase();
    const t = await createTestApp(database);
    try {
      const port = await listenOnLoopback(t.app);
      const paths = ["/v1/whoami", "/site/secrets?wait=60", "/healthz"];
      // Each request's headers are started before shutdown and finished after it began.
      const sockets = await Promise.all(
        paths.map(
          (path) =>
            new Promise<{ socket: ReturnType<typeof connect>; answer: Promise<string> }>((resolve) => {
              const socket = connect(port, "127.0.0.1", () => {
                // A whole request first, so that Node's parser has the connection (not the socket
                // fast path, which holds only the warm runtime read); then the start of the next.
                socket.write(
                  `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.adminToken}\r\n`,
                );
                resolve({ socket, answer });
              });
              let text = "";
              socket.setEncoding("latin1");
              socket.on("data", (chunk: string) => {
                text += chunk;
              });
              const answer = new Promise<string>((done) => socket.on("close", () => done(text)));
            }),
        ),
      );
      // Node has answered the first requests and begun parsing the next ones.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const closed = t.app.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (const { socket } of sockets) socket.write("\r\n");
      for (const { answer } of sockets) {
        const [healthz = "", second = ""] = (await answer).split(/(?=HTTP\/1\.1 )/);
        expect(healthz).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
        const [head = "", body = ""] = second.split("\r\n\r\n");
        expect(head).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
        expect(head.toLowerCase()).toContain("connection: close");
        expect(head.toLowerCase()).toContain("retry-after: 1");
        expect(head.toLowerCase()).toContain("cache-control: no-store");
        expect(JSON.parse(body)).toEqual({
          error: {
            code: "UNAVAILABLE",
            message: "The server is shutting down: retry in 1 s.",
            requestId: expect.any(String),
          },
        });
      }
      await closed;
    } finally {
      await t.close().catch(() => undefined);
      await database.drop();
    }
  });
});
