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
      /42\s+2026-11-20T11:00:00Z\s+user:alice@example.com\s+secret.set\s+site:my-site\/secret:API_KEY\s+success\n/,
    );
  });

  it("audit:list shows actors by email and targets by name in a table at most 120 columns wide", async () => {
    const uuid = (n: number) => `${String(n).repeat(8)}-1111-4111-8111-${String(n).repeat(12)}`;
    const event = (seq: number, fields: Record<string, unknown>) => ({
      seq,
      id: uuid(seq),
      at: "2026-11-20T11:00:00.123Z",
      action: "secret.override.set",
      environment: "live",
      orgId: uuid(8),
      siteId: uuid(9),
      outcome: "success",
      requestId: `${uuid(7)}`,
      hash: "f".repeat(64),
      ...fields,
    });
    const longEmail = `someone.with.a.very.long.name.${"x".repeat(40)}@departments.example.com`;
    const items = [
      event(3, {
        actor: `user:${uuid(1)}`,
        actorEmail: "alice@example.com",
        target: `site:${uuid(9)}:my-org-site/secret:API_KEY`,
      }),
      event(2, {
        actor: `user:${uuid(2)}`,
        actorEmail: longEmail,
        action: "site.supporting_org.remove",
        target: `site:${uuid(9)}:my-org-site/org:${uuid(8)}:${"a".repeat(60)}`,
        environment: "feature-123",
        outcome: "failure",
      }),
      event(1, {
        actor: "token:t-1",
        actorEmail: null,
        action: "runtime.deliver",
        target: `site:${uuid(9)}:shop`,
      }),
    ];
    // Ordinary events fit whole.
    server.on("GET", "/v1/audit", { body: { items: [items[0], items[2]], next: null } });
    const table = await runCli(["audit:list", "--site=my-org-site"], { env });
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(120);
    expect(lines[1]?.trim().split(/\s+/)).toEqual(["seq", "at", "actor", "action", "target", "outcome"]);
    expect(lines[3]?.trim().split(/\s+/)).toEqual([
      "3",
      "2026-11-20T11:00:00Z",
      "alice@example.com",
      "secret.override.set",
      "site:my-org-site.live/secret:API_KEY",
      "success",
    ]);
    expect(lines[4]?.trim().split(/\s+/)).toEqual([
      "1",
      "2026-11-20T11:00:00Z",
      "token:t-1",
      "runtime.deliver",
      "site:shop.live",
      "success",
    ]);
    expect(table.stdout).not.toContain(uuid(1));
    expect(table.stdout).not.toContain(uuid(9));
    expect(table.stdout).not.toContain(uuid(7));

    // A very long actor and target are cut short so that the table still fits.
    server.on("GET", "/v1/audit", { body: { items, next: null } });
    const long = await runCli(["audit:list", "--site=my-org-site"], { env });
    const longLines = long.stdout.trimEnd().split("\n");
    for (const line of longLines) expect(line.length, line).toBeLessThanOrEqual(120);
    expect(longLines[4]).toMatch(
      / someone\.with\S*… +site\.supporting_org\.remove +site:my-org-site\.\S*… +failure$/,
    );

    // CSV keeps every column uncut; JSON is the server's events whole.
    const csv = await runCli(["audit:list", "--site=my-org-site", "--format=csv"], { env });
    expect(csv.stdout.split("\n")[2]).toBe(
      `2,2026-11-20T11:00:00Z,${longEmail},site.supporting_org.remove,site:my-org-site.feature-123/org:${"a".repeat(60)},feature-123,failure,${uuid(7)}`,
    );
    const json = await runCli(["audit:list", "--site=my-org-site", "--format=json"], { env });
    expect(JSON.parse(json.stdout)).toEqual(items);
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
