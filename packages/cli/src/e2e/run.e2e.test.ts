import { utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cliAs,
  type E2eServer,
  e2eDatabases,
  expectSuccess,
  lastLine,
  startE2eServer,
} from "./e2e-fixtures.js";
import { type CliResult, runCli, startCli } from "./harness.js";

/**
 * `lockbox run` against a real server process, driving the real CLI, with a real Node.js child:
 * the values it gets (from the server and from a local file), its exit code, the names it does not
 * get, the credentials kept from it, SIGTERM passed on, and `--watch` restarting it on a change.
 */

/** Prints what the child sees as one JSON line, then exits with the code in argv[2]. */
const SHOW_ENV = `
const seen = { API_KEY: process.env.API_KEY ?? null, DB_PASSWORD: process.env.DB_PASSWORD ?? null,
  FLAG: process.env["feature.flag"] ?? null, RUNTIME: process.env.LOCKBOX_RUNTIME_TOKEN ?? null,
  TOKEN: process.env.LOCKBOX_TOKEN ?? null, URL: process.env.LOCKBOX_URL ?? null };
console.log(JSON.stringify(seen));
process.exit(Number(process.argv[2] ?? 0));
`;

/**
 * Says it started (with API_KEY), keeps running, and exits 42 on SIGTERM, saying so. Its pid goes
 * to stderr, so that a test can clean up a child left behind.
 */
const SERVE = `
process.on("SIGTERM", () => { console.log("got SIGTERM"); process.exit(42); });
console.error("pid " + process.pid);
console.log("started " + process.env.API_KEY);
setInterval(() => {}, 1000);
`;

function seen(result: CliResult): Record<string, string | null> {
  return JSON.parse(result.stdout.trim()) as Record<string, string | null>;
}

const [sqlite] = await e2eDatabases();

describe("lockbox run", () => {
  let e2e: E2eServer;
  let admin: ReturnType<typeof cliAs>;
  let runtimeEnv: Record<string, string>;
  let script: (name: string, code: string) => string;

  beforeAll(async () => {
    e2e = await startE2eServer(sqlite as NonNullable<typeof sqlite>);
    admin = cliAs(e2e, e2e.adminToken);
    const nulFile = join(e2e.dir, "nul.bin");
    writeFileSync(nulFile, "Top\0Secret");
    for (const args of [
      ["org:create", "run-org"],
      ["site:create", "run-site", "--org=run-org"],
      ["secret:site:set", "run-site", "API_KEY", "k3y-base", "--scope=web,user"],
      ["secret:site:set", "run-site.live", "API_KEY", "k3y-live"],
      ["secret:site:set", "run-site", "DB_PASSWORD", "pa55-word", "--scope=web"],
      // A runtime secret whose name is no environment variable name.
      ["secret:site:set", "run-site", "feature.flag", "on", "--scope=web,user"],
      // A runtime secret may hold a NUL byte; no environment variable can.
      ["secret:site:set", "run-site", "BINARY_BLOB", `--value-file=${nulFile}`, "--scope=web"],
    ]) {
      expectSuccess(await admin(args));
    }
    const token = lastLine(expectSuccess(await admin(["token:runtime:create", "run-site.live"])));
    expect(token).toMatch(/^lbr_/);
    runtimeEnv = { LOCKBOX_URL: e2e.server.url, LOCKBOX_RUNTIME_TOKEN: token, LOCKBOX_TOKEN: e2e.adminToken };
    script = (name, code) => {
      const path = join(e2e.dir, name);
      writeFileSync(path, code);
      return path;
    };
  }, 60_000);
  afterAll(async () => {
    await e2e?.close();
  });

  const run = (args: string[], env: Record<string, string>) =>
    runCli(["run", ...args], { cwd: e2e.dir, env: { HOME: e2e.dir, ...env } });

  it("gives a Node.js child the runtime set from the server and exits with its code, skipping names that are no variables", async () => {
    const result = await run(["--", process.execPath, script("show.js", SHOW_ENV), "7"], runtimeEnv);
    expect(result.code, result.stderr).toBe(7);
    expect(seen(result)).toEqual({
      API_KEY: "k3y-live",
      DB_PASSWORD: "pa55-word",
      FLAG: null,
      // Lockbox's own credentials stay with lockbox; the URL is no credential.
      RUNTIME: null,
      TOKEN: null,
      URL: e2e.server.url,
    });
    expect(result.stderr).toBe(
      "Warning: skipped, as they cannot be environment variables: 'BINARY_BLOB' (its value holds a NUL byte, which an environment variable cannot), 'feature.flag' (only letters, digits and _, not starting with a digit).\n",
    );
    expect(result.stderr).not.toContain("on'");
    expect(result.stderr).not.toContain("Top");
  });

  it("gives the child the values of a local file written by secret:site:local-generate, for LOCKBOX_ENV", async () => {
    const file = join(e2e.dir, "secrets.json");
    expectSuccess(await admin(["secret:site:local-generate", "run-site", `--filepath=${file}`]));
    const show = script("show.js", SHOW_ENV);
    const live = await run(["--", process.execPath, show], {
      LOCKBOX_SECRETS_FILE: file,
      LOCKBOX_ENV: "live",
    });
    expect(live.code, live.stderr).toBe(0);
    // DB_PASSWORD has no user scope: local-generate writes it redacted, so the child lacks it.
    expect(seen(live)).toMatchObject({ API_KEY: "k3y-live", DB_PASSWORD: null, FLAG: null });
    const base = await run(["--", process.execPath, show], { LOCKBOX_SECRETS_FILE: file });
    expect(seen(base)).toMatchObject({ API_KEY: "k3y-base" });
  });

  it("refuses to start without a runtime token or a reachable server, saying what to set", async () => {
    const noToken = await run(["--", process.execPath, "-e", "console.log('ran')"], {
      LOCKBOX_URL: e2e.server.url,
    });
    expect(noToken.code).toBe(2);
    expect(noToken.stdout).toBe("");
    expect(noToken.stderr).toContain("set LOCKBOX_RUNTIME_TOKEN");
    expect(noToken.stderr).toContain("LOCKBOX_SECRETS_FILE");

    const unreachable = await run(["--", process.execPath, "-e", "console.log('ran')"], {
      ...runtimeEnv,
      LOCKBOX_URL: "http://127.0.0.1:9",
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stdout).toBe("");
    expect(unreachable.stderr).toMatch(
      /^Error: Cannot reach Lockbox at http:\/\/127\.0\.0\.1:9: .* was not started\.\n$/,
    );
  });

  it("passes SIGTERM on to the child and exits with the code the child chose", async () => {
    const cli = startCli(["run", "--", process.execPath, script("serve.js", SERVE)], runtimeEnv, e2e.dir);
    try {
      await cli.waitFor("started k3y-live");
      cli.child.kill("SIGTERM");
      expect(await cli.exited(), cli.stderr()).toBe(42);
      expect(cli.stdout()).toBe("started k3y-live\ngot SIGTERM\n");
    } finally {
      cli.kill();
    }
  });

  it("exits 128 + n when a signal kills the child", async () => {
    const result = await run(["--", "sh", "-c", "kill -USR1 $$"], runtimeEnv);
    expect(result.code).toBe(128 + 10);
  });

  it("with --watch, restarts the child when a secret changes, and the new child sees the new value", async () => {
    const cli = startCli(
      ["run", "--watch", "--interval=0.2", "--", process.execPath, script("serve.js", SERVE)],
      runtimeEnv,
      e2e.dir,
    );
    try {
      await cli.waitFor("started k3y-live");
      expectSuccess(await admin(["secret:site:set", "run-site.live", "API_KEY", "k3y-rotated"]));
      await cli.waitFor("started k3y-rotated");
      // The old child was stopped with SIGTERM before the new one started.
      expect(cli.stdout()).toBe("started k3y-live\ngot SIGTERM\nstarted k3y-rotated\n");
      expect(cli.stderr()).toContain("lockbox run: the secrets changed; restarting");
      expect(cli.stderr()).not.toContain("k3y-rotated");
      // A signal stops it for good: the child's code, no restart.
      cli.child.kill("SIGTERM");
      expect(await cli.exited()).toBe(42);
      expect(cli.stdout()).toBe("started k3y-live\ngot SIGTERM\nstarted k3y-rotated\ngot SIGTERM\n");
    } finally {
      cli.kill();
      expectSuccess(await admin(["secret:site:set", "run-site.live", "API_KEY", "k3y-live"]));
    }
  });

  it("with --watch, restarts within about a second of a change, long before the --interval poll (blocking reads)", async () => {
    const cli = startCli(
      ["run", "--watch", "--", process.execPath, script("serve.js", SERVE)],
      runtimeEnv,
      e2e.dir,
    );
    try {
      await cli.waitFor("started k3y-live");
      // Let the first blocking read be held.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expectSuccess(await admin(["secret:site:set", "run-site.live", "API_KEY", "k3y-blocking"]));
      const changedAt = performance.now();
      await cli.waitFor("started k3y-blocking");
      // The default --interval is 30 s: only the blocking read can bring the change this soon.
      expect(performance.now() - changedAt).toBeLessThan(1500);
      cli.child.kill("SIGTERM");
      expect(await cli.exited()).toBe(42);
    } finally {
      cli.kill();
      expectSuccess(await admin(["secret:site:set", "run-site.live", "API_KEY", "k3y-live"]));
    }
  });

  it("with --watch, restarts on a change of the local file, and exits with the code of a child that exits on its own", async () => {
    const file = join(e2e.dir, "watched.json");
    const write = (value: string, mtime: number) => {
      writeFileSync(file, JSON.stringify({ Secrets: { API_KEY: { Value: value } } }));
      utimesSync(file, mtime, mtime);
    };
    write("from-file", 1_000_000);
    const cli = startCli(
      ["run", "--watch", "--interval=0.2", "--", process.execPath, script("serve.js", SERVE)],
      { LOCKBOX_SECRETS_FILE: file },
      e2e.dir,
    );
    try {
      await cli.waitFor("started from-file");
      write("edited", 2_000_000);
      await cli.waitFor("started edited");
      cli.child.kill("SIGTERM");
      expect(await cli.exited()).toBe(42);
    } finally {
      cli.kill();
    }
    const exits = await run(["--watch", "--", process.execPath, "-e", "process.exit(5)"], runtimeEnv);
    expect(exits.code).toBe(5);
  });
});
