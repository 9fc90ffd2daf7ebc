import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeLockboxServer } from "../testing/fake-lockbox-server.js";
import { runCli } from "../testing/test-io.js";
import { parseSince } from "./audit.js";

const TOKEN = `lbx_${"a".repeat(43)}`;

let server: FakeLockboxServer;
let env: Record<string, string>;

beforeEach(async () => {
  server = await FakeLockboxServer.start();
  env = { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: TOKEN };
});

afterEach(async () => {
  await server.close();
});

describe("parseSince", () => {
  const now = new Date("2026-11-20T12:00:00.000Z");

  it("turns an age into an ISO time before now", () => {
    expect(parseSince("24h", now)).toBe("2026-11-19T12:00:00.000Z");
    expect(parseSince("7d", now)).toBe("2026-11-13T12:00:00.000Z");
    expect(parseSince("90m", now)).toBe("2026-11-20T10:30:00.000Z");
    expect(parseSince("2w", now)).toBe("2026-11-06T12:00:00.000Z");
  });

  it("takes a date as midnight UTC and a date-time as given", () => {
    expect(parseSince("2026-11-01", now)).toBe("2026-11-01T00:00:00.000Z");
    expect(parseSince("2026-11-01T08:30:00+01:00", now)).toBe("2026-11-01T07:30:00.000Z");
  });

  it("refuses anything else", () => {
    for (const text of ["yesterday", "24", "1y", "11/01/2026", "2026-13-45"]) {
      expect(() => parseSince(text, now), text).toThrow(/Invalid --since/);
    }
  });
});

describe("audit commands", () => {
  it("audit:list passes the filters, with a relative --since as an ISO time", async () => {
    server.on("GET", "/v1/audit", {
      body: {
        items: [
          {
            seq: 42,
            at: "2026-11-20T11:00:00.000Z",
            actor: "user:alice@example.com",
            action: "secret.set",
            target: "site:my-site/secret:API_KEY",
            environment: null,
            outcome: "success",
            requestId: "req-1",
          },
        ],
        next: null,
      },
    });
    const before = Date.now();
    const result = await runCli(["audit:list", "--site=my-site", "--org=acme", "--since=24h", "--limit=5"], {
      env,
    });
    expect(result.code).toBe(0);
    const query = server.requests[0]?.query ?? {};
    expect(query).toMatchObject({ site: "my-site", org: "acme", limit: "5" });
    const since = Date.parse(query.since as string);
    expect(Math.abs(before - 24 * 3_600_000 - since)).toBeLessThan(5000);
    expect(result.stdout).toMatch(
      /42\s+2026-11-20T11:00:00.000Z\s+user:alice@example.com\s+secret.set\s+site:my-site\/secret:API_KEY/,
    );
  });

  it("audit:list refuses a bad --limit or --since with exit 2", async () => {
    expect((await runCli(["audit:list", "--limit=0"], { env })).code).toBe(2);
    expect((await runCli(["audit:list", "--limit=1001"], { env })).code).toBe(2);
    expect((await runCli(["audit:list", "--since=soon"], { env })).code).toBe(2);
    expect(server.requests).toHaveLength(0);
  });

  it("audit:verify exits 0 on an intact chain", async () => {
    server.on("GET", "/v1/audit/verify", { body: { ok: true, checked: 120 } });
    const result = await runCli(["audit:verify"], { env });
    expect(result).toEqual({
      code: 0,
      stdout: "",
      stderr: "The audit chain is intact: 120 events checked.\n",
    });
  });

  it("audit:verify exits 1 on a broken chain, printing the server's message", async () => {
    const message = "Audit event #7 was altered: its hash does not match its contents.";
    server.on("GET", "/v1/audit/verify", {
      body: { ok: false, checked: 6, seq: 7, problem: "altered", message },
    });
    const result = await runCli(["audit:verify"], { env });
    expect(result).toEqual({ code: 1, stdout: "", stderr: `Error: ${message}\n` });
    const json = await runCli(["audit:verify", "--format=json"], { env });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, seq: 7 });
  });
});
