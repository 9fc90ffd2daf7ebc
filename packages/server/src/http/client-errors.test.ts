import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, listenOnLoopback, type TestApp } from "../testing/test-app.js";
import { sqliteTestDatabase, type TestDatabase } from "../testing/test-databases.js";
import { rawRequest } from "../testing/test-server.js";

/** `answer` is a 400 in the single error shape with `message`, on a connection the server closes. */
function expectClosingBadRequest(answer: string, message: unknown): void {
  const [head = "", body = ""] = answer.split("\r\n\r\n");
  expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  expect(head.toLowerCase()).toContain("connection: close");
  expect(JSON.parse(body)).toEqual({
    error: { code: "BAD_REQUEST", message, requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) },
  });
}

describe("requests Node's HTTP parser refuses", () => {
  let database: TestDatabase;
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    database = sqliteTestDatabase();
    t = await createTestApp(database);
    port = await listenOnLoopback(t.app);
  });
  afterAll(async () => {
    await t.close();
    await database.drop();
  });

  it.each([
    ["a garbage request line", "GARBAGE\r\n\r\n", "The request is not valid HTTP/1.1."],
    [
      "a non-numeric Content-Length",
      "POST /v1/orgs HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "The request is not valid HTTP/1.1.",
    ],
    [
      "both Content-Length and chunked",
      "POST /v1/orgs HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "The request is not valid HTTP/1.1.",
    ],
    [
      "a 70,000-character path",
      `GET /v1/sites/${"a".repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      "The request line and headers are larger than 16 KiB.",
    ],
  ])("answers %s with 400 in the single error shape", async (_, bytes, message) => {
    const answer = await rawRequest(port, bytes);
    const [head = "", body = ""] = answer.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(head).toContain("Content-Type: application/json; charset=utf-8");
    expect(JSON.parse(body)).toEqual({
      error: { code: "BAD_REQUEST", message, requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) },
    });
  });

  it("refuses an HTTP/1.1 request without a Host header with 400 in the error shape, and closes", async () => {
    for (const request of [
      "GET /healthz HTTP/1.1\r\n\r\n",
      "GET /site/secrets HTTP/1.1\r\nAuthorization: Bearer lbr_x\r\n\r\n",
      "GET /v1/nope HTTP/1.1\r\n\r\n",
      // A kept-alive connection is closed too: the second request is never answered.
      "GET /healthz HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    ]) {
      expectClosingBadRequest(
        await rawRequest(port, request),
        "An HTTP/1.1 request needs a Host header: send 'Host: <server name>[:<port>]'.",
      );
    }
    // HTTP/1.0 has no Host requirement.
    const old = await rawRequest(port, "GET /healthz HTTP/1.0\r\n\r\n");
    expect(old).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it("refuses an expectation other than 100-continue with 400 in the error shape, and closes", async () => {
    for (const request of [
      "GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\n\r\n",
      "GET /site/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer lbr_x\r\nExpect: 200-ok\r\n\r\n",
      // Its body is not read as a second request on the connection.
      "POST /v1/orgs HTTP/1.1\r\nHost: x\r\nExpect: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\r\n",
    ]) {
      const answer = await rawRequest(port, request);
      expect(answer.match(/HTTP\/1\.1 /g)).toHaveLength(1);
      expectClosingBadRequest(
        answer,
        expect.stringMatching(
          /^The Expect header '[^']+' is not supported: send 'Expect: 100-continue' or none\.$/,
        ),
      );
    }
  });

  it("keeps serving afterwards", async () => {
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });
});
