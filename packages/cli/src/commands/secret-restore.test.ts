import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { errorBody, FakeLockboxServer } from "../testing/fake-lockbox-server.js";
import { runCli } from "../testing/test-io.js";

const TOKEN = `lbx_${"r".repeat(43)}`;
const ID = "0b6d3c1e-8f5a-4d2b-9c7e-1a2b3c4d5e6f";
const DELETED = {
  id: ID,
  name: "API_KEY",
  type: "env",
  scopes: ["web", "user"],
  envs: ["live"],
  deletedAt: "2026-12-01T10:00:00.000Z",
  deletedBy: "alice@example.com",
};

let server: FakeLockboxServer;
let env: Record<string, string>;

beforeEach(async () => {
  server = await FakeLockboxServer.start();
  env = { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: TOKEN };
});
afterEach(async () => {
  await server.close();
});

describe("deleted secrets and restore commands", () => {
  it("secret:site:list --deleted prints name, deleted-at, deleted-by, … in every format", async () => {
    server.on("GET", "/v1/sites/shop/deleted-secrets", { body: { items: [DELETED], next: null } });
    const table = await runCli(["secret:site:list", "shop", "--deleted"], { env });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/name\s+deleted-at\s+deleted-by\s+type\s+scopes\s+envs\s+id/);
    expect(table.stdout).toMatch(
      /API_KEY\s+2026-12-01T10:00:00.000Z\s+alice@example.com\s+env\s+web, user\s+live/,
    );
    const csv = await runCli(["secret:site:list", "shop", "--deleted", "--format=csv"], { env });
    expect(csv.stdout.split("\n")[1]).toBe(
      `API_KEY,2026-12-01T10:00:00.000Z,alice@example.com,env,"web, user",live,${ID}`,
    );
    const json = await runCli(["secret:site:list", "shop", "--deleted", "--format=json"], { env });
    expect(JSON.parse(json.stdout)).toEqual([DELETED]);
  });

  it("refuses --deleted with --fields or an environment, and a malformed --id, as usage errors (exit 2)", async () => {
    for (const args of [
      ["secret:site:list", "shop", "--deleted", "--fields=name"],
      ["secret:site:list", "shop.live", "--deleted"],
      ["secret:org:restore", "acme", "K", "--id=nope"],
    ]) {
      const result = await runCli(args, { env });
      expect(result.code, args.join(" ")).toBe(2);
    }
    expect(server.requests).toEqual([]);
  });

  it("secret:site:restore and secret:org:restore --id say what came back, with the server's notes and errors", async () => {
    const restored = {
      message: "Secret restored.",
      name: "API_KEY",
      type: "env",
      scopes: ["web"],
      envs: ["live"],
      notes: ["The override in 'feature' was not restored: the site no longer has that environment."],
    };
    server.on("POST", "/v1/sites/shop/secrets/API_KEY/restore", { body: restored });
    const site = await runCli(["secret:site:restore", "shop", "API_KEY"], { env });
    expect(site).toEqual({
      code: 0,
      stdout: "",
      stderr: `Secret restored. 'API_KEY' is back with its overrides in live.\n${restored.notes[0]}\n`,
    });
    const message =
      "Cannot restore secret 'K': organization 'acme' has a secret of that name, created after the delete.";
    server.on("POST", "/v1/orgs/acme/secrets/K/restore", {
      status: 409,
      body: errorBody("CONFLICT", message),
    });
    const org = await runCli(["secret:org:restore", "acme", "K", `--id=${ID}`], { env });
    expect(org.code).toBe(1);
    expect(org.stderr).toContain(message);
    expect(server.requests.at(-1)).toMatchObject({
      rawPath: "/v1/orgs/acme/secrets/K/restore",
      query: { id: ID },
    });
  });
});
