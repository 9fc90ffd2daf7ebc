import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { FakeLockboxServer, type RecordedRequest } from "../testing/fake-lockbox-server.js";
import { runCli } from "../testing/test-io.js";

const TOKEN = `lbx_${"t".repeat(43)}`;

interface Version {
  readonly version: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly value?: string | null;
}

const at = (n: number) => `2026-11-0${n}T10:00:00.000Z`;
/** Versions 3 (a delete), 2 (redacted) and 1, as the server answers them with ?values=true. */
const VERSIONS: readonly Version[] = [
  { version: 3, at: at(3), actor: "bob@example.com", action: "delete", value: null },
  { version: 2, at: at(2), actor: "alice@example.com", action: "set", value: null },
  { version: 1, at: at(1), actor: "alice@example.com", action: "set", value: "first" },
];

/** Pages newest first, two at a time, with `before` the `next` of the previous page. */
function history(request: RecordedRequest) {
  const values = request.query.values === "true";
  const before = request.query.before === undefined ? Number.POSITIVE_INFINITY : Number(request.query.before);
  const rest = VERSIONS.filter((v) => v.version < before).map((v) => {
    if (values) return v;
    const { value: _value, ...meta } = v;
    return meta;
  });
  const items = rest.slice(0, 2);
  return { body: { items, next: rest.length > 2 ? String(items.at(-1)?.version) : null } };
}

let server: FakeLockboxServer;
let env: Record<string, string>;

beforeEach(async () => {
  server = await FakeLockboxServer.start();
  env = { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: TOKEN };
  server.on("GET", "/v1/sites/:site/secrets/:name/versions", history);
  server.on("GET", "/v1/orgs/:org/secrets/:name/versions", history);
});
afterEach(async () => {
  await server.close();
});

describe("secret:site:history and secret:org:history", () => {
  it("prints every page as a table, without values unless asked, a delete's value empty and a redacted one [REDACTED]", async () => {
    const plain = await runCli(["secret:site:history", "my-site.live", "API_KEY"], { env });
    expect(plain.code).toBe(0);
    expect(
      plain.stdout
        .split("\n")
        .find((line) => /\w/.test(line))
        ?.trim()
        .split(/\s+/),
    ).toEqual(["version", "at", "actor", "action"]);
    expect(plain.stdout).not.toContain("first");
    expect(server.requests.map((r) => r.query)).toEqual([
      { env: "live", limit: "1000" },
      { env: "live", limit: "1000", before: "2" },
    ]);

    const csv = await runCli(["secret:site:history", "my-site", "API_KEY", "--show-values", "--format=csv"], {
      env,
    });
    expect(csv.stdout).toBe(
      [
        "version,at,actor,action,value",
        `3,${at(3)},bob@example.com,delete,`,
        `2,${at(2)},alice@example.com,set,[REDACTED]`,
        `1,${at(1)},alice@example.com,set,first`,
        "",
      ].join("\n"),
    );
  });

  it("prints the server's items whole as JSON or YAML, null where redacted", async () => {
    const yaml = await runCli(
      ["secret:org:history", "my-org", "API_KEY", "--env=live", "--show-values", "--format=yaml"],
      { env },
    );
    expect(parseYaml(yaml.stdout)).toEqual(VERSIONS);
    expect(server.requests[0]?.params).toMatchObject({ org: "my-org", name: "API_KEY" });
    expect(server.requests[0]?.query).toMatchObject({ env: "live", values: "true" });
  });

  it("refuses a bad --to or --env as a usage error, before any request", async () => {
    for (const args of [
      ["secret:site:rollback", "my-site", "API_KEY", "--to=zero"],
      ["secret:site:rollback", "my-site", "API_KEY", "--to=0"],
      ["secret:site:rollback", "my-site", "API_KEY"],
      ["secret:org:rollback", "my-org", "API_KEY", "--env=Not Valid", "--to=1"],
    ]) {
      const result = await runCli(args, { env });
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
    }
    expect(server.requests).toEqual([]);
  });

  it("rolls back with the version in the body and says which version is current", async () => {
    server.on("POST", "/v1/orgs/:org/secrets/:name/rollback", () => ({
      body: { message: "Secret rolled back.", name: "API_KEY", env: "live", version: 4, from: 1 },
    }));
    const result = await runCli(["secret:org:rollback", "my-org", "API_KEY", "--env=live", "--to=1"], {
      env,
    });
    expect(result).toEqual({
      code: 0,
      stdout: "",
      stderr: "Secret rolled back. 'API_KEY' in live is now version 4, with the value of version 1.\n",
    });
    expect(server.requests[0]?.body).toEqual({ env: "live", to: 1 });
  });
});
