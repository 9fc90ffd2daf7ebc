import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import type { CliInput } from "../context.js";
import { run } from "../main.js";
import {
  errorBody,
  FakeLockboxServer,
  pagedList,
  type RecordedRequest,
} from "../testing/fake-lockbox-server.js";
import { CapturedOutput, runCli } from "../testing/test-io.js";

const TOKEN = `lbx_${"t".repeat(43)}`;
const PEM = "-----BEGIN PRIVATE KEY-----\nMIIE\nAAAA\n-----END PRIVATE KEY-----\n";

interface Resolved {
  readonly name: string;
  readonly type: string;
  readonly scopes: readonly string[];
  readonly value: string | null;
  readonly source: string;
}

function row(name: string, value: string | null, source: string, scopes = ["web", "user"]): Resolved {
  return { name, type: "runtime", scopes, value, source };
}

/** Answers `GET /v1/sites/:site/resolve` from a table keyed by `site.env|scope` (env "" for base values). */
function resolver(table: Readonly<Record<string, readonly Resolved[]>>) {
  return (request: RecordedRequest) => {
    const key = `${request.params.site}.${request.query.env ?? ""}|${request.query.scope ?? "web"}`;
    return { body: { items: table[key] ?? [] } };
  };
}

let server: FakeLockboxServer;
let env: Record<string, string>;

beforeEach(async () => {
  server = await FakeLockboxServer.start();
  env = { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: TOKEN };
});

afterEach(async () => {
  await server.close();
});

describe("secret:site:get", () => {
  beforeEach(() => {
    server.on(
      "GET",
      "/v1/sites/:site/resolve",
      resolver({
        "my-site.live|web": [
          row("API_KEY", "live-key", "site-override"),
          row("TLS_KEY", PEM, "site"),
          row("DB_PASSWORD", null, "org", ["web"]),
        ],
        "my-site.|web": [row("API_KEY", "base-key", "site")],
        "my-site.live|ic": [row("COMPOSER_AUTH", "{}", "site", ["ic", "user"])],
        "my-site.live|user": [row("COMPOSER_AUTH", "{}", "site", ["ic", "user"])],
      }),
    );
  });

  it("prints exactly the value, byte for byte, with no newline added (a PEM keeps its own)", async () => {
    const key = await runCli(["secret:site:get", "my-site.live", "API_KEY"], { env });
    expect(key).toEqual({ code: 0, stdout: "live-key", stderr: "" });
    const pem = await runCli(["secret:site:get", "my-site.live", "TLS_KEY"], { env });
    expect(pem).toEqual({ code: 0, stdout: PEM, stderr: "" });
    expect(server.requests[0]?.query).toEqual({ env: "live", scope: "web" });
  });

  it("adds a newline on a terminal only when the value has none", async () => {
    const stdout = Object.assign(new CapturedOutput(), { isTTY: true });
    const io = {
      stdin: Readable.from([]) as unknown as CliInput,
      stdout,
      stderr: new CapturedOutput(),
      env,
      configDir: join(tmpdir(), "lockbox-cli-test-no-config"),
    };
    expect(await run(["secret:site:get", "my-site.live", "API_KEY"], io)).toBe(0);
    expect(await run(["secret:site:get", "my-site.live", "TLS_KEY"], io)).toBe(0);
    expect(stdout.text).toBe(`live-key\n${PEM}`);
  });

  it("reads the base value without an environment", async () => {
    const result = await runCli(["secret:site:get", "my-site", "API_KEY"], { env });
    expect(result).toEqual({ code: 0, stdout: "base-key", stderr: "" });
    expect(server.requests[0]?.query).toEqual({ scope: "web" });
  });

  it("exits 1 with one line naming site, environment and name when absent", async () => {
    const result = await runCli(["secret:site:get", "my-site.live", "NOPE"], { env });
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr: "Error: Secret 'NOPE' does not exist in my-site.live for the web scope.\n",
    });
  });

  it("says which scope a secret absent for web reaches", async () => {
    const result = await runCli(["secret:site:get", "my-site.live", "COMPOSER_AUTH"], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "Error: Secret 'COMPOSER_AUTH' does not exist in my-site.live for the web scope. It reaches the ic and user scopes: add --scope=ic.\n",
    );
    const ic = await runCli(["secret:site:get", "my-site.live", "COMPOSER_AUTH", "--scope=ic"], { env });
    expect(ic).toEqual({ code: 0, stdout: "{}", stderr: "" });
  });

  it("refuses a redacted value, saying the secret must be recreated with the user scope", async () => {
    const result = await runCli(["secret:site:get", "my-site.live", "DB_PASSWORD"], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      "Error: Secret 'DB_PASSWORD' in my-site.live is redacted: the organization's secret (source org, scopes web) lacks the user scope, so no person may read it. Scopes cannot be changed: delete the secret (secret:org:delete) and create it again with --scope=web,user.\n",
    );
  });

  it("passes the server's 404 on", async () => {
    server.on("GET", "/v1/sites/gone/resolve", {
      status: 404,
      body: errorBody("SITE_NOT_FOUND", "Site 'gone' does not exist."),
    });
    const result = await runCli(["secret:site:get", "gone.live", "K"], { env });
    expect(result).toEqual({ code: 1, stdout: "", stderr: "Error: Site 'gone' does not exist.\n" });
  });
});

describe("secret:org:get", () => {
  beforeEach(() => {
    server.on(
      "GET",
      "/v1/orgs/acme/secrets",
      pagedList(
        [
          {
            name: "API_KEY",
            type: "runtime",
            scopes: ["web", "user"],
            value: "org-key",
            envValues: { live: "org-live" },
          },
          { name: "HIDDEN", type: "runtime", scopes: ["web"], value: null, envValues: { live: null } },
        ],
        (r) => r.name,
        100,
      ),
    );
  });

  it("prints the override for --env, else the base value", async () => {
    expect(await runCli(["secret:org:get", "acme", "API_KEY", "--env=live"], { env })).toEqual({
      code: 0,
      stdout: "org-live",
      stderr: "",
    });
    expect((await runCli(["secret:org:get", "acme", "API_KEY", "--env=test"], { env })).stdout).toBe(
      "org-key",
    );
    expect((await runCli(["secret:org:get", "acme", "API_KEY"], { env })).stdout).toBe("org-key");
  });

  it("exits 1 when absent, and refuses a redacted value", async () => {
    const absent = await runCli(["secret:org:get", "acme", "NOPE"], { env });
    expect(absent).toEqual({
      code: 1,
      stdout: "",
      stderr: "Error: Secret 'NOPE' does not exist in organization 'acme'.\n",
    });
    const hidden = await runCli(["secret:org:get", "acme", "HIDDEN", "--env=live"], { env });
    expect(hidden.code).toBe(1);
    expect(hidden.stderr).toContain(
      "Secret 'HIDDEN' in organization 'acme' (live) is redacted: the organization's secret (source org-override, scopes web) lacks the user scope",
    );
  });

  it("refuses a bad --env as a usage error", async () => {
    const result = await runCli(["secret:org:get", "acme", "API_KEY", "--env=Bad Env"], { env });
    expect(result.code).toBe(2);
    expect(server.requests).toEqual([]);
  });
});

describe("secret:site:diff", () => {
  beforeEach(() => {
    server.on(
      "GET",
      "/v1/sites/:site/resolve",
      resolver({
        "my-site.test|web": [
          row("API_KEY", "test-key", "site-override"),
          row("BASE_HIDDEN", null, "site", ["web"]),
          row("HIDDEN", null, "site-override", ["web"]),
          row("ONLY_TEST", "t", "site"),
          row("SAME", "v", "org"),
        ],
        "my-site.live|web": [
          row("API_KEY", "live-key", "site-override"),
          row("BASE_HIDDEN", null, "site", ["web"]),
          row("HIDDEN", null, "site-override", ["web"]),
          row("ONLY_LIVE", "l", "org-override"),
          row("SAME", "v", "org"),
        ],
        "other.live|web": [row("SAME", "v", "site"), row("BASE_HIDDEN", null, "site", ["web"])],
      }),
    );
  });

  it("reports each name's status and both sources, and exits 1 when anything differs", async () => {
    const result = await runCli(["secret:site:diff", "my-site.test", "my-site.live", "--format=json"], {
      env,
    });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      a: { site: "my-site", env: "test" },
      b: { site: "my-site", env: "live" },
      scope: "web",
      secrets: {
        API_KEY: { status: "different", a: { source: "site-override" }, b: { source: "site-override" } },
        BASE_HIDDEN: { status: "same", a: { source: "site" }, b: { source: "site" } },
        HIDDEN: { status: "unknown", a: { source: "site-override" }, b: { source: "site-override" } },
        ONLY_LIVE: { status: "only-in-b", a: null, b: { source: "org-override" } },
        ONLY_TEST: { status: "only-in-a", a: { source: "site" }, b: null },
        SAME: { status: "same", a: { source: "org" }, b: { source: "org" } },
      },
    });
    expect(result.stdout).not.toContain("test-key");
  });

  it("shows readable values with --show-values and [REDACTED] for the others (table)", async () => {
    const result = await runCli(["secret:site:diff", "my-site.test", ".live", "--show-values"], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /API_KEY\s+different\s+site-override\s+site-override\s+test-key\s+live-key/,
    );
    expect(result.stdout).toMatch(
      /HIDDEN\s+unknown\s+site-override\s+site-override\s+\[REDACTED\]\s+\[REDACTED\]/,
    );
    expect(result.stdout).toMatch(/ONLY_LIVE\s+only-in-b\s+-\s+org-override\s+-\s+l/);
    expect(result.stdout).toContain("source in my-site.test");
  });

  it("compares two sites; redacted values of different sites are unknown, never guessed (yaml)", async () => {
    const result = await runCli(
      ["secret:site:diff", "my-site.live", "other.live", "--format=yaml", "--show-values"],
      { env },
    );
    const data = parseYaml(result.stdout) as { secrets: Record<string, unknown> };
    expect(data.secrets.SAME).toEqual({
      status: "same",
      a: { source: "org", value: "v" },
      b: { source: "site", value: "v" },
    });
    expect(data.secrets.BASE_HIDDEN).toEqual({
      status: "unknown",
      a: { source: "site", value: null },
      b: { source: "site", value: null },
    });
    expect(result.code).toBe(1);
  });

  it("exits 0 when everything is the same", async () => {
    server.on("GET", "/v1/sites/:site/resolve", { body: { items: [row("A", "1", "site")] } });
    const result = await runCli(["secret:site:diff", "my-site.dev", "my-site"], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/A\s+same\s+site\s+site/);
    expect(server.requests.map((r) => r.query)).toEqual([{ env: "dev", scope: "web" }, { scope: "web" }]);
  });

  it("exits 2, not 1, on an error", async () => {
    server.on("GET", "/v1/sites/gone/resolve", {
      status: 404,
      body: errorBody("SITE_NOT_FOUND", "Site 'gone' does not exist."),
    });
    const result = await runCli(["secret:site:diff", "my-site.live", "gone.live"], { env });
    expect(result).toEqual({ code: 2, stdout: "", stderr: "Error: Site 'gone' does not exist.\n" });
    const usage = await runCli(["secret:site:diff", "my-site.live", "bad..name"], { env });
    expect(usage.code).toBe(2);
  });

  it("refuses '.env' as the first side with the order that works, not an empty site name", async () => {
    const result = await runCli(["secret:site:diff", ".live", "my-site"], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      "Error: '.live' names an environment of the first site, so it can only be the second side: lockbox secret:site:diff <site>.<env> .live, or name the site: <site>.live.\n",
    );
  });
});
