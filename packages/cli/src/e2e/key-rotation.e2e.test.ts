import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { masterKeyId } from "../../../server/src/keys/keyring.js";
import { postgresAvailable, postgresTestDatabase } from "../../../server/src/testing/test-databases.js";
import { type CliResult, runCli, type ServerProcess, startServerProcess, tempDir } from "./harness.js";

/**
 * Master key rotation as keys/README.md documents it, with real servers and the real
 * `lockbox keys:rotate`, while orgs, sites and secrets are created during and after the rotation:
 * every data key ends wrapped by a key the next start loads, and a start that does not load one
 * refuses with the fix.
 */

/** Statuses answered by the creations running beside the rotation, and what they created. */
interface Creations {
  readonly statuses: number[];
  readonly failures: string[];
  readonly created: string[];
}

const keyIdOf = (base64: string) => masterKeyId(Buffer.from(base64, "base64"));

/** The management API of `server` as the platform admin; answers status and body, never throws on a status. */
async function call(server: ServerProcess, token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Calls that must succeed. */
async function ok(server: ServerProcess, token: string, method: string, path: string, body?: unknown) {
  const result = await call(server, token, method, path, body);
  if (result.status >= 300)
    throw new Error(`${method} ${path}: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body;
}

/**
 * One "tenant" `n`: an org with an org secret, and a site of it with a site secret. Through
 * `servers` in turn; records every status. Returns whether all four calls succeeded.
 */
async function createTenant(
  server: ServerProcess,
  token: string,
  n: string,
  log: Creations,
): Promise<boolean> {
  const steps: Array<[string, string, unknown]> = [
    ["POST", "/v1/orgs", { name: `org-${n}` }],
    ["PUT", `/v1/orgs/org-${n}/secrets/ORG_V`, { value: `org-value-${n}`, scopes: "web,user" }],
    ["POST", "/v1/sites", { name: `site-${n}`, org: `org-${n}` }],
    ["PUT", `/v1/sites/site-${n}/secrets/SITE_V`, { value: `site-value-${n}`, scopes: "web,user" }],
  ];
  for (const [method, path, body] of steps) {
    const result = await call(server, token, method, path, body);
    log.statuses.push(result.status);
    if (result.status >= 300) {
      log.failures.push(`${method} ${path}: ${result.status} ${JSON.stringify(result.body)}`);
      return false;
    }
  }
  log.created.push(n);
  return true;
}

/** Creates tenants `prefix-0`, `prefix-1` … through `servers` in turn until `until` settles. */
async function createWhile(
  servers: ServerProcess[],
  token: string,
  prefix: string,
  until: Promise<unknown>,
  log: Creations,
): Promise<number> {
  let done = false;
  void until.finally(() => {
    done = true;
  });
  let i = 0;
  while (!done) {
    await createTenant(servers[i % servers.length] as ServerProcess, token, `${prefix}-${i}`, log);
    i += 1;
  }
  return i;
}

/** Every tenant's values, through the management API and a runtime token, on `server`. */
async function expectAllReadable(server: ServerProcess, token: string, tenants: readonly string[]) {
  const wrong: string[] = [];
  for (const n of tenants) {
    const resolved = await call(server, token, "GET", `/v1/sites/site-${n}/resolve?env=live&scope=user`);
    const values = Object.fromEntries(
      ((resolved.body?.items ?? []) as Array<{ name: string; value: string }>).map((r) => [r.name, r.value]),
    );
    if (resolved.status !== 200 || values.ORG_V !== `org-value-${n}` || values.SITE_V !== `site-value-${n}`) {
      wrong.push(`management ${n}: ${resolved.status} ${JSON.stringify(resolved.body)}`);
      continue;
    }
    const minted = await ok(server, token, "POST", "/v1/tokens", {
      kind: "runtime",
      site: `site-${n}`,
      env: "live",
    });
    const runtime = await fetch(`${server.url}/site/secrets`, {
      headers: { authorization: `Bearer ${minted.token}` },
    });
    const body = (await runtime.json()) as { Secrets?: Record<string, { Value: string }> };
    if (
      runtime.status !== 200 ||
      body.Secrets?.ORG_V?.Value !== `org-value-${n}` ||
      body.Secrets?.SITE_V?.Value !== `site-value-${n}`
    ) {
      wrong.push(`runtime ${n}: ${runtime.status} ${JSON.stringify(body)}`);
    }
  }
  expect(wrong).toEqual([]);
}

/** Writes a new master key file (mode 0600) in `dir`; answers its path and base64. */
function newKeyFile(dir: string, name: string): { path: string; key: string } {
  const key = randomBytes(32).toString("base64");
  const path = join(dir, name);
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  return { path, key };
}

/** Real processes on a machine shared with other jobs: each test restarts servers several times. */
const TIMEOUT = 180_000;

const emptyLog = (): Creations => ({ statuses: [], failures: [], created: [] });

describe("master key rotation on SQLite (one server, real processes)", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const started = async (options: Parameters<typeof startServerProcess>[0]) => {
    const server = await startServerProcess(options);
    cleanups.push(() => server.stop().then(() => {}));
    return server;
  };
  const folder = () => {
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    return dir.path;
  };

  it(
    "the documented procedure leaves every org and site created before, during and after keys:rotate readable under the new key alone",
    async () => {
      const dir = folder();
      const first = await started({ cwd: dir, args: ["--rate-limit", "0"] });
      const admin = first.adminToken as string;
      const oldKey = readFileSync(join(dir, "data", "master.key"), "utf8").trim();
      const log = emptyLog();
      for (let i = 0; i < 12; i++) expect(await createTenant(first, admin, `before-${i}`, log)).toBe(true);
      await first.stop();

      // Step 1: restart with the new key, the old one as previous.
      const next = newKeyFile(dir, "new.key");
      const both = await started({
        cwd: dir,
        args: ["--rate-limit", "0", "--master-key-file", next.path],
        env: { LOCKBOX_PREVIOUS_MASTER_KEYS: oldKey },
      });
      // Step 2: keys:rotate (its current key: data/master.key), while tenants are created.
      const rotation = runCli(["keys:rotate", "--new-master-key-file", next.path, "--batch-size", "1"], {
        cwd: dir,
        env: { HOME: dir },
      });
      const during = await createWhile([both], admin, "during", rotation, log);
      const rotated = await rotation;
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(rotated.stdout + rotated.stderr).toContain(`under master key '${keyIdOf(next.key)}'`);
      expect(rotated.stdout + rotated.stderr).toContain(`replace '${join(dir, "data", "master.key")}'`);
      expect(during).toBeGreaterThan(0);
      for (let i = 0; i < 6; i++) expect(await createTenant(both, admin, `after-${i}`, log)).toBe(true);
      expect(log.failures).toEqual([]);
      await both.stop();

      // Step 3: the new key alone, as the Next: step says.
      writeFileSync(join(dir, "data", "master.key"), `${next.key}\n`, { mode: 0o600 });
      const after = await started({ cwd: dir, args: ["--rate-limit", "0"] });
      expect(after.stderr()).not.toContain("Warning");
      await expectAllReadable(after, admin, log.created);
      expect(log.created.length).toBe(18 + during);
    },
    TIMEOUT,
  );

  it(
    "keys:rotate beside a server that holds only the old key: it creates nothing under the old key (503 with the fix), and the restart with the new key reads everything",
    async () => {
      const dir = folder();
      const server = await started({ cwd: dir, args: ["--rate-limit", "0"] });
      const admin = server.adminToken as string;
      const log = emptyLog();
      for (let i = 0; i < 12; i++) expect(await createTenant(server, admin, `before-${i}`, log)).toBe(true);
      const next = newKeyFile(dir, "new.key");
      const rotation = runCli(["keys:rotate", "--new-master-key-file", next.path, "--batch-size", "1"], {
        cwd: dir,
        env: { HOME: dir },
      });
      await createWhile([server], admin, "during", rotation, log);
      expect((await rotation).code).toBe(0);
      // After the switch this server cannot wrap under the store's key: a clear 503, never a 500.
      const refused = await call(server, admin, "POST", "/v1/orgs", { name: "org-refused" });
      expect(refused.status).toBe(503);
      expect(refused.body.error.message).toContain(`'${keyIdOf(next.key)}'`);
      expect(refused.body.error.message).toContain("restart it with the new master key");
      // Existing owners keep taking writes (their data keys are cached or unwrap with the old key).
      expect(
        (
          await call(server, admin, "PUT", "/v1/sites/site-before-0/secrets/SITE_V", {
            value: "site-value-before-0",
          })
        ).status,
      ).toBe(200);
      expect(log.statuses.filter((status) => status >= 500 && status !== 503)).toEqual([]);
      await server.stop();

      writeFileSync(join(dir, "data", "master.key"), `${next.key}\n`, { mode: 0o600 });
      const restarted = await started({ cwd: dir, args: ["--rate-limit", "0"] });
      await expectAllReadable(restarted, admin, log.created);
      await createTenant(restarted, admin, "after-restart", log);
      expect(log.created).toContain("after-restart");
    },
    TIMEOUT,
  );

  it(
    "refuses to start while a data key is wrapped by a master key it does not load, naming the key, the owner and the fix",
    async () => {
      const dir = folder();
      const first = await started({ cwd: dir, args: ["--rate-limit", "0"] });
      const admin = first.adminToken as string;
      const oldKey = readFileSync(join(dir, "data", "master.key"), "utf8").trim();
      const log = emptyLog();
      for (let i = 0; i < 3; i++) expect(await createTenant(first, admin, `t-${i}`, log)).toBe(true);
      await first.stop();
      const dbPath = join(dir, "data", "lockbox.db");
      const sqlite = new BetterSqlite3(dbPath);
      const leftover = sqlite
        .prepare("select id, data_key, data_key_master_id from sites where name = ?")
        .get("site-t-1") as {
        id: string;
        data_key: Buffer;
        data_key_master_id: string;
      };
      sqlite.close();
      const next = newKeyFile(dir, "new.key");
      expect(
        (await runCli(["keys:rotate", "--new-master-key-file", next.path], { cwd: dir, env: { HOME: dir } }))
          .code,
      ).toBe(0);
      // What the old rotation left: a data key still wrapped by the old key, in a store switched to the new one.
      const writer = new BetterSqlite3(dbPath);
      writer
        .prepare("update sites set data_key = ?, data_key_master_id = ? where id = ?")
        .run(leftover.data_key, leftover.data_key_master_id, leftover.id);
      writer.close();

      const env = { HOME: dir, LOCKBOX_MASTER_KEY: next.key };
      const refused = await runCli(["server:start", "--port", "0"], { cwd: dir, env });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe("");
      const oldId = keyIdOf(oldKey);
      expect(refused.stderr).toContain(
        "Lockbox cannot start: 1 data key(s) are wrapped by master key(s) that are not loaded",
      );
      expect(refused.stderr).toContain(`'${oldId}' (1)`);
      expect(refused.stderr).toContain(`site 'site-t-1' (${leftover.id}, master key '${oldId}')`);
      expect(refused.stderr).toContain("LOCKBOX_PREVIOUS_MASTER_KEYS");
      expect(refused.stderr).toContain("keys:rotate --new-master-key-file=");
      expect(refused.stderr).not.toContain(oldKey);
      expect(refused.stderr).not.toContain(next.key);

      // The fix it names: the old key as previous, keys:rotate again, then the new key alone.
      const fix: Record<string, string> = { ...env, LOCKBOX_PREVIOUS_MASTER_KEYS: oldKey };
      const again: CliResult = await runCli(["keys:rotate", "--new-master-key-file", next.path], {
        cwd: dir,
        env: fix,
      });
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout + again.stderr).toContain("Re-wrapped 1 data key(s)");
      expect(again.stdout + again.stderr).toContain("LOCKBOX_MASTER_KEY set to the new key");
      expect(again.stdout + again.stderr).not.toContain("master.key'");
      // Run once more, it has nothing left to re-wrap and says so, with the same next step.
      const once = await runCli(["keys:rotate", "--new-master-key-file", next.path], { cwd: dir, env: fix });
      expect(once.code, once.stderr).toBe(0);
      expect(once.stdout + once.stderr).toContain("No data key needed re-wrapping");
      expect(once.stdout + once.stderr).toContain("LOCKBOX_MASTER_KEY set to the new key");
      const fixed = await started({ cwd: dir, env, args: ["--rate-limit", "0"] });
      await expectAllReadable(fixed, admin, log.created);
    },
    TIMEOUT,
  );
});

describe.skipIf(!(await postgresAvailable()))(
  "master key rotation on PostgreSQL (two servers, real processes)",
  () => {
    const cleanups: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });
    const started = async (options: Parameters<typeof startServerProcess>[0]) => {
      const server = await startServerProcess(options);
      cleanups.push(() => server.stop().then(() => {}));
      return server;
    };

    it(
      "the documented procedure (restart each server with both keys, keys:rotate, restart with the new key) keeps every org and site readable on both servers",
      async () => {
        const database = await postgresTestDatabase();
        cleanups.push(() => database.drop());
        const dir = tempDir();
        cleanups.push(dir.cleanup);
        const old = newKeyFile(dir.path, "old.key");
        const next = newKeyFile(dir.path, "new.key");
        const db = { LOCKBOX_DB: database.location };
        const args = ["--rate-limit", "0"];
        const withOld = { cwd: dir.path, args: [...args, "--master-key-file", old.path], env: db };
        const withBoth = {
          cwd: dir.path,
          args: [...args, "--master-key-file", next.path],
          env: { ...db, LOCKBOX_PREVIOUS_MASTER_KEYS: old.key },
        };
        let a = await started(withOld);
        let b = await started(withOld);
        const admin = (a.adminToken ?? b.adminToken) as string;
        const log = emptyLog();
        for (let i = 0; i < 10; i++)
          expect(await createTenant(i % 2 ? a : b, admin, `before-${i}`, log)).toBe(true);

        // Step 1, one server at a time: while b still holds only the old key, a creates under the
        // store's current (old) key, so b reads what a creates.
        await a.stop();
        a = await started(withBoth);
        for (let i = 0; i < 3; i++) expect(await createTenant(a, admin, `rolling-${i}`, log)).toBe(true);
        await expectAllReadable(b, admin, log.created);
        await b.stop();
        b = await started(withBoth);

        // Step 2: keys:rotate with the old key as current, while both servers create.
        const rotation = runCli(
          [
            "keys:rotate",
            "--master-key-file",
            old.path,
            "--new-master-key-file",
            next.path,
            "--batch-size",
            "1",
          ],
          { cwd: dir.path, env: { HOME: dir.path, ...db } },
        );
        const during = await createWhile([a, b], admin, "during", rotation, log);
        const rotated = await rotation;
        expect(rotated.code, rotated.stderr).toBe(0);
        expect(rotated.stdout + rotated.stderr).toContain("restart every server with the new key alone");
        expect(during).toBeGreaterThan(0);
        for (let i = 0; i < 6; i++)
          expect(await createTenant(i % 2 ? a : b, admin, `after-${i}`, log)).toBe(true);
        expect(log.failures).toEqual([]);

        // Step 3: every server with the new key alone.
        const withNew = { cwd: dir.path, args: [...args, "--master-key-file", next.path], env: db };
        await a.stop();
        await b.stop();
        a = await started(withNew);
        b = await started(withNew);
        await expectAllReadable(a, admin, log.created);
        await expectAllReadable(b, admin, log.created);
        expect(log.created.length).toBe(19 + during);
      },
      TIMEOUT,
    );
  },
);
