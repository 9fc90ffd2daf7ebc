import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeLockboxServer } from "../testing/fake-lockbox-server.js";
import { runCli } from "../testing/test-io.js";

const TOKEN = `lbx_${"d".repeat(43)}`;

let server: FakeLockboxServer;
let env: Record<string, string>;

beforeEach(async () => {
  server = await FakeLockboxServer.start();
  env = { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: TOKEN };
});

afterEach(async () => {
  await server.close();
});

describe("environment commands", () => {
  it("multidev:create posts the name, multidev:delete deletes it", async () => {
    server.on("POST", "/v1/sites/my-site/environments", {
      status: 201,
      body: { name: "feat-1", kind: "multidev" },
    });
    server.on("DELETE", "/v1/sites/my-site/environments/feat-1", { status: 204 });
    expect(await runCli(["multidev:create", "my-site.feat-1"], { env })).toEqual({
      code: 0,
      stdout: "",
      stderr: "Multidev 'feat-1' created on site 'my-site'.\n",
    });
    expect((await runCli(["multidev:delete", "my-site.feat-1"], { env })).code).toBe(0);
    expect(server.requests.map((request) => [request.method, request.rawPath, request.body])).toEqual([
      ["POST", "/v1/sites/my-site/environments", { name: "feat-1" }],
      ["DELETE", "/v1/sites/my-site/environments/feat-1", undefined],
    ]);
  });

  it("refuses standard environments, reserved and malformed names (exit 2)", async () => {
    for (const argv of [
      ["multidev:create", "my-site.dev"],
      ["multidev:delete", "my-site.live"],
      ["multidev:create", "my-site.settings"],
      ["multidev:create", "my-site.much-too-long-name"],
      ["multidev:create", "my-site"],
    ]) {
      const result = await runCli(argv, { env });
      expect(result.code, argv.join(" ")).toBe(2);
    }
    expect(server.requests).toHaveLength(0);
  });

  it("env:list prints the environments", async () => {
    server.on("GET", "/v1/sites/my-site/environments", {
      body: {
        items: [
          { name: "dev", kind: "standard" },
          { name: "feat-1", kind: "multidev" },
        ],
        next: null,
      },
    });
    const result = await runCli(["env:list", "my-site"], { env });
    expect(result.stdout).toMatch(/dev\s+standard/);
    expect(result.stdout).toMatch(/feat-1\s+multidev/);
    expect((await runCli(["env:list", "my-site.dev"], { env })).code).toBe(2);
  });

  it("env:list prints an environment list longer than one page whole, in the server's order", async () => {
    const environments = ["dev", "test", "live", "feat-1"].map((name) => ({
      name,
      kind: name.startsWith("feat") ? "multidev" : "standard",
    }));
    // Not in name order (dev, test, live first), so the cursor is the position of the last name.
    const position = (name: string) => environments.findIndex((e) => e.name === name);
    server.on("GET", "/v1/sites/my-site/environments", (request) => {
      const after = request.query.after;
      const rest = environments.slice(after === undefined ? 0 : position(after) + 1);
      const items = rest.slice(0, 2);
      return { body: { items, next: rest.length > 2 ? (items.at(-1)?.name ?? null) : null } };
    });
    const result = await runCli(["env:list", "my-site", "--format=json"], { env });
    expect(JSON.parse(result.stdout).map((e: { name: string }) => e.name)).toEqual([
      "dev",
      "test",
      "live",
      "feat-1",
    ]);
    expect(server.requests.map((request) => request.query.after)).toEqual([undefined, "test"]);
  });
});
