import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { secretVariables, skippedMessage } from "../child-process.js";
import { FakeLockboxServer } from "../testing/fake-lockbox-server.js";
import { runCli, temporaryDirectory } from "../testing/test-io.js";

const RUNTIME_TOKEN = `lbr_${"r".repeat(43)}`;
const PATH = process.env.PATH ?? "";

describe("run: arguments", () => {
  let dir: Awaited<ReturnType<typeof temporaryDirectory>>;
  let env: Record<string, string>;
  beforeEach(async () => {
    dir = await temporaryDirectory();
    const file = join(dir.path, "secrets.json");
    await writeFile(
      file,
      JSON.stringify({ Secrets: { API_KEY: { Value: "k3y" }, PATH: { Value: "/nowhere" } } }),
    );
    // API_KEY already set: the secret wins.
    env = { PATH, LOCKBOX_SECRETS_FILE: file, API_KEY: "from-the-parent" };
  });
  afterEach(async () => {
    await dir.remove();
  });

  it("documents the command in --help: credentials kept, signals passed on, --watch and its options, '--'", async () => {
    const help = await runCli(["run", "--help"]);
    expect(help.code).toBe(0);
    for (const text of [
      "Usage: lockbox run [options] <command...>",
      "LOCKBOX_RUNTIME_TOKEN",
      "LOCKBOX_SECRETS_FILE",
      "128 + n",
      "SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are passed on",
      "--watch",
      "--interval <seconds>",
      "--grace <seconds>",
      "blocking reads",
      "Options go before '--'",
      "lockbox run -- node server.js",
    ]) {
      expect(help.stdout.replace(/\s+/g, " ")).toContain(text.replace(/\s+/g, " "));
    }
    const list = await runCli(["--help"]);
    expect(list.stdout).toContain("Applications (with LOCKBOX_RUNTIME_TOKEN or LOCKBOX_SECRETS_FILE):");
  });

  it("needs a command", async () => {
    const result = await runCli(["run", "--watch"], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("missing required argument 'command'");
  });

  it.each([
    [["--interval=10"], "--interval and --grace only apply with --watch"],
    [["--grace=1"], "--interval and --grace only apply with --watch"],
    [["--watch", "--interval=0"], "--interval must be a number of seconds above 0 up to 86400"],
    [["--watch", "--interval=soon"], "--interval must be a number of seconds above 0 up to 86400"],
    [["--watch", "--interval="], "--interval must be a number of seconds above 0 up to 86400"],
    [["--watch", "--grace=-1"], "--grace must be a number of seconds from 0 up to 86400"],
    [["--watch", "--grace=90000"], "--grace must be a number of seconds from 0 up to 86400"],
  ])("refuses %j with a usage error, running nothing", async (options, message) => {
    const result = await runCli(["run", ...options, "--", "sh", "-c", "echo ran"], { env });
    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toContain(`Error: ${message}`);
  });

  it("says which variables to set when neither a server nor a file is configured (exit 2)", async () => {
    const result = await runCli(["run", "--", "sh", "-c", "echo ran"], { env: { PATH } });
    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toContain("set LOCKBOX_URL and LOCKBOX_RUNTIME_TOKEN");
    expect(result.stderr).toContain("LOCKBOX_SECRETS_FILE");
  });

  it("passes options after '--' to the command, and skips a reserved name, saying why", async () => {
    const result = await runCli(
      ["run", "--", "sh", "-c", 'echo "$1 $API_KEY"; [ "$PATH" != /nowhere ]', "sh", "--watch"],
      { env },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("--watch k3y\n");
    expect(result.stderr).toBe(
      "Warning: skipped, as they cannot be environment variables: 'PATH' (reserved: it would hijack the command's shell, loader or runtime).\n",
    );
  });

  it("names an unknown command with a shell's exit 127, and one it cannot run with 126", async () => {
    const result = await runCli(["run", "--", "no-such-command-for-lockbox-run"], { env });
    expect(result.code).toBe(127);
    expect(result.stderr).toContain("Error: Command not found: no-such-command-for-lockbox-run");
    const dir = await temporaryDirectory();
    const notExecutable = join(dir.path, "script.sh");
    await writeFile(notExecutable, "#!/bin/sh\necho hi\n", { mode: 0o644 });
    try {
      const refused = await runCli(["run", "--", notExecutable], { env });
      expect(refused.code).toBe(126);
      expect(refused.stderr).toContain(`Error: Cannot run ${notExecutable}:`);
    } finally {
      await dir.remove();
    }
  });
});

describe("run against a server that refuses the token", () => {
  let server: FakeLockboxServer;
  beforeEach(async () => {
    server = await FakeLockboxServer.start();
    server.on("GET", "/site/secrets", {
      status: 401,
      body: { error: { code: "UNAUTHENTICATED", message: "no" } },
    });
  });
  afterEach(async () => {
    await server.close();
  });

  it("exits 1 without starting the command", async () => {
    const result = await runCli(["run", "--", "sh", "-c", "echo ran"], {
      env: { PATH, LOCKBOX_URL: server.url, LOCKBOX_RUNTIME_TOKEN: RUNTIME_TOKEN },
    });
    expect(result).toMatchObject({ code: 1, stdout: "" });
    expect(result.stderr).toContain("refused the runtime token (HTTP 401");
    expect(result.stderr).toContain("sh was not started.");
  });
});

describe("run --watch against a server that goes away for a while", () => {
  let server: FakeLockboxServer;
  const set = (value: string, version: string) => ({
    body: { Secrets: { API_KEY: { Type: "runtime", Value: value, Scopes: ["web"] } }, Version: version },
  });
  beforeEach(async () => {
    server = await FakeLockboxServer.start();
    server.on("GET", "/site/secrets", (request, call) => {
      if (call === 0) return set("v1", "1");
      if (call < 4) return { status: 503, body: { error: { code: "UNAVAILABLE", message: "down" } } };
      if (call < 6) return request.headers["if-none-match"] === '"1"' ? { status: 304 } : set("v1", "1");
      return set("v2", "2");
    });
  });
  afterEach(async () => {
    await server.close();
  });

  it("keeps the command running through the outage (one warning), then restarts it on the change", async () => {
    // The second command exits on its own: run ends with its code.
    const script =
      'echo "started $API_KEY"; [ "$API_KEY" = v2 ] && exit 3; trap "exit 0" TERM; while :; do sleep 0.02; done';
    const result = await runCli(
      ["run", "--watch", "--interval=0.05", "--grace=5", "--", "sh", "-c", script],
      {
        env: { PATH, LOCKBOX_URL: server.url, LOCKBOX_RUNTIME_TOKEN: RUNTIME_TOKEN },
      },
    );
    expect(result.stdout).toBe("started v1\nstarted v2\n");
    expect(result.code).toBe(3);
    expect(result.stderr.match(/Warning: Lockbox: serving the secrets last confirmed/g)).toHaveLength(1);
    expect(result.stderr).toContain(
      "lockbox run: the secrets changed; restarting sh (SIGTERM, then SIGKILL after 5 s).",
    );
    expect(result.stderr).not.toContain("v2");
    // Each look after the first is a conditional request.
    expect(server.requests[4]?.headers["if-none-match"]).toBe('"1"');
  });
});

describe("secretVariables", () => {
  it("keeps environment variable names and skips the others and the reserved ones", () => {
    expect(
      secretVariables({
        A: "1",
        _b2: "2",
        "feature.flag": "3",
        "9LIVES": "4",
        LD_PRELOAD: "5",
        "a-b": "6",
        LOCKBOX_TOKEN: "7",
      }),
    ).toEqual({
      variables: { A: "1", _b2: "2" },
      skipped: [
        { name: "feature.flag", reason: "only letters, digits and _, not starting with a digit" },
        { name: "9LIVES", reason: "only letters, digits and _, not starting with a digit" },
        { name: "LD_PRELOAD", reason: "reserved: it would hijack the command's shell, loader or runtime" },
        { name: "a-b", reason: "only letters, digits and _, not starting with a digit" },
        { name: "LOCKBOX_TOKEN", reason: "the name of a variable of Lockbox itself, never passed on" },
      ],
    });
  });

  it("skips a value with a NUL byte (a runtime secret may hold one), naming it without its value", () => {
    const { variables, skipped } = secretVariables({ A: "1", BINARY: "Top\0Secret" });
    expect(variables).toEqual({ A: "1" });
    expect(skippedMessage(skipped)).toBe(
      "skipped, as they cannot be environment variables: 'BINARY' (its value holds a NUL byte, which an environment variable cannot).",
    );
  });
});
