import { access, chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { errorBody, FakeLockboxServer } from "../testing/fake-lockbox-server.js";
import { FakeTerminal, runCli, temporaryDirectory } from "../testing/test-io.js";

const TOKEN = `lbx_${"L".repeat(43)}`;
const OTHER_TOKEN = `lbx_${"O".repeat(43)}`;
const WHOAMI = {
  user: { id: "0b7c4b3e-2f1a-4d7e-9a55-2d1f0c9e8b11", email: "alice@example.com", admin: false },
  token: { id: "tok-1", kind: "user" },
};

let server: FakeLockboxServer;
let dir: Awaited<ReturnType<typeof temporaryDirectory>>;
let configDir: string;

beforeEach(async () => {
  server = await FakeLockboxServer.start();
  server.on("GET", "/v1/whoami", (request) =>
    request.headers.authorization === `Bearer ${TOKEN}` ||
    request.headers.authorization === `Bearer ${OTHER_TOKEN}`
      ? { body: WHOAMI }
      : { status: 401, body: errorBody("UNAUTHENTICATED", "The token is invalid, expired or revoked.") },
  );
  server.on("GET", "/v1/orgs", { body: { items: [], next: null } });
  dir = await temporaryDirectory();
  configDir = join(dir.path, "lockbox");
});

afterEach(async () => {
  await server.close();
  await dir.remove();
});

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe("auth:login", () => {
  it("verifies a token read from stdin and saves it with mode 0600 in a 0700 directory", async () => {
    const result = await runCli(["auth:login", `--url=${server.url}`], { stdin: `${TOKEN}\n`, configDir });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      `Logged in to ${server.url} as alice@example.com. Saved to ${join(configDir, "config.json")}.\n`,
    );
    expect(result.stdout).toBe("");
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const path = join(configDir, "config.json");
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({ url: server.url, token: TOKEN });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(configDir)).mode & 0o777).toBe(0o700);
  });

  it("saves under $XDG_CONFIG_HOME/lockbox by default", async () => {
    const result = await runCli(["auth:login", `--url=${server.url}`], {
      stdin: TOKEN,
      env: { XDG_CONFIG_HOME: dir.path },
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(await readFile(join(dir.path, "lockbox", "config.json"), "utf8")).token).toBe(TOKEN);
  });

  it("tightens an existing config file to 0600 when it rewrites it", async () => {
    await mkdir(configDir, { recursive: true });
    await writeFile(join(configDir, "config.json"), "{}", { mode: 0o644 });
    await chmod(join(configDir, "config.json"), 0o644);
    await runCli(["auth:login", `--url=${server.url}`], { stdin: TOKEN, configDir });
    expect((await stat(join(configDir, "config.json"))).mode & 0o777).toBe(0o600);
  });

  it("never takes the token from the command line, and never echoes it", async () => {
    for (const argv of [
      ["auth:login", TOKEN],
      ["auth:login", `--token=${TOKEN}`],
      ["auth:login", "--token", TOKEN],
      ["auth:login", `--url=${server.url}`, TOKEN],
    ]) {
      const result = await runCli(argv, { stdin: "", configDir });
      expect(result.code).toBe(2);
      expect(result.stderr).not.toContain(TOKEN.slice(4));
      expect(result.stdout).not.toContain(TOKEN.slice(4));
    }
    expect(server.requests).toHaveLength(0);
    expect(await exists(join(configDir, "config.json"))).toBe(false);
  });

  it("prompts for the token without echo on a terminal", async () => {
    const terminal = new FakeTerminal();
    terminal.type(`${TOKEN}\r`);
    const result = await runCli(["auth:login", `--url=${server.url}`], { stdin: terminal, configDir });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("Lockbox token (input is hidden): ");
    expect(result.stderr).not.toContain(TOKEN);
    expect(terminal.rawModeChanges).toEqual([true, false]);
    expect(JSON.parse(await readFile(join(configDir, "config.json"), "utf8")).token).toBe(TOKEN);
  });

  it("saves nothing when the server refuses the token (exit 1)", async () => {
    const bad = `lbx_${"B".repeat(43)}`;
    const result = await runCli(["auth:login", `--url=${server.url}`], { stdin: bad, configDir });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `Error: The server at ${server.url} refused the token: The token is invalid, expired or revoked. Nothing was saved.\n`,
    );
    expect(result.stderr).not.toContain(bad.slice(4));
    expect(await exists(join(configDir, "config.json"))).toBe(false);
  });

  it("refuses a --url without a scheme, of another scheme, or ending with /v1, before asking for the token", async () => {
    const token = `lbx_${"t".repeat(43)}`;
    for (const [url, message] of [
      [
        "127.0.0.1:8411",
        "--url '127.0.0.1:8411' has no scheme: use http://127.0.0.1:8411 or https://127.0.0.1:8411.",
      ],
      ["ftp://lockbox.example.com", "--url 'ftp://lockbox.example.com' is not an http:// or https:// URL."],
      [
        "http://127.0.0.1:8411/v1",
        "--url 'http://127.0.0.1:8411/v1' ends with /v1: give the server's base URL, http://127.0.0.1:8411 (the CLI adds /v1).",
      ],
      [
        "https://example.com/lockbox/v1/",
        "--url 'https://example.com/lockbox/v1/' ends with /v1: give the server's base URL, https://example.com/lockbox (the CLI adds /v1).",
      ],
    ]) {
      const result = await runCli(["auth:login", `--url=${url}`], { stdin: token, configDir });
      expect(result).toEqual({ code: 2, stdout: "", stderr: `Error: ${message}\n` });
    }
    expect(server.requests).toHaveLength(0);
  });

  it("refuses an empty token (exit 2) and a runtime token", async () => {
    const empty = await runCli(["auth:login", `--url=${server.url}`], { stdin: "\n", configDir });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("No token was given");
    const runtime = await runCli(["auth:login", `--url=${server.url}`], {
      stdin: `lbr_${"r".repeat(43)}`,
      configDir,
    });
    expect(runtime.code).toBe(2);
    expect(runtime.stderr).toContain("auth:login needs a user token");
    expect(server.requests).toHaveLength(0);
  });

  it("names the URL when the server cannot be reached (exit 1)", async () => {
    const url = server.url;
    await server.close();
    const result = await runCli(["auth:login", `--url=${url}`], { stdin: TOKEN, configDir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `Error: Cannot reach the Lockbox server at ${url} (--url): connection refused`,
    );
    expect(result.stderr).toContain(
      "Nothing was saved. Start the server, or give its URL: lockbox auth:login --url=",
    );
    expect(result.stderr).not.toContain("run lockbox auth:login");
    expect(await exists(join(configDir, "config.json"))).toBe(false);
    server = await FakeLockboxServer.start();
  });

  it("says where the URL came from when it was not --url (here LOCKBOX_URL), and how to give one", async () => {
    const url = server.url;
    await server.close();
    const result = await runCli(["auth:login"], { stdin: TOKEN, configDir, env: { LOCKBOX_URL: url } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `Cannot reach the Lockbox server at ${url} (LOCKBOX_URL): connection refused`,
    );
    expect(result.stderr).toContain("lockbox auth:login --url=<server URL>");
    expect(result.stderr).not.toContain("run lockbox auth:login");
    server = await FakeLockboxServer.start();
  });
});

describe("the saved login", () => {
  it("is used by later commands, and LOCKBOX_URL/LOCKBOX_TOKEN override it; its token goes to no other server", async () => {
    await runCli(["auth:login", `--url=${server.url}`], { stdin: TOKEN, configDir });
    const saved = await runCli(["org:list"], { configDir });
    expect(saved.code).toBe(0);
    expect(server.requests.at(-1)?.headers.authorization).toBe(`Bearer ${TOKEN}`);

    await runCli(["org:list"], { configDir, env: { LOCKBOX_TOKEN: OTHER_TOKEN } });
    expect(server.requests.at(-1)?.headers.authorization).toBe(`Bearer ${OTHER_TOKEN}`);

    const elsewhere = await FakeLockboxServer.start();
    try {
      elsewhere.on("GET", "/v1/orgs", { body: { items: [] } });
      const refused = await runCli(["org:list"], { configDir, env: { LOCKBOX_URL: elsewhere.url } });
      expect([refused.code, refused.stderr]).toEqual([
        2,
        `Error: LOCKBOX_URL (${elsewhere.url}) is not the server of your login (${server.url}), and the saved token goes only to that server: set LOCKBOX_TOKEN for ${elsewhere.url}, run lockbox auth:login --url ${elsewhere.url}, or unset LOCKBOX_URL.\n`,
      ]);
      expect(elsewhere.requests).toHaveLength(0);
      await runCli(["org:list"], {
        configDir,
        env: { LOCKBOX_URL: elsewhere.url, LOCKBOX_TOKEN: OTHER_TOKEN },
      });
      expect(elsewhere.requests[0]?.headers.authorization).toBe(`Bearer ${OTHER_TOKEN}`);
    } finally {
      await elsewhere.close();
    }
  });

  it("is required: without it a command says to run lockbox auth:login (exit 1)", async () => {
    const result = await runCli(["org:list"], { configDir });
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "Error: No Lockbox server is configured: run lockbox auth:login (or set LOCKBOX_URL and LOCKBOX_TOKEN).\n",
    });
  });

  it("is shown by auth:whoami and removed by auth:logout", async () => {
    await runCli(["auth:login", `--url=${server.url}`], { stdin: TOKEN, configDir });
    const who = await runCli(["auth:whoami", "--format=json"], { configDir });
    expect(who.code).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ url: server.url, user: { email: "alice@example.com" } });
    expect(who.stdout).not.toContain(TOKEN);
    const table = await runCli(["auth:whoami"], { configDir });
    expect(table.stdout).toMatch(/email\s+alice@example.com/);
    expect(table.stdout).toMatch(/token expires\s+never/);

    const logout = await runCli(["auth:logout"], { configDir });
    expect(logout).toEqual({
      code: 0,
      stdout: "",
      stderr: `Logged out: deleted ${join(configDir, "config.json")}.\n`,
    });
    expect(await exists(join(configDir, "config.json"))).toBe(false);
    expect((await runCli(["org:list"], { configDir })).code).toBe(1);
  });

  it("warns when the config file is readable by others", async () => {
    await runCli(["auth:login", `--url=${server.url}`], { stdin: TOKEN, configDir });
    await chmod(join(configDir, "config.json"), 0o644);
    const result = await runCli(["org:list"], { configDir });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("can be read by other users (mode 644): run chmod 600");
  });

  it("adds the login hint to a 401 from any command", async () => {
    const result = await runCli(["org:list"], {
      env: { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: "lbx_revoked" },
    });
    server.on("GET", "/v1/orgs", {
      status: 401,
      body: errorBody("UNAUTHENTICATED", "The token is invalid, expired or revoked."),
    });
    const refused = await runCli(["org:list"], {
      env: { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: "lbx_revoked" },
    });
    expect(result.code).toBe(0);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      "Error: The token is invalid, expired or revoked. Log in again with lockbox auth:login (or check LOCKBOX_TOKEN).\n",
    );
  });
});
