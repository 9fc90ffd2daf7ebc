import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { errorBody, FakeLockboxServer } from "../testing/fake-lockbox-server.js";
import { runCli } from "../testing/test-io.js";

const TOKEN = `lbx_${"s".repeat(43)}`;

let server: FakeLockboxServer;
let env: Record<string, string>;

beforeEach(async () => {
  server = await FakeLockboxServer.start();
  env = { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: TOKEN };
  server.on("POST", "/v1/sites", (request) => ({
    status: 201,
    body: { id: "s1", ...(request.body as object) },
  }));
});

afterEach(async () => {
  await server.close();
});

describe("site commands", () => {
  it("site:create sends the owner org and the supporting orgs", async () => {
    const result = await runCli(
      [
        "site:create",
        "my-site",
        "--org=acme",
        "--supporting-org=agency",
        "--supporting-org",
        "partner,other",
      ],
      { env },
    );
    expect(result).toEqual({
      code: 0,
      stdout: "",
      stderr: "Site 'my-site' created with environments dev, test and live.\n",
    });
    expect(server.requests[0]?.body).toEqual({
      name: "my-site",
      org: "acme",
      supportingOrgs: ["agency", "partner", "other"],
    });
  });

  it("site:create makes a personal site with --owner", async () => {
    await runCli(["site:create", "blog", "--owner=alice@example.com"], { env });
    expect(server.requests[0]?.body).toEqual({ name: "blog", owner: "alice@example.com" });
  });

  it("site:create and site:transfer need exactly one of --org and --owner (exit 2)", async () => {
    for (const argv of [
      ["site:create", "my-site"],
      ["site:create", "my-site", "--org=acme", "--owner=a@example.com"],
      ["site:transfer", "my-site"],
      ["site:create", "My Site", "--org=acme"],
    ]) {
      expect((await runCli(argv, { env })).code, argv.join(" ")).toBe(2);
    }
    expect(server.requests).toHaveLength(0);
  });

  it("site:transfer posts the new owner", async () => {
    server.on("POST", "/v1/sites/my-site/transfer", { body: { id: "s1", name: "my-site" } });
    const result = await runCli(["site:transfer", "my-site", "--org=new-org"], { env });
    expect(result.stderr).toBe("Site 'my-site' now belongs to organization 'new-org'.\n");
    expect(server.requests[0]?.body).toEqual({ org: "new-org" });
  });

  it("site:list and site:info show owners, supporting orgs, environments and team", async () => {
    server.on("GET", "/v1/sites", {
      body: {
        items: [
          { id: "s1", name: "my-site", owner: { kind: "org", name: "acme" } },
          { id: "s2", name: "blog", owner: { kind: "user", email: "alice@example.com" } },
        ],
        next: null,
      },
    });
    server.on("GET", "/v1/sites/my-site", {
      body: {
        id: "s1",
        name: "my-site",
        owner: { kind: "org", name: "acme" },
        supportingOrgs: [{ name: "agency" }],
        environments: [{ name: "dev" }, { name: "test" }, { name: "live" }, { name: "feat-1" }],
        team: [{ email: "bob@example.com" }],
      },
    });
    const list = await runCli(["site:list", "--org=acme"], { env });
    expect(server.requests[0]?.query).toEqual({ org: "acme", limit: "1000" });
    expect(list.stdout).toMatch(/my-site\s+s1\s+org acme/);
    expect(list.stdout).toMatch(/blog\s+s2\s+user alice@example.com/);
    const info = await runCli(["site:info", "my-site"], { env });
    expect(info.stdout).toMatch(/supporting orgs\s+agency/);
    expect(info.stdout).toMatch(/environments\s+dev, test, live, feat-1/);
    expect(info.stdout).toMatch(/team\s+bob@example.com/);
  });

  it("site:info prints the server's not-found message (exit 1)", async () => {
    const message = "Site 'ghost' was not found, or you do not have access to it.";
    server.on("GET", "/v1/sites/ghost", { status: 404, body: errorBody("SITE_NOT_FOUND", message) });
    expect(await runCli(["site:info", "ghost"], { env })).toEqual({
      code: 1,
      stdout: "",
      stderr: `Error: ${message}\n`,
    });
  });

  it("site:delete deletes without a prompt when stdin is not a terminal", async () => {
    server.on("DELETE", "/v1/sites/my-site", { status: 204 });
    const result = await runCli(["site:delete", "my-site"], { env });
    expect(result.code).toBe(0);
    expect(server.requests.map((request) => request.method)).toEqual(["DELETE"]);
  });

  it("site:supporting-org and site:team commands call their routes", async () => {
    server.on("PUT", "/v1/sites/:site/supporting-orgs/:org", { status: 204 });
    server.on("DELETE", "/v1/sites/:site/supporting-orgs/:org", { status: 204 });
    server.on("PUT", "/v1/sites/:site/team/:user", { status: 204 });
    server.on("DELETE", "/v1/sites/:site/team/:user", { status: 204 });
    for (const argv of [
      ["site:supporting-org:add", "my-site", "agency"],
      ["site:supporting-org:remove", "my-site", "agency"],
      ["site:team:add", "my-site", "bob@example.com"],
      ["site:team:remove", "my-site", "bob@example.com"],
    ]) {
      expect((await runCli(argv, { env })).code, argv.join(" ")).toBe(0);
    }
    expect(server.requests.map((request) => `${request.method} ${request.rawPath}`)).toEqual([
      "PUT /v1/sites/my-site/supporting-orgs/agency",
      "DELETE /v1/sites/my-site/supporting-orgs/agency",
      "PUT /v1/sites/my-site/team/bob%40example.com",
      "DELETE /v1/sites/my-site/team/bob%40example.com",
    ]);
  });

  it("site:supporting-org:remove prints the server's message and a site:team:remove line per team member from that org", async () => {
    server.on("DELETE", "/v1/sites/:site/supporting-orgs/:org", {
      status: 200,
      body: {
        message:
          "Organization 'agency' no longer supports site 'my-site'. 1 person on the site's team belongs to it …",
        teamMembersFromOrg: [{ email: "dave@agency.example" }],
      },
    });
    const result = await runCli(["site:supporting-org:remove", "my-site", "agency"], { env });
    expect(result.code).toBe(0);
    expect(result.stderr.split("\n")).toEqual([
      "Organization 'agency' no longer supports site 'my-site'. 1 person on the site's team belongs to it …",
      "  lockbox site:team:remove my-site dave@agency.example",
      "",
    ]);
  });

  it("site:team:remove prints the server's message and a token:revoke line per token the person minted that still works", async () => {
    server.on("DELETE", "/v1/sites/:site/team/:user", {
      body: {
        message:
          "User 'bob@example.com' was removed from the team of site 'my-site'. 1 runtime or build token they created still works: revoke any that should stop.",
        tokensStillActive: [
          {
            id: "t-live",
            kind: "runtime",
            user: null,
            site: "my-site",
            environment: "live",
            createdAt: "2026-11-01T00:00:00.000Z",
            lastUsedAt: "2026-11-02T00:00:00.000Z",
            expiresAt: "2027-01-30T00:00:00.000Z",
            revokedAt: null,
          },
        ],
      },
    });
    expect(await runCli(["site:team:remove", "my-site", "bob@example.com"], { env })).toEqual({
      code: 0,
      stdout: "",
      stderr:
        "User 'bob@example.com' was removed from the team of site 'my-site'. 1 runtime or build token they created still works: revoke any that should stop.\n  lockbox token:revoke t-live   # runtime my-site.live, expires 2027-01-30T00:00:00.000Z\n",
    });
  });
});
