import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeLockboxServer, pagedList } from "../testing/fake-lockbox-server.js";
import { FakeTerminal, runCli } from "../testing/test-io.js";

const TOKEN = `lbx_${"g".repeat(43)}`;

let server: FakeLockboxServer;
let env: Record<string, string>;

beforeEach(async () => {
  server = await FakeLockboxServer.start();
  env = { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: TOKEN };
});

afterEach(async () => {
  await server.close();
});

describe("organization and user commands", () => {
  it("org:create and user:create post names and emails", async () => {
    server.on("POST", "/v1/orgs", (request) => ({
      status: 201,
      body: { id: "o1", ...(request.body as object) },
    }));
    server.on("POST", "/v1/users", (request) => ({
      status: 201,
      body: { id: "u1", admin: false, ...(request.body as object) },
    }));
    expect((await runCli(["org:create", "acme"], { env })).code).toBe(0);
    expect((await runCli(["user:create", "Alice@Example.com"], { env })).code).toBe(0);
    expect((await runCli(["user:create", "root@example.com", "--admin"], { env })).code).toBe(0);
    expect(server.requests.map((request) => request.body)).toEqual([
      { name: "acme" },
      { email: "alice@example.com" },
      { email: "root@example.com", admin: true },
    ]);
  });

  it("org:create and user:create refuse malformed names (exit 2)", async () => {
    expect((await runCli(["org:create", "Acme"], { env })).code).toBe(2);
    expect((await runCli(["user:create", "not-an-email"], { env })).code).toBe(2);
    expect(server.requests).toHaveLength(0);
  });

  it("says the arguments are in the wrong order when an email stands where the org or site goes (exit 2)", async () => {
    const hint = "That looks like an email address: check the order of the arguments";
    const member = await runCli(["org:member:add", "alice@example.com", "acme"], { env });
    expect(member.code).toBe(2);
    expect(member.stderr).toContain("Invalid organization name 'alice@example.com'");
    expect(member.stderr).toContain(hint);
    const team = await runCli(["site:team:add", "alice@example.com", "my-site"], { env });
    expect(team.code).toBe(2);
    // Not "Invalid site name 'alice@example'", the part before the last dot.
    expect(team.stderr).toContain(`Error: Invalid site name 'alice@example.com'. ${hint}`);
    expect(server.requests).toHaveLength(0);
  });

  it("org:member:add sends the role (member by default), org:member:remove deletes", async () => {
    server.on("PUT", "/v1/orgs/acme/members/:user", (request) => ({
      body: { email: request.params.user, userId: "u1", role: (request.body as { role: string }).role },
    }));
    server.on("DELETE", "/v1/orgs/acme/members/:user", { status: 204 });
    const member = await runCli(["org:member:add", "acme", "bob@example.com"], { env });
    expect(member.stderr).toBe("'bob@example.com' is now a member of 'acme'.\n");
    const admin = await runCli(["org:member:add", "acme", "carol@example.com", "--role=admin"], { env });
    expect(admin.stderr).toBe("'carol@example.com' is now an admin of 'acme'.\n");
    expect((await runCli(["org:member:add", "acme", "d@example.com", "--role=owner"], { env })).code).toBe(2);
    await runCli(["org:member:remove", "acme", "bob@example.com"], { env });
    expect(server.requests.map((request) => [request.method, request.rawPath, request.body])).toEqual([
      ["PUT", "/v1/orgs/acme/members/bob%40example.com", { role: "member" }],
      ["PUT", "/v1/orgs/acme/members/carol%40example.com", { role: "admin" }],
      ["DELETE", "/v1/orgs/acme/members/bob%40example.com", undefined],
    ]);
  });

  it("org:member:remove prints the server's message and a token:revoke line per token the member minted that still works", async () => {
    server.on("DELETE", "/v1/orgs/acme/members/:user", {
      body: {
        message:
          "User 'bob@example.com' was removed from organization 'acme'. 2 runtime or build tokens they created still work: revoke any that should stop.",
        tokensStillActive: [
          {
            id: "t-live",
            kind: "runtime",
            user: null,
            site: "shop",
            environment: "live",
            createdAt: "2026-11-01T00:00:00.000Z",
            lastUsedAt: null,
            expiresAt: null,
            revokedAt: null,
          },
          {
            id: "t-dev",
            kind: "build",
            user: null,
            site: "shop",
            environment: "dev",
            createdAt: "2026-11-01T00:00:00.000Z",
            lastUsedAt: null,
            expiresAt: "2027-01-30T00:00:00.000Z",
            revokedAt: null,
          },
        ],
      },
    });
    expect(await runCli(["org:member:remove", "acme", "bob@example.com"], { env })).toEqual({
      code: 0,
      stdout: "",
      stderr: [
        "User 'bob@example.com' was removed from organization 'acme'. 2 runtime or build tokens they created still work: revoke any that should stop.",
        "  lockbox token:revoke t-live   # runtime shop.live, expires never",
        "  lockbox token:revoke t-dev   # build shop.dev, expires 2027-01-30T00:00:00.000Z",
        "",
      ].join("\n"),
    });
  });

  it("org:member:list and org:list print tables, or a message when empty", async () => {
    server.on("GET", "/v1/orgs/acme/members", {
      body: { items: [{ email: "bob@example.com", userId: "u1", role: "admin" }], next: null },
    });
    server.on("GET", "/v1/orgs", { body: { items: [], next: null } });
    const members = await runCli(["org:member:list", "acme"], { env });
    expect(members.stdout).toMatch(/bob@example.com\s+admin\s+u1/);
    expect(await runCli(["org:list"], { env })).toEqual({
      code: 0,
      stdout: "",
      stderr: "You have no Organizations.\n",
    });
    expect((await runCli(["org:list", "--format=json"], { env })).stdout).toBe("[]\n");
  });

  it("org:member:list prints a member list longer than one page whole", async () => {
    const members = ["alice", "bob", "carol"].map((who, i) => ({
      email: `${who}@example.com`,
      userId: `u${i}`,
      role: "member",
    }));
    server.on(
      "GET",
      "/v1/orgs/acme/members",
      pagedList(members, (member) => member.email, 1),
    );
    const result = await runCli(["org:member:list", "acme"], { env });
    for (const member of members) {
      expect(result.stdout).toMatch(new RegExp(`${member.email}\\s+member\\s+${member.userId}`));
    }
    expect(server.requests.map((request) => request.query.after)).toEqual([
      undefined,
      "alice@example.com",
      "bob@example.com",
    ]);
  });

  it("org:delete asks on a terminal and changes nothing when declined", async () => {
    server.on("DELETE", "/v1/orgs/acme", { status: 204 });
    const terminal = new FakeTerminal();
    terminal.type("n\r");
    const declined = await runCli(["org:delete", "acme"], { env, stdin: terminal });
    expect(declined.code).toBe(1);
    expect(declined.stderr).toContain("Delete organization 'acme' and all its secrets? [y/N] n\n");
    expect(declined.stderr).toContain("Error: Cancelled: nothing was changed.");
    expect(server.requests).toHaveLength(0);

    const confirmed = new FakeTerminal();
    confirmed.type("yes\r");
    expect((await runCli(["org:delete", "acme"], { env, stdin: confirmed })).code).toBe(0);
    expect((await runCli(["org:delete", "acme", "--yes"], { env, stdin: new FakeTerminal() })).code).toBe(0);
    expect(server.requests).toHaveLength(2);
  });
});
