import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeLockboxServer } from "../testing/fake-lockbox-server.js";
import { runCli } from "../testing/test-io.js";
import { buildVariables, composerCredentials, LOCKBOX_CREDENTIALS } from "./build.js";

const BUILD_TOKEN = `lbb_${"b".repeat(43)}`;

describe("build:run", () => {
  let server: FakeLockboxServer;
  let env: Record<string, string>;
  beforeEach(async () => {
    server = await FakeLockboxServer.start();
    server.on("GET", "/v1/build/secrets", {
      status: 200,
      body: {
        site: "shop",
        environment: "dev",
        version: "v1",
        env: { API_KEY: "k3y-value" },
        composerAuth: {},
      },
    });
    env = {
      PATH: process.env.PATH ?? "",
      LOCKBOX_URL: server.url,
      LOCKBOX_BUILD_TOKEN: BUILD_TOKEN,
      LOCKBOX_TOKEN: `lbx_${"u".repeat(43)}`,
      LOCKBOX_RUNTIME_TOKEN: `lbr_${"r".repeat(43)}`,
      LOCKBOX_BOOTSTRAP_TOKEN: `lbx_${"a".repeat(43)}`,
      LOCKBOX_MASTER_KEY: Buffer.alloc(32, 7).toString("base64"),
      LOCKBOX_PREVIOUS_MASTER_KEYS: Buffer.alloc(32, 8).toString("base64"),
    };
  });
  afterEach(async () => {
    await server.close();
  });

  it("gives the command its secrets but none of Lockbox's own credentials", async () => {
    const result = await runCli(["build:run", "shop.dev", "--", "env"], { env });
    expect(result.code).toBe(0);
    const seen = new Map(result.stdout.split("\n").map((line) => [line.split("=")[0], line] as const));
    expect(seen.get("API_KEY")).toBe("API_KEY=***");
    expect(seen.get("LOCKBOX_URL")).toBe(`LOCKBOX_URL=${server.url}`);
    for (const name of LOCKBOX_CREDENTIALS) expect(seen.has(name)).toBe(false);
  });

  it("leaves secrets named like Lockbox's own variables out of build:run and build:env, naming them", async () => {
    server.on("GET", "/v1/build/secrets", {
      status: 200,
      body: {
        site: "shop",
        environment: "dev",
        version: "v3",
        env: { API_KEY: "k3y-value", LOCKBOX_URL: "http://evil.example", LOCKBOX_BUILD_TOKEN: "stolen-x" },
        composerAuth: {},
      },
    });
    const warning =
      "Warning: skipped, as they cannot be environment variables: 'LOCKBOX_URL' (the name of a variable of Lockbox itself, never passed on), 'LOCKBOX_BUILD_TOKEN' (the name of a variable of Lockbox itself, never passed on).\n";
    const ran = await runCli(["build:run", "shop.dev", "--", "sh", "-c", 'echo "url=$LOCKBOX_URL"'], { env });
    expect(ran).toEqual({ code: 0, stdout: `url=${server.url}\n`, stderr: warning });
    const printed = await runCli(["build:env", "shop.dev", "--format=json"], { env });
    expect(printed.code).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual({ API_KEY: "k3y-value" });
    expect(printed.stderr).toBe(warning);
  });

  it("checks the names the server sends: none reaches the shell that evaluates build:env, nor PATH or LD_PRELOAD a build", async () => {
    // What a server that is not what it should be (or a tampered store) could send.
    server.on("GET", "/v1/build/secrets", {
      status: 200,
      body: {
        site: "shop",
        environment: "dev",
        version: "v4",
        env: { API_KEY: "k3y-value", "A$(touch pwned)": "v", PATH: "/tmp/evil", LD_PRELOAD: "/tmp/evil.so" },
        composerAuth: {},
      },
    });
    const warning =
      "Warning: skipped, as they cannot be environment variables: 'A$(touch pwned)' (only letters, digits and _, not starting with a digit), 'PATH' (reserved: it would hijack the command's shell, loader or runtime), 'LD_PRELOAD' (reserved: it would hijack the command's shell, loader or runtime).\n";
    for (const format of ["shell", "dotenv", "json"]) {
      const printed = await runCli(["build:env", "shop.dev", `--format=${format}`], { env });
      expect(printed.code).toBe(0);
      expect(printed.stdout).toContain("API_KEY");
      expect(printed.stdout).not.toContain("touch");
      expect(printed.stdout).not.toContain("evil");
      expect(printed.stderr).toBe(warning);
    }
    const ran = await runCli(["build:run", "shop.dev", "--", "sh", "-c", 'echo "path=$PATH"'], { env });
    expect(ran).toEqual({ code: 0, stdout: `path=${env.PATH}\n`, stderr: warning });
  });

  it("follows no redirect: the build token goes only to LOCKBOX_URL", async () => {
    const elsewhere = await FakeLockboxServer.start();
    try {
      server.on("GET", "/v1/build/secrets", {
        status: 307,
        headers: { location: `${elsewhere.url}/v1/build/secrets` },
      });
      const result = await runCli(["build:env", "shop.dev"], { env });
      expect(result).toEqual({
        code: 1,
        stdout: "",
        stderr: `Error: The Lockbox server at ${server.url} answered HTTP 307, a redirect to ${elsewhere.url}/v1/build/secrets: builds follow no redirect, so that the build token goes only where it was told. Point LOCKBOX_URL at the Lockbox server itself.\n`,
      });
      expect(elsewhere.requests).toEqual([]);
    } finally {
      await elsewhere.close();
    }
  });

  it("names the variable, the server and the fix when the build token is refused", async () => {
    server.on("GET", "/v1/build/secrets", {
      status: 401,
      body: { error: { code: "UNAUTHENTICATED", message: "The token is invalid, expired or revoked." } },
    });
    const result = await runCli(["build:run", "shop.dev", "--", "true"], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `Error: ${server.url} refused LOCKBOX_BUILD_TOKEN: The token is invalid, expired or revoked. Mint a new build token with: lockbox token:build:create shop.dev\n`,
    );
  });

  it("says when the secrets are too large to be environment variables (E2BIG), exit 126", async () => {
    const env16k = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [`BIG_${i}`, "x".repeat(16_000)]),
    );
    server.on("GET", "/v1/build/secrets", {
      status: 200,
      body: { site: "shop", environment: "dev", version: "v4", env: env16k, composerAuth: {} },
    });
    const result = await runCli(["build:run", "shop.dev", "--", "true"], { env });
    expect(result.code).toBe(126);
    expect(result.stderr).toContain(
      "Error: Cannot run true: its environment is larger than the system allows (E2BIG), so the secrets cannot all be environment variables.",
    );
  });

  it("masks a long non-ASCII value in the command's output, and runs the command to its end", async () => {
    const long = "é".repeat(6000);
    server.on("GET", "/v1/build/secrets", {
      status: 200,
      body: { site: "shop", environment: "dev", version: "v2", env: { LONG: long }, composerAuth: {} },
    });
    const result = await runCli(
      ["build:run", "shop.dev", "--", "sh", "-c", 'printf "%s\\n" "$LONG"; exit 3'],
      {
        env,
      },
    );
    expect(result).toEqual({ code: 3, stdout: "***\n", stderr: "" });
  });

  it("exits with the command's code, and 128 + the signal's number when a signal killed it", async () => {
    const run = async (script: string) =>
      (await runCli(["build:run", "shop.dev", "--", "sh", "-c", script], { env })).code;
    expect(await run("exit 7")).toBe(7);
    expect(await run("kill -SEGV $$")).toBe(139);
    expect(await run("kill -USR1 $$")).toBe(128 + 10);
    expect(await run("kill -TERM $$")).toBe(143);
  });
});

describe("build:env and build:run in test or live", () => {
  let server: FakeLockboxServer;
  beforeEach(async () => {
    server = await FakeLockboxServer.start();
    server.on("GET", "/v1/build/secrets", {
      body: { site: "my-org-site", environment: "dev", version: "v1", env: {}, composerAuth: {} },
    });
  });
  afterEach(async () => {
    await server.close();
  });

  it("says builds never run there instead of asking for a build token that cannot exist (exit 2)", async () => {
    const withToken = {
      LOCKBOX_URL: server.url,
      LOCKBOX_BUILD_TOKEN: BUILD_TOKEN,
      PATH: process.env.PATH ?? "",
    };
    const runs = [
      await runCli(["build:env", "my-org-site.live"], { env: withToken }),
      await runCli(["build:env", "my-org-site.test"], { env: withToken }),
      await runCli(["build:run", "my-org-site.live", "--", "true"], { env: withToken }),
      await runCli(["build:env", "my-org-site.live"], { env: { LOCKBOX_URL: server.url } }),
    ];
    for (const [index, result] of runs.entries()) {
      const env = index === 1 ? "test" : "live";
      expect(result).toEqual({
        code: 2,
        stdout: "",
        stderr: `Error: Integrated Composer builds run only in dev or a multidev environment, never in '${env}'. No build token exists for my-org-site.${env}: run the build in my-org-site.dev or a multidev, with its build token (lockbox token:build:create my-org-site.dev).\n`,
      });
    }
    expect(server.requests).toHaveLength(0);
  });

  it("still names the token's binding when a dev token is used for a multidev", async () => {
    const result = await runCli(["build:env", "my-org-site.feature"], {
      env: { LOCKBOX_URL: server.url, LOCKBOX_BUILD_TOKEN: BUILD_TOKEN },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "Error: LOCKBOX_BUILD_TOKEN is bound to my-org-site.dev, not my-org-site.feature: use the build token of my-org-site.feature.\n",
    );
  });
});

describe("build commands", () => {
  it("composerCredentials() lists every credential of COMPOSER_AUTH but user names, and basic-auth headers", () => {
    const auth = {
      "http-basic": { "repo.example.com": { username: "deploy", password: "pa55" } },
      bearer: { "api.example.com": "tok-123" },
      "bitbucket-oauth": { "bitbucket.org": { "consumer-key": "ck", "consumer-secret": "cs-999" } },
    };
    const credentials = composerCredentials(auth);
    expect(credentials).toEqual(
      expect.arrayContaining([
        "pa55",
        "tok-123",
        "ck",
        "cs-999",
        "deploy:pa55",
        Buffer.from("deploy:pa55").toString("base64"),
      ]),
    );
    expect(credentials).not.toContain("deploy");
  });

  it("buildVariables() adds COMPOSER_AUTH only when the build has Composer credentials", () => {
    const base = { site: "s", environment: "dev", version: "v", env: { A: "1" } };
    expect(buildVariables({ ...base, composerAuth: {} })).toEqual({ A: "1" });
    expect(buildVariables({ ...base, composerAuth: { bearer: { h: "t" } } })).toEqual({
      A: "1",
      COMPOSER_AUTH: '{"bearer":{"h":"t"}}',
    });
  });
});

describe("build:env --help", () => {
  it("shows a form that stops the build when the read fails, not a bare eval of its output", async () => {
    const help = await runCli(["build:env", "--help"]);
    expect(help.code).toBe(0);
    // `eval` of the empty output of a failed build:env succeeds: the build would run without secrets.
    expect(help.stdout).not.toMatch(/eval "\$\(lockbox/);
    expect(help.stdout).toContain(
      'lockbox_env="$(lockbox build:env my-site.dev)" || exit; eval "$lockbox_env"',
    );
  });
});

describe("build:run --help", () => {
  it("says which signals reach the command and the exit code of one killed by a signal", async () => {
    const help = await runCli(["build:run", "--help"]);
    expect(help.code).toBe(0);
    const text = help.stdout.replace(/\s+/g, " ");
    expect(text).toContain(
      "SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are passed on to the command",
    );
    expect(text).toContain("128 + n");
  });
});
