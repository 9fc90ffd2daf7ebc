import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newMasterKey, runCli, startServerProcess, tempDir } from "./harness.js";

describe("lockbox server:start (real process)", () => {
  let dir: ReturnType<typeof tempDir>;
  let env: Record<string, string>;
  beforeEach(() => {
    dir = tempDir();
    env = { HOME: dir.path, LOCKBOX_MASTER_KEY: newMasterKey() };
  });
  afterEach(() => dir.cleanup());

  it.each([
    [["--rate-limit=abc"], "Invalid rate limit 'abc': use RPS/BURST, for example 10/20, or 0 to disable."],
    [["--tls-cert=cert.pem"], "HTTPS needs both --tls-cert and --tls-key."],
    [["--tls-key=key.pem"], "HTTPS needs both --tls-cert and --tls-key."],
    [["--port=99999"], "Invalid --port '99999': use a number from 0 to 65535."],
    [
      ["--request-timeout=soon"],
      "Invalid --request-timeout 'soon': use seconds from 0 (no timeout) to 86400, for example 30.",
    ],
    [
      ["--max-connections=-1"],
      "Invalid --max-connections '-1': use a whole number, for example 1000, or 0 for no cap.",
    ],
    [
      ["--max-held-requests=many"],
      "Invalid --max-held-requests 'many': use a whole number, for example 10000, or 0 to hold none.",
    ],
    [
      ["--retain-versions=0"],
      "Invalid --retain-versions '0': use a whole number from 1 to 2147483647, for example 100.",
    ],
    [
      ["--retain-deleted-days=1.5"],
      "Invalid --retain-deleted-days '1.5': use a whole number from 1 to 10000, for example 30.",
    ],
  ])("refuses %j as a usage error (exit 2), before creating anything", async (flags, message) => {
    const result = await runCli(["server:start", ...flags], { cwd: dir.path, env });
    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toContain(message);
    const again = await startServerProcess({ cwd: dir.path, env });
    // Nothing was created by the refused start: this is still the first start.
    expect(again.adminToken).toMatch(/^lbx_/);
    expect(await again.stop()).toBe(0);
  });

  it("creates the admin only on a start that serves: a start whose port is taken leaves the token to the next", async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const address = busy.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    try {
      const failed = await runCli(["server:start", `--port=${port}`], { cwd: dir.path, env });
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain(
        `Lockbox cannot start: Another process is listening on 127.0.0.1:${port}: stop it, or choose another port with --port.`,
      );
      expect(failed.stdout).not.toMatch(/lbx_/);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
    const server = await startServerProcess({ cwd: dir.path, env });
    try {
      expect(server.adminToken).toMatch(/^lbx_[A-Za-z0-9_-]{43}$/);
      const whoami = await runCli(["auth:whoami"], {
        env: { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: server.adminToken ?? "" },
      });
      expect(whoami.code).toBe(0);
      expect(whoami.stdout + whoami.stderr).toContain("admin@localhost");
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it.each([
    ["postgress://postgres:pw@127.0.0.1:5432/lockbox", "Unsupported database URL 'postgress://…'"],
    ["mysql://root:pw@db/lockbox", "Unsupported database URL 'mysql://…'"],
    ["", "The database option is empty (--db, LOCKBOX_DB, --from or --to): give a SQLite file path"],
  ])("refuses --db=%j as a usage error, creating no store, no key and no folder", async (db, message) => {
    const result = await runCli(["server:start", "--port=0", `--db=${db}`], {
      cwd: dir.path,
      env: { HOME: dir.path },
    });
    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain("postgres://USER@HOST:PORT/DATABASE");
    expect(result.stderr).not.toContain("pw");
    expect(readdirSync(dir.path)).toEqual([]);
    const offline = await runCli(["admin:token", `--db=${db}`], { cwd: dir.path, env: { HOME: dir.path } });
    expect(offline.code).toBe(2);
    expect(offline.stderr).toContain(message);
    expect(offline.stderr).not.toContain("pw");
  });

  it("says a PostgreSQL that refuses the connection is one it cannot connect to, with the fix, and exits 1", async () => {
    // Nothing listens on this port (the range the project's own servers may use is 9500-9599).
    const result = await runCli(
      ["server:start", "--port=0", "--db=postgres://lockbox:hunter2-pw@127.0.0.1:9599/lockbox"],
      {
        cwd: dir.path,
        env,
      },
    );
    expect(result).toMatchObject({ code: 1, stdout: "" });
    expect(result.stderr).toContain(
      "Lockbox cannot start: Cannot connect to PostgreSQL at 127.0.0.1:9599 (database lockbox): connection refused. Check the database URL (--db or LOCKBOX_DB; --from or --to for store:copy) and that PostgreSQL is running.",
    );
    expect(result.stderr).not.toMatch(/migration|Retry|hunter2/);
  });

  it("admin:token, run while the server serves, mints a token the running server accepts at once", async () => {
    const server = await startServerProcess({ cwd: dir.path, env });
    try {
      const minted = await runCli(["admin:token"], { cwd: dir.path, env });
      expect(minted.code).toBe(0);
      const token = minted.stdout.trim().split("\n").at(-1) ?? "";
      expect(token).toMatch(/^lbx_/);
      expect(token).not.toBe(server.adminToken);
      const whoami = await runCli(["auth:whoami"], {
        env: { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: token },
      });
      expect(whoami.code).toBe(0);
      expect(whoami.stdout + whoami.stderr).toContain("admin@localhost");
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it("leaves nothing behind from a first start that fails: the next start creates the key and says to back it up", async () => {
    const embedded = { HOME: dir.path };
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const address = busy.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    try {
      const failed = await runCli(["server:start", `--port=${port}`, "--db=data/lockbox.db"], {
        cwd: dir.path,
        env: embedded,
      });
      expect(failed.code).toBe(1);
      expect(failed.stdout + failed.stderr).not.toContain("Created the master key");
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
    expect(existsSync(join(dir.path, "data", "master.key"))).toBe(false);
    expect(existsSync(join(dir.path, "data", "lockbox.db"))).toBe(false);
    const server = await startServerProcess({ cwd: dir.path, env: embedded, args: ["--db=data/lockbox.db"] });
    try {
      expect(server.stdout() + server.stderr()).toContain("Created the master key");
      expect(server.adminToken).toMatch(/^lbx_/);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it("refuses a database that holds data without its master key beside it, creating no key", async () => {
    const embedded = { HOME: dir.path };
    const first = await startServerProcess({ cwd: dir.path, env: embedded, args: ["--db=data/lockbox.db"] });
    expect(await first.stop()).toBe(0);
    // A restore: the database copied to a new folder, its key not (yet).
    mkdirSync(join(dir.path, "restored"));
    copyFileSync(join(dir.path, "data", "lockbox.db"), join(dir.path, "restored", "lockbox.db"));
    const refused = await runCli(["server:start", "--port=0", "--db=restored/lockbox.db"], {
      cwd: dir.path,
      env: embedded,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "exists but its master key does not: put the master key file it was set up with at",
    );
    expect(existsSync(join(dir.path, "restored", "master.key"))).toBe(false);
    // With the key put back, it starts.
    copyFileSync(join(dir.path, "data", "master.key"), join(dir.path, "restored", "master.key"));
    const restored = await startServerProcess({
      cwd: dir.path,
      env: embedded,
      args: ["--db=restored/lockbox.db"],
    });
    expect(await restored.stop()).toBe(0);
  });
});
