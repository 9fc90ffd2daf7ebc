import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { errorBody, FakeLockboxServer } from "../testing/fake-lockbox-server.js";
import { runCli } from "../testing/test-io.js";

const TOKEN = `lbx_${"k".repeat(43)}`;
const SECRET = `lbs_${"S".repeat(43)}`;

let server: FakeLockboxServer;

beforeEach(async () => {
  server = await FakeLockboxServer.start();
});
afterEach(async () => {
  await server.close();
});

describe("lockbox ui", () => {
  it("prints the dashboard's sign-in link alone on stdout, the secret after '#', never in the query", async () => {
    server.on("POST", "/v1/ui/links", () => ({
      status: 201,
      body: { secret: SECRET, expiresAt: "2026-12-01T20:05:00.000Z" },
    }));
    const result = await runCli(["ui"], { env: { LOCKBOX_URL: `${server.url}/`, LOCKBOX_TOKEN: TOKEN } });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${server.url}/ui/#signin=${SECRET}\n`);
    expect(result.stderr).toContain("works once, until 2026-12-01T20:05:00.000Z");
    expect(server.requests.map((request) => `${request.method} ${request.rawPath}`)).toEqual([
      "POST /v1/ui/links",
    ]);
  });

  it("says what the server said when it refuses, and prints no link", async () => {
    server.on("POST", "/v1/ui/links", () => ({
      status: 401,
      body: errorBody("UNAUTHENTICATED", "The token is invalid, expired or revoked."),
    }));
    const result = await runCli(["ui"], { env: { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: TOKEN } });
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("The token is invalid, expired or revoked.");
  });
});
