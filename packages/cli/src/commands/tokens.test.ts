import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { errorBody, FakeLockboxServer } from "../testing/fake-lockbox-server.js";
import { runCli } from "../testing/test-io.js";

const TOKEN = `lbx_${"k".repeat(43)}`;
const NEW_USER_TOKEN = `lbx_${"N".repeat(43)}`;
const NEW_RUNTIME_TOKEN = `lbr_${"R".repeat(43)}`;
const NEW_BUILD_TOKEN = `lbb_${"B".repeat(43)}`;

let server: FakeLockboxServer;
let env: Record<string, string>;

beforeEach(async () => {
  server = await FakeLockboxServer.start();
  env = { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: TOKEN };
  server.on("POST", "/v1/tokens", (request) => {
    const body = request.body as { kind: string };
    const token = { user: NEW_USER_TOKEN, runtime: NEW_RUNTIME_TOKEN, build: NEW_BUILD_TOKEN }[body.kind];
    return { status: 201, body: { token, id: `id-${body.kind}`, kind: body.kind } };
  });
});

afterEach(async () => {
  await server.close();
});

function lastLine(stdout: string): string | undefined {
  return stdout.trimEnd().split("\n").at(-1);
}

describe("token commands", () => {
  it("token:create prints the token alone on stdout's last line, the rest to stderr", async () => {
    const result = await runCli(["token:create", "--user=Alice@Example.com"], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${NEW_USER_TOKEN}\n`);
    expect(lastLine(result.stdout)).toBe(NEW_USER_TOKEN);
    expect(result.stderr).toBe(
      "Created a user token for 'alice@example.com' (id id-user), valid until revoked. Log in with it: lockbox auth:login. It is shown only this once: store it now.\n",
    );
    expect(server.requests[0]?.body).toEqual({ kind: "user", user: "alice@example.com" });
  });

  it("token:create without --user asks for a token for the caller", async () => {
    await runCli(["token:create"], { env });
    expect(server.requests[0]?.body).toEqual({ kind: "user" });
  });

  it("token:runtime:create and token:build:create bind the token to <site>.<env>", async () => {
    const runtime = await runCli(["token:runtime:create", "my-site.live"], { env });
    expect(runtime.code).toBe(0);
    expect(lastLine(runtime.stdout)).toBe(NEW_RUNTIME_TOKEN);
    expect(runtime.stderr).toContain("LOCKBOX_RUNTIME_TOKEN");
    const build = await runCli(["token:build:create", "my-site.feat-1"], { env });
    expect(lastLine(build.stdout)).toBe(NEW_BUILD_TOKEN);
    expect(server.requests.map((request) => request.body)).toEqual([
      { kind: "runtime", site: "my-site", env: "live" },
      { kind: "build", site: "my-site", env: "feat-1" },
    ]);
  });

  it("--expires-in is sent as expiresIn by token:create, token:runtime:create and token:build:create, and the expiry is shown", async () => {
    server.on("POST", "/v1/tokens", (request) => {
      const body = request.body as { kind: string };
      const token = { user: NEW_USER_TOKEN, runtime: NEW_RUNTIME_TOKEN, build: NEW_BUILD_TOKEN }[body.kind];
      return {
        status: 201,
        body: { token, id: `id-${body.kind}`, kind: body.kind, expiresAt: "2027-02-01T00:00:00.000Z" },
      };
    });
    const user = await runCli(["token:create", "--expires-in=90d"], { env });
    const runtime = await runCli(["token:runtime:create", "my-site.live", "--expires-in", "30m"], { env });
    const build = await runCli(["token:build:create", "--expires-in=12h", "my-site.dev"], { env });
    for (const [result, token] of [
      [user, NEW_USER_TOKEN],
      [runtime, NEW_RUNTIME_TOKEN],
      [build, NEW_BUILD_TOKEN],
    ] as const) {
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`${token}\n`);
      expect(result.stderr).toContain("valid until 2027-02-01T00:00:00.000Z.");
    }
    expect(runtime.stderr).toBe(
      "Created a runtime token for my-site.live (id id-runtime), valid until 2027-02-01T00:00:00.000Z. Give it to the application as LOCKBOX_RUNTIME_TOKEN. It is shown only this once: store it now.\n",
    );
    expect(server.requests.map((request) => request.body)).toEqual([
      { kind: "user", expiresIn: "90d" },
      { kind: "runtime", site: "my-site", env: "live", expiresIn: "30m" },
      { kind: "build", site: "my-site", env: "dev", expiresIn: "12h" },
    ]);
  });

  it("--expires-in refuses 0, negatives, garbage and more than 365d (exit 2, naming the format and the maximum), sending nothing", async () => {
    for (const expiresIn of [
      "0d",
      "0m",
      "-1d",
      "1.5h",
      "30",
      "7 d",
      "7D",
      "2w",
      "1y",
      "366d",
      "8761h",
      "soon",
      "",
    ]) {
      for (const argv of [
        ["token:create", `--expires-in=${expiresIn}`],
        ["token:runtime:create", "my-site.live", `--expires-in=${expiresIn}`],
        ["token:build:create", "my-site.dev", `--expires-in=${expiresIn}`],
      ]) {
        expect(await runCli(argv, { env }), argv.join(" ")).toEqual({
          code: 2,
          stdout: "",
          stderr: `Error: Invalid --expires-in '${expiresIn}': use a whole number of minutes, hours or days such as 30m, 12h, 7d or 90d, from 1m to 365d.\n`,
        });
      }
    }
    expect(server.requests).toHaveLength(0);
  });

  it("--help of the token commands describes --expires-in with its format and maximum", async () => {
    for (const command of ["token:create", "token:runtime:create", "token:build:create"]) {
      const help = (await runCli([command, "--help"], { env })).stdout.replace(/\s+/g, " ");
      expect(help, command).toContain(
        "--expires-in <duration> the token's lifetime: a whole number of minutes, hours or days such as 30m, 12h, 7d or 90d, from 1m to 365d (default: valid until revoked)",
      );
    }
  });

  it("token:build:create passes on the server's refusal for live (exit 1)", async () => {
    const message = "Integrated Composer builds run only in dev or a multidev environment, never in 'live'.";
    server.on("POST", "/v1/tokens", { status: 422, body: errorBody("VALIDATION_FAILED", message) });
    const result = await runCli(["token:build:create", "my-site.live"], { env });
    expect(result).toEqual({ code: 1, stdout: "", stderr: `Error: ${message}\n` });
  });

  it("says the server's expiresIn refusal as --expires-in, the option typed", async () => {
    const message =
      "expiresIn '2h' would outlive the token making this request, which expires at 2026-12-02T10:00:00.000Z: use a shorter expiresIn, or make this token with a token that does not expire.";
    server.on("POST", "/v1/tokens", { status: 422, body: errorBody("VALIDATION_FAILED", message) });
    const result = await runCli(["token:create", "--expires-in=2h"], { env });
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr: `Error: ${message.replaceAll("expiresIn", "--expires-in")}\n`,
    });
    expect(result.stderr).toMatch(/^Error: --expires-in '2h' would outlive/);
  });

  it("token:runtime:create needs an environment (exit 2)", async () => {
    const result = await runCli(["token:runtime:create", "my-site"], { env });
    expect(result.code).toBe(2);
    expect(server.requests).toHaveLength(0);
  });

  it("token:list shows ids, kinds and bindings, never tokens", async () => {
    server.on("GET", "/v1/tokens", {
      body: {
        items: [
          {
            id: "t1",
            kind: "runtime",
            siteName: "my-site",
            environmentName: "live",
            createdAt: "2026-11-01T00:00:00Z",
            lastUsedAt: null,
          },
          {
            id: "t2",
            kind: "user",
            userEmail: "alice@example.com",
            createdAt: "2026-11-02T00:00:00Z",
            lastUsedAt: "2026-11-03T00:00:00Z",
          },
        ],
        next: null,
      },
    });
    const result = await runCli(["token:list", "--site=my-site"], { env });
    expect(result.code).toBe(0);
    expect(server.requests[0]?.query).toEqual({ site: "my-site", limit: "1000" });
    expect(result.stdout).toMatch(/t1\s+runtime\s+my-site\.live\s+2026-11-01T00:00:00Z\s+never/);
    expect(result.stdout).toMatch(
      /t2\s+user\s+alice@example\.com\s+2026-11-02T00:00:00Z\s+2026-11-03T00:00:00Z/,
    );
  });

  it("token:list marks revoked tokens with their revocation time, in the table and in CSV", async () => {
    server.on("GET", "/v1/tokens", {
      body: {
        items: [
          {
            id: "t1",
            kind: "runtime",
            user: null,
            site: "my-site",
            environment: "live",
            createdAt: "2026-11-01T00:00:00Z",
            lastUsedAt: "2026-11-02T00:00:00Z",
            expiresAt: null,
            revokedAt: "2026-11-04T00:00:00Z",
          },
          {
            id: "t2",
            kind: "build",
            user: null,
            site: "my-site",
            environment: "dev",
            createdAt: "2026-11-01T00:00:00Z",
            lastUsedAt: null,
            expiresAt: "2026-12-01T00:00:00Z",
            revokedAt: null,
          },
        ],
        next: null,
      },
    });
    const table = await runCli(["token:list", "--site=my-site"], { env });
    expect(table.code).toBe(0);
    const rule = ` ---- --------- ------ -------------- ${"---------------------- ".repeat(4).trimEnd()}`;
    expect(table.stdout).toBe(
      [
        rule,
        "  id   kind      user   binding        created                last used              expires                revoked",
        rule,
        "  t1   runtime          my-site.live   2026-11-01T00:00:00Z   2026-11-02T00:00:00Z   never                  2026-11-04T00:00:00Z",
        "  t2   build            my-site.dev    2026-11-01T00:00:00Z   never                  2026-12-01T00:00:00Z   no",
        rule,
        "",
      ].join("\n"),
    );
    const csv = await runCli(["token:list", "--site=my-site", "--format=csv"], { env });
    expect(csv.stdout).toBe(
      [
        "id,kind,user,binding,created,last used,expires,revoked",
        "t1,runtime,,my-site.live,2026-11-01T00:00:00Z,2026-11-02T00:00:00Z,never,2026-11-04T00:00:00Z",
        "t2,build,,my-site.dev,2026-11-01T00:00:00Z,never,2026-12-01T00:00:00Z,no",
        "",
      ].join("\n"),
    );
  });

  it("token:revoke revokes by id, and refuses a token given instead of an id without echoing it", async () => {
    server.on("DELETE", "/v1/tokens/:id", { status: 204 });
    const revoked = await runCli(["token:revoke", "t1"], { env });
    expect(revoked).toEqual({ code: 0, stdout: "", stderr: "Token 't1' revoked.\n" });
    const pasted = await runCli(["token:revoke", NEW_USER_TOKEN], { env });
    expect(pasted.code).toBe(2);
    expect(pasted.stderr).not.toContain(NEW_USER_TOKEN.slice(4));
    expect(server.requests).toHaveLength(1);
  });
});
