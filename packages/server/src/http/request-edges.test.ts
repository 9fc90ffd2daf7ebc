import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, listenOnLoopback, type TestApp } from "../testing/test-app.js";
import { sqliteTestDatabase, type TestDatabase } from "../testing/test-databases.js";
import { rawRequest } from "../testing/test-server.js";

/** The status line's code, the headers (lower-cased names) and the body of a raw answer. */
function parseAnswer(answer: string): { status: number; headers: Map<string, string>; body: string } {
  const [head = "", body = ""] = answer.split("\r\n\r\n");
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers = new Map(
    lines.map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
    }),
  );
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

/** What clients send at the edges of HTTP: repeated credentials, empty bodies, unknown routes. */
describe("requests at the edges of HTTP", () => {
  let database: TestDatabase;
  let t: TestApp;
  let port: number;
  let runtimeToken: string;
  let bob: { email: string; token: string };
  beforeAll(async () => {
    database = sqliteTestDatabase();
    t = await createTestApp(database);
    port = await listenOnLoopback(t.app);
    const admin = { token: t.adminToken };
    expect((await t.call("POST", "/v1/orgs", { ...admin, body: { name: "edge-org" } })).status).toBe(201);
    const site = await t.call("POST", "/v1/sites", {
      ...admin,
      body: { name: "edge-site", org: "edge-org" },
    });
    expect(site.status).toBe(201);
    await t.call("PUT", "/v1/sites/edge-site/secrets/K", { ...admin, body: { value: "v" } });
    const minted = await t.call("POST", "/v1/tokens", {
      ...admin,
      body: { kind: "runtime", site: "edge-site", env: "dev" },
    });
    runtimeToken = (minted.json as { token: string }).token;
    bob = await t.user("bob@example.com");
  });
  afterAll(async () => {
    await t.close();
    await database.drop();
  });

  it("refuses two Authorization headers with 400, whichever comes first, on the management API", async () => {
    for (const [first, second] of [
      [t.adminToken, bob.token],
      [bob.token, t.adminToken],
      [t.adminToken, t.adminToken],
    ]) {
      const answer = parseAnswer(
        await rawRequest(
          port,
          `GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${first}\r\nauthorization: Bearer ${second}\r\nConnection: close\r\n\r\n`,
        ),
      );
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body).error).toMatchObject({
        code: "BAD_REQUEST",
        message:
          "The request has more than one Authorization header: send exactly one, 'Authorization: Bearer <token>'.",
      });
    }
    const one = await rawRequest(
      port,
      `GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${bob.token}\r\nConnection: close\r\n\r\n`,
    );
    expect(parseAnswer(one).status).toBe(200);
  });

  it("refuses two Authorization headers on the runtime read, warm (the fast path) or not", async () => {
    const single = `GET /site/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${runtimeToken}\r\nConnection: close\r\n\r\n`;
    expect(parseAnswer(await rawRequest(port, single)).status).toBe(200);
    expect(parseAnswer(await rawRequest(port, single)).status).toBe(200); // warm now
    const twice = parseAnswer(
      await rawRequest(
        port,
        `GET /site/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${runtimeToken}\r\nAuthorization: Bearer lbr_other\r\nConnection: close\r\n\r\n`,
      ),
    );
    expect(twice.status).toBe(400);
    expect(twice.body).not.toContain('"K"');
    expect(twice.headers.get("cache-control")).toBe("no-store");
  });

  it.each([
    ["an unknown route", "GET /v1/nonexistent", 404],
    ["OPTIONS", "OPTIONS /v1/whoami", 404],
    ["a path that is not UTF-8", "GET /v1/sites/%ff", 400],
    ["an unknown route outside /v1", "GET /nope", 404],
  ])("answers %s with Cache-Control: no-store", async (_, requestLine, status) => {
    const answer = parseAnswer(
      await rawRequest(
        port,
        `${requestLine} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.adminToken}\r\nConnection: close\r\n\r\n`,
      ),
    );
    expect(answer.status).toBe(status);
    expect(answer.headers.get("cache-control")).toBe("no-store");
  });

  it("answers a request its parser refuses with Cache-Control: no-store too", async () => {
    const answer = parseAnswer(await rawRequest(port, "GARBAGE\r\n\r\n"));
    expect(answer.status).toBe(400);
    expect(answer.headers.get("cache-control")).toBe("no-store");
  });

  it("takes an empty body sent with Content-Type: application/json as no body on a route that takes none", async () => {
    const json = { "content-type": "application/json" };
    const admin = { token: t.adminToken, headers: json };
    const created = await t.call("POST", "/v1/tokens", {
      token: t.adminToken,
      body: { kind: "runtime", site: "edge-site", env: "test" },
    });
    const id = (created.json as { id: string }).id;
    const deleted = await t.app.inject({
      method: "DELETE",
      url: `/v1/tokens/${id}`,
      headers: { authorization: `Bearer ${t.adminToken}`, ...json, "content-length": "0" },
    });
    expect(deleted.statusCode).toBe(204);
    const whoami = await t.app.inject({
      method: "POST",
      url: "/v1/ui/links",
      headers: { authorization: `Bearer ${bob.token}`, ...json },
      payload: "",
    });
    expect(whoami.statusCode).toBe(201);
    // A route that takes a body says what is missing.
    const empty = await t.call("POST", "/v1/orgs", admin);
    expect(empty.status).toBe(400);
    expect(empty.json.error.message).toBe("The request body is empty: send a JSON object.");
  });
});
