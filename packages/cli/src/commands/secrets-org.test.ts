import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { errorBody, FakeLockboxServer, pagedList } from "../testing/fake-lockbox-server.js";
import { runCli } from "../testing/test-io.js";

const TOKEN = `lbx_${"o".repeat(43)}`;
const ORG_ROWS = [
  {
    name: "SMTP_PASSWORD",
    type: "runtime",
    scopes: ["web", "user"],
    value: "smtp",
    envValues: { live: "smtp-live" },
  },
  { name: "github-oauth.github.com", type: "composer", scopes: ["ic"], value: null, envValues: {} },
];

let server: FakeLockboxServer;
let env: Record<string, string>;

beforeEach(async () => {
  server = await FakeLockboxServer.start();
  env = { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: TOKEN };
  server.on("GET", "/v1/orgs/acme/secrets", { body: { items: ORG_ROWS } });
});

afterEach(async () => {
  await server.close();
});

describe("organization secret commands", () => {
  it("secret:org:list prints the org fields, env-values included in JSON and YAML", async () => {
    const expected = {
      SMTP_PASSWORD: {
        name: "SMTP_PASSWORD",
        type: "runtime",
        value: "smtp",
        scopes: ["web", "user"],
        "env-values": { live: "smtp-live" },
      },
      "github-oauth.github.com": {
        name: "github-oauth.github.com",
        type: "composer",
        value: null,
        scopes: ["ic"],
        "env-values": {},
      },
    };
    const json = await runCli(["secret:org:list", "acme", "--format=json"], { env });
    expect(JSON.parse(json.stdout)).toEqual(expected);
    const yaml = await runCli(["secret-org-list", "acme", "--format=yaml"], { env });
    expect(parseYaml(yaml.stdout)).toEqual(expected);
    const csv = await runCli(["secret:org:list", "acme", "--format=csv"], { env });
    expect(csv.stdout.split("\n")[0]).toBe("name,type,value,scopes,env-values");
    const table = await runCli(["secret:org:list", "acme", "--fields=*"], { env });
    expect(table.stdout).toMatch(/github-oauth\.github\.com\s+composer\s+\[REDACTED\]\s+ic/);
    expect(table.stdout).toMatch(/SMTP_PASSWORD\s+runtime\s+smtp\s+web, user\s+live=smtp-live/);
  });

  it("secret:org:list prints a listing longer than one page whole", async () => {
    const rows = Array.from({ length: 5 }, (_, i) => ({ ...ORG_ROWS[0], name: `ORG_${i}`, value: `v${i}` }));
    server.on(
      "GET",
      "/v1/orgs/big/secrets",
      pagedList(rows, (row) => row.name, 2),
    );
    const table = await runCli(["secret:org:list", "big"], { env });
    expect(table.code).toBe(0);
    for (const row of rows)
      expect(table.stdout).toMatch(new RegExp(`${row.name}\\s+runtime\\s+${row.value}\\s`));
    expect(server.requests).toHaveLength(3);
    const json = await runCli(["secret:org:list", "big", "--format=json", "--fields=name"], { env });
    expect(Object.keys(JSON.parse(json.stdout))).toEqual(rows.map((row) => row.name));
  });

  it("secret:org:list refuses the site-only fields (exit 2)", async () => {
    const result = await runCli(["secret:org:list", "acme", "--fields=name,owner"], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Unknown field 'owner'");
  });

  it("secret:org:set sets the base value, or with --env the override", async () => {
    const ok = {
      message: "Secret successfully set.",
      created: true,
      secret: { name: "K", type: "runtime", scopes: ["web"] },
      notes: [],
    };
    server.on("PUT", "/v1/orgs/acme/secrets/K", { body: ok });
    server.on("PUT", "/v1/orgs/acme/secrets/K/envs/live", { body: { ...ok, created: false } });
    const base = await runCli(["secret:org:set", "acme", "K", "v", "--scope=web"], { env });
    expect(base).toEqual({ code: 0, stdout: "", stderr: "Secret successfully set.\n" });
    await runCli(["secret-org-set", "acme", "K", "--env=live"], { env, stdin: "live\n" });
    expect(server.requests.map((request) => [request.rawPath, request.body])).toEqual([
      ["/v1/orgs/acme/secrets/K", { value: "v", scopes: ["web"] }],
      ["/v1/orgs/acme/secrets/K/envs/live", { value: "live" }],
    ]);
  });

  it("secret:org:set with <org>.<env>, as a site command takes it, says to use --env (exit 2)", async () => {
    const result = await runCli(["secret:org:set", "acme.live", "K", "v"], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "An org command takes the environment as --env, not after the name: acme --env=live.",
    );
  });

  it("secret:org:set prints the server's 404 for a missing base secret (exit 1)", async () => {
    const message =
      "Secret 'K' does not exist on organization 'acme'. You should create the default secret value first.";
    server.on("PUT", "/v1/orgs/acme/secrets/K/envs/live", {
      status: 404,
      body: errorBody("SECRET_NOT_FOUND", message),
    });
    const result = await runCli(["secret:org:set", "acme", "K", "v", "--env=live"], { env });
    expect(result).toEqual({ code: 1, stdout: "", stderr: `Error: ${message}\n` });
  });

  it("secret:org:set and delete refuse a bad --env or org name (exit 2)", async () => {
    expect((await runCli(["secret:org:set", "acme", "K", "v", "--env=Live"], { env })).code).toBe(2);
    expect((await runCli(["secret:org:delete", "Acme Inc", "K"], { env })).code).toBe(2);
    expect(server.requests).toHaveLength(0);
  });

  it("secret:org:delete deletes the secret or one override", async () => {
    server.on("DELETE", "/v1/orgs/acme/secrets/K", { body: { message: "Secret successfully deleted." } });
    server.on("DELETE", "/v1/orgs/acme/secrets/K/envs/test", {
      body: { message: "Secret environment override deleted if it existed." },
    });
    expect((await runCli(["secret:org:delete", "acme", "K"], { env })).stderr).toBe(
      "Secret successfully deleted.\n",
    );
    expect((await runCli(["secret-org-delete", "acme", "K", "--env=test"], { env })).stderr).toBe(
      "Secret environment override deleted if it existed.\n",
    );
  });
});
