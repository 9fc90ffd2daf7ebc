import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CLI_BIN } from "./e2e/harness.js";
import { createProgram } from "./main.js";
import { errorBody, FakeLockboxServer } from "./testing/fake-lockbox-server.js";
import { CapturedOutput, runCli } from "./testing/test-io.js";

const TOKEN = `lbx_${"m".repeat(43)}`;

let server: FakeLockboxServer;
let env: Record<string, string>;

beforeEach(async () => {
  server = await FakeLockboxServer.start();
  env = { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: TOKEN };
  server.on("GET", "/v1/orgs", { body: { items: [{ id: "o1", name: "acme", role: "admin" }], next: null } });
});

afterEach(async () => {
  await server.close();
});

/** Every command of SPEC §8 this package implements, with its aliases. */
const SPEC_COMMANDS = [
  "secret:site:set",
  "secret:set",
  "secret-set",
  "secret:site:list",
  "secret:list",
  "secrets",
  "secret:site:delete",
  "secret:delete",
  "secret-delete",
  "secret:site:resolve",
  "secret:org:set",
  "secret-org-set",
  "secret:org:list",
  "secret-org-list",
  "secret:org:delete",
  "secret-org-delete",
  "auth:login",
  "auth:whoami",
  "auth:logout",
  "user:create",
  "token:create",
  "org:create",
  "org:list",
  "org:delete",
  "org:member:add",
  "org:member:remove",
  "site:create",
  "site:list",
  "site:info",
  "site:delete",
  "site:transfer",
  "site:supporting-org:add",
  "site:supporting-org:remove",
  "site:team:add",
  "site:team:remove",
  "multidev:create",
  "multidev:delete",
  "env:list",
  "token:runtime:create",
  "token:build:create",
  "token:list",
  "token:revoke",
  "audit:list",
  "audit:verify",
];

describe("lockbox", () => {
  it("has every command and alias of SPEC §8, each with --help and an example", async () => {
    for (const name of SPEC_COMMANDS) {
      const result = await runCli([name, "--help"]);
      expect(result.code, name).toBe(0);
      expect(result.stdout, name).toMatch(/Examples:\n {2}\$ lockbox /);
    }
  });

  it("lists every alias of a command in the command list", async () => {
    const help = (await runCli(["help"])).stdout;
    expect(help).toContain("secret:site:set|secret:set|secret-set [options] <site> <name> [value]");
    expect(help).toContain("secret:site:list|secret:list|secrets [options] <site>");
    expect(help).toContain("secret:site:delete|secret:delete|secret-delete <site> <name>");
  });

  it("gives every registered command an example in its help", () => {
    const io = {
      stdin: Readable.from([]),
      stdout: new CapturedOutput(),
      stderr: new CapturedOutput(),
      env: {},
    };
    const program = createProgram(io);
    for (const command of program.commands) {
      if (command.name() === "help") continue;
      const shown = new CapturedOutput();
      command.configureOutput({ writeOut: (text) => shown.write(text) });
      command.outputHelp();
      expect(shown.text, command.name()).toContain("$ lockbox ");
    }
  });

  it("exits 0 on success, writing data to stdout only", async () => {
    const result = await runCli(["org:list", "--format=json"], { env });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([{ id: "o1", name: "acme", role: "admin" }]);
    expect(result.stderr).toBe("");
  });

  it("exits 2 on an unknown command, with a suggestion", async () => {
    const result = await runCli(["secret:site:lst", "x"], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("error: unknown command 'secret:site:lst'");
    expect(result.stderr).toContain("Did you mean secret:site:list?");
  });

  it("exits 2 on an unknown --name=value, suggesting the closest option and never echoing the value", async () => {
    for (const [argv, said] of [
      [
        ["secret:site:set", "my-site", "K", "v", "--scopes=web,s3cr3t-scope"],
        "--scopes'\n(Did you mean --scope?)",
      ],
      [["org:list", "--fromat=s3cr3t-format"], "--fromat'\n(Did you mean --format?)"],
    ] as const) {
      const result = await runCli([...argv], { env });
      expect(result.code, argv.join(" ")).toBe(2);
      expect(result.stderr).toContain(`error: unknown option '${said}`);
      expect(result.stderr).not.toContain("s3cr3t");
    }
    // As for `--name value`, which commander always suggested for.
    const spaced = await runCli(["secret:site:set", "my-site", "K", "v", "--scopes", "web"], { env });
    expect(spaced.stderr).toContain("error: unknown option '--scopes'\n(Did you mean --scope?)");
    expect(server.requests).toHaveLength(0);
  });

  it("exits 2 on an unknown option, a missing argument, too many arguments and a bad choice", async () => {
    for (const argv of [
      ["org:list", "--colour"],
      ["secret:site:list"],
      ["secret:site:list", "a", "b"],
      ["org:list", "--format=xml"],
      [],
    ]) {
      const result = await runCli(argv, { env });
      expect(result.code, argv.join(" ")).toBe(2);
      expect(result.stdout, argv.join(" ")).toBe("");
    }
    expect(server.requests).toHaveLength(0);
  });

  it("points --env on a site command to <site>.<env>", async () => {
    for (const argv of [
      ["secret:site:list", "my-site", "--env=live"],
      ["secret:site:history", "my-site", "API_KEY", "--env", "live"],
    ]) {
      const result = await runCli(argv, { env });
      expect(result.code, argv.join(" ")).toBe(2);
      expect(result.stderr).toContain(
        "unknown option '--env': a site command takes the environment with the site, as <site>.<env> (my-site.live)",
      );
    }
    expect(server.requests).toHaveLength(0);
  });

  it("exits 1 on an API error, printing the server's message", async () => {
    server.on("DELETE", "/v1/orgs/acme", {
      status: 409,
      body: errorBody("CONFLICT", "Organization 'acme' still owns sites: transfer or delete them first."),
    });
    const result = await runCli(["org:delete", "acme"], { env });
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr: "Error: Organization 'acme' still owns sites: transfer or delete them first.\n",
    });
  });

  it("adds the request id to a server failure", async () => {
    server.on("GET", "/v1/orgs", {
      status: 500,
      body: errorBody("INTERNAL", "Something went wrong on the server."),
    });
    const result = await runCli(["org:list"], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("Error: Something went wrong on the server. (request ID req-test-1)\n");
  });

  it("exits 1 when the server cannot be reached, naming the URL", async () => {
    const url = server.url;
    await server.close();
    const result = await runCli(["org:list"], { env: { LOCKBOX_URL: url, LOCKBOX_TOKEN: TOKEN } });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `Error: Cannot reach the Lockbox server at ${url}: connection refused (ECONNREFUSED). Is it running? Check LOCKBOX_URL or run lockbox auth:login.\n`,
    );
    server = await FakeLockboxServer.start();
  });

  it("says in the global help and in the help of each command that takes '--' that options go before it", async () => {
    const global = await runCli(["--help"]);
    expect(global.code).toBe(0);
    expect(global.stdout).toContain(
      "Options go before '--': everything after '--' is an argument, never an option (a value that starts with '-', or the command of build:run).",
    );
    for (const [command, what] of [
      ["secret:site:set", "the value"],
      ["secret:org:set", "the value"],
      ["build:run", "the command to run and its arguments"],
    ] as const) {
      const help = await runCli([command, "--help"]);
      expect(help.stdout, command).toContain(`Options go before '--': everything after '--' is ${what}`);
    }
  });

  it("prints the version", async () => {
    const result = await runCli(["--version"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it("waits as Retry-After says on HTTP 429 and tells the user once", async () => {
    const rateLimited = {
      status: 429,
      headers: { "retry-after": "1" },
      body: errorBody("RATE_LIMITED", "Too many requests for this token: retry in 1 s."),
    };
    const times: number[] = [];
    server.on("GET", "/v1/orgs", (_request, call) => {
      times.push(Date.now());
      return call < 2 ? rateLimited : { body: { items: [{ id: "o1", name: "acme" }], next: null } };
    });
    const result = await runCli(["org:list", "--format=json"], { env });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([{ id: "o1", name: "acme" }]);
    expect(result.stderr).toBe("Rate limited by the server; retrying in 1 s…\n");
    expect(times).toHaveLength(3);
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(950);
    expect((times[2] as number) - (times[1] as number)).toBeGreaterThanOrEqual(950);
  });

  it("gives up after repeated 429s with exit 1", async () => {
    server.on("GET", "/v1/orgs", {
      status: 429,
      headers: { "retry-after": "0" },
      body: errorBody("RATE_LIMITED", "Too many requests for this token: retry in 0 s."),
    });
    const result = await runCli(["org:list"], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "Rate limited by the server; retrying in 0 s…\nError: Too many requests for this token: retry in 0 s.\n",
    );
    expect(server.requests).toHaveLength(6);
  });
});

describe("configuration mistakes are usage errors (exit 2)", () => {
  it("a LOCKBOX_URL without a scheme, and a --value-file that does not exist", async () => {
    const url = await runCli(["org:list"], { env: { LOCKBOX_URL: "127.0.0.1:18473", LOCKBOX_TOKEN: TOKEN } });
    expect([url.code, url.stderr]).toEqual([
      2,
      "Error: The Lockbox server URL is not a valid URL: use the form https://lockbox.example.com (check LOCKBOX_URL or run lockbox auth:login --url=…).\n",
    ]);
    const file = await runCli(["secret:site:set", "my-site", "K", "--value-file=/no/such/file"], { env });
    expect([file.code, file.stderr]).toEqual([
      2,
      "Error: Cannot read the value file /no/such/file (ENOENT): check the path given to --value-file.\n",
    ]);
  });
});

/** Whether `text` holds a control character other than the newline. */
const hasControls = (text: string) => [...text].some((c) => c !== "\n" && (c < " " || c === "\u007f"));

describe("what a server sends reaches the terminal shown, not obeyed", () => {
  it("writes the control characters of an error message and of notes as \\xNN", async () => {
    const trap = "nope \u001b]0;PWNED\u0007\u001b[2J\rOVER";
    server.on("GET", "/v1/orgs", {
      status: 400,
      body: { error: { code: "BAD_REQUEST", message: trap, requestId: "r\u001b[31m" } },
    });
    const failed = await runCli(["org:list"], { env });
    expect(failed.code).toBe(1);
    expect(hasControls(failed.stderr)).toBe(false);
    expect(failed.stderr).toContain("nope \\x1b]0;PWNED\\x07\\x1b[2J\\x0dOVER");
    server.on("PUT", "/v1/sites/my-site/secrets/K", {
      body: { message: "Set \u001b[2J", notes: ["note \u001b]0;T\u0007"] },
    });
    const set = await runCli(["secret:site:set", "my-site", "K", "v"], { env });
    expect(hasControls(set.stderr)).toBe(false);
  });
});

describe("files given for a value or an import are read up to 1 MiB", () => {
  it.skipIf(!existsSync("/dev/zero"))(
    "refuses /dev/zero at once instead of reading it into memory",
    async () => {
      const value = await runCli(["secret:site:set", "my-site", "K", "--value-file=/dev/zero"], { env });
      expect([value.code, value.stderr]).toEqual([
        1,
        "Error: The value file /dev/zero is longer than 1048576 bytes: check the path given to --value-file.\n",
      ]);
      const imported = await runCli(["secret:site:import", "my-site", "/dev/zero"], { env });
      expect([imported.code, imported.stderr]).toEqual([
        1,
        "Error: The file /dev/zero is longer than an import can be (1048576 bytes): check the path of the file to import.\n",
      ]);
    },
  );
});

describe("the lockbox process", () => {
  it.skipIf(!existsSync("/dev/full"))(
    "says in one line, without a stack trace, that its output could not be written (a full disk), and exits 1",
    async () => {
      const full = openSync("/dev/full", "w");
      try {
        const child = spawn(process.execPath, [CLI_BIN, "org:list"], {
          stdio: ["ignore", full, "pipe"],
          env: { ...process.env, ...env },
        });
        let stderr = "";
        child.stderr?.on("data", (chunk) => {
          stderr += String(chunk);
        });
        const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
        expect(stderr).toBe(
          "Error: cannot write the output (ENOSPC): nothing more was written. Check where stdout goes (a full disk?).\n",
        );
        expect(code).toBe(1);
      } finally {
        closeSync(full);
      }
    },
  );
});
