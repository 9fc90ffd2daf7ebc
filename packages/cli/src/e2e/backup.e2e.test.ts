import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { postgresAvailable, postgresTestDatabase } from "../../../server/src/testing/test-databases.js";
import { type E2eDatabase, e2eDatabases, expectSuccess, startE2eServer } from "./e2e-fixtures.js";
import { type CliResult, runCli, type ServerProcess, startServerProcess, tempDir } from "./harness.js";

/**
 * `lockbox backup` and `lockbox store:copy` with real servers and the real CLI: a backup taken while
 * a server keeps writing restores every write acknowledged before it started, and a SQLite store
 * copied to PostgreSQL serves the very same runtime sets (same Version) from a server on PostgreSQL.
 */

const TIMEOUT = 240_000;

/** The management API as `token`; throws on a status of 300 or more. */
async function api(server: ServerProcess, token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** What `GET /site/secrets` answers to a runtime token, as text (the Version is inside). */
async function runtimeBody(server: ServerProcess, runtimeToken: string): Promise<string> {
  const response = await fetch(`${server.url}/site/secrets`, {
    headers: { authorization: `Bearer ${runtimeToken}` },
  });
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return text;
}

/** A new runtime token of `site`'s environment `env`. */
async function runtimeToken(
  server: ServerProcess,
  admin: string,
  site: string,
  env: string,
): Promise<string> {
  const minted = await api(server, admin, "POST", "/v1/tokens", { kind: "runtime", site, env });
  return minted.token as string;
}

/** A value that cannot appear in a file by chance. */
const uniqueValue = (label: string) => `${label}-${randomBytes(12).toString("hex")}`;

/** A fresh, empty store for `store:copy` to fill, of `dialect`, inside `dir` for SQLite. */
async function emptyStore(dialect: "sqlite" | "postgres", dir: string) {
  if (dialect === "sqlite") return { location: join(dir, "restored", "lockbox.db"), drop: async () => {} };
  const database = await postgresTestDatabase();
  return { location: database.location, drop: () => database.drop() };
}

function expectCopyVerified(result: CliResult): void {
  expectSuccess(result);
  expect(result.stdout).toContain("audit:verify on the target: OK");
  expect(result.stdout).toMatch(/runtime Version: equal for all \d+ site environment/);
  expect(result.stdout).toContain("Copy complete and verified.");
  expect(result.stdout).not.toContain("MISMATCH");
}

describe.each(await e2eDatabases())("lockbox backup of a live store ($name)", (database: E2eDatabase) => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it(
    "taken while a server keeps writing, restores through store:copy every write acknowledged before it started, with no plaintext in the file",
    async () => {
      // The write loop runs as fast as the server answers: no rate limit.
      const e2e = await startE2eServer(database, ["--rate-limit", "0"]);
      cleanups.push(() => e2e.close());
      const admin = e2e.adminToken;
      const { server } = e2e;
      await api(server, admin, "POST", "/v1/orgs", { name: "acme" });
      await api(server, admin, "POST", "/v1/sites", { name: "shop", org: "acme" });
      const token = await runtimeToken(server, admin, "shop", "live");

      // A bounded write loop through the API: K_i = values[i], one write at a time.
      const values: string[] = [];
      let acknowledged = 0;
      let stop = false;
      const writes = (async () => {
        for (let i = 0; i < 400 && !stop; i++) {
          const value = uniqueValue(`value-${i}`);
          values.push(value);
          await api(server, admin, "PUT", `/v1/sites/shop/secrets/K_${i}`, { value, scopes: "web" });
          acknowledged = i + 1;
        }
      })();
      // Awaited below; a failed write must not go unhandled meanwhile.
      writes.catch(() => {});
      while (acknowledged < 20) await new Promise((r) => setTimeout(r, 20));

      const backupFile = join(e2e.dir, "backups", "lockbox-backup.db");
      const dbArgs = database.name === "sqlite" ? ["--db", join(e2e.dir, "data", "lockbox.db")] : [];
      const ackBeforeBackup = acknowledged;
      const backup = await runCli(["backup", ...dbArgs, "--to", backupFile, "--batch-size", "7"], {
        cwd: e2e.dir,
        env: { HOME: e2e.dir, ...e2e.serverEnv },
      });
      const ackAfterBackup = acknowledged;
      stop = true;
      await writes;
      expectSuccess(backup);
      expect(backup.stderr).toMatch(/100% \(\d+\/\d+ rows\)/);
      // The server kept writing while the backup ran.
      expect(ackAfterBackup).toBeGreaterThan(ackBeforeBackup);

      // Sealed as stored: not one value is in the file's bytes.
      const bytes = readFileSync(backupFile);
      expect(values.filter((value) => bytes.includes(Buffer.from(value)))).toEqual([]);

      const target = await emptyStore(database.name, e2e.dir);
      cleanups.push(() => target.drop());
      const keyArgs =
        database.name === "sqlite" ? ["--master-key-file", join(e2e.dir, "data", "master.key")] : [];
      const keyEnv: Record<string, string> =
        database.name === "sqlite" ? {} : { LOCKBOX_MASTER_KEY: e2e.serverEnv.LOCKBOX_MASTER_KEY ?? "" };
      const copy = await runCli(["store:copy", "--from", backupFile, "--to", target.location, ...keyArgs], {
        cwd: e2e.dir,
        env: { HOME: e2e.dir, ...keyEnv },
      });
      expectCopyVerified(copy);

      // A server on the restored store serves every write acknowledged before the backup started,
      // to the runtime token minted before it.
      const restoredDir = tempDir();
      cleanups.push(restoredDir.cleanup);
      const restored = await startServerProcess({
        cwd: restoredDir.path,
        args: ["--db", target.location, ...keyArgs],
        env: keyEnv,
      });
      cleanups.push(() => restored.stop().then(() => {}));
      const served = JSON.parse(await runtimeBody(restored, token)) as {
        Secrets: Record<string, { Value: string }>;
        Count: number;
      };
      const missing = values
        .slice(0, ackBeforeBackup)
        .filter((value, i) => served.Secrets[`K_${i}`]?.Value !== value);
      expect(missing).toEqual([]);
      // Nothing the backup did not see: at most the writes acknowledged before it ended (+1 in flight).
      expect(served.Count).toBeLessThanOrEqual(ackAfterBackup + 1);
      // One snapshot: the audit log (copied last) holds exactly the writes of the secrets (copied
      // earlier), no event of a write the secrets table missed; and its chain verifies.
      const audit = await api(restored, admin, "GET", "/v1/audit?site=shop&limit=1000");
      const sets = (audit.items as Array<{ action: string }>).filter((e) => e.action === "secret.set");
      expect(sets.length).toBe(served.Count);
      expect(await api(restored, admin, "GET", "/v1/audit/verify")).toMatchObject({ ok: true });
    },
    TIMEOUT,
  );
});

describe.skipIf(!(await postgresAvailable()))("lockbox store:copy from SQLite to PostgreSQL", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it(
    "a server on the copy serves identical runtime sets (same Version) for every site and environment; a non-empty target and an existing backup file are refused",
    async () => {
      const sqlite = (await e2eDatabases())[0] as E2eDatabase;
      const e2e = await startE2eServer(sqlite, ["--rate-limit", "0"]);
      cleanups.push(() => e2e.close());
      const admin = e2e.adminToken;
      const { server } = e2e;
      const dbFile = join(e2e.dir, "data", "lockbox.db");
      const keyFile = join(e2e.dir, "data", "master.key");

      await api(server, admin, "POST", "/v1/orgs", { name: "acme" });
      await api(server, admin, "PUT", "/v1/orgs/acme/secrets/ORG_V", {
        value: uniqueValue("org"),
        scopes: "web",
      });
      await api(server, admin, "PUT", "/v1/orgs/acme/secrets/ORG_V/envs/live", {
        value: uniqueValue("org-live"),
      });
      const sets = new Map<string, string>();
      const tokens = new Map<string, string>();
      for (const site of ["shop", "blog"]) {
        await api(server, admin, "POST", "/v1/sites", { name: site, org: "acme" });
        await api(server, admin, "PUT", `/v1/sites/${site}/secrets/DB_PASSWORD`, {
          value: uniqueValue(site),
          scopes: "web,user",
        });
        await api(server, admin, "PUT", `/v1/sites/${site}/secrets/DB_PASSWORD/envs/dev`, {
          value: uniqueValue(`${site}-dev`),
        });
        await api(server, admin, "PUT", `/v1/sites/${site}/secrets/BUILD_ONLY`, {
          value: uniqueValue(`${site}-ic`),
          type: "env",
          scopes: "ic",
        });
        for (const env of ["dev", "test", "live"]) {
          const token = await runtimeToken(server, admin, site, env);
          tokens.set(`${site}.${env}`, token);
          sets.set(`${site}.${env}`, await runtimeBody(server, token));
        }
      }
      await e2e.server.stop();

      const target = await postgresTestDatabase();
      cleanups.push(() => target.drop());
      const copyArgs = [
        "store:copy",
        "--from",
        dbFile,
        "--to",
        target.location,
        "--master-key-file",
        keyFile,
      ];
      const cli = (args: string[]) => runCli(args, { cwd: e2e.dir, env: { HOME: e2e.dir } });
      expectCopyVerified(await cli(copyArgs));

      // Copying again is refused: the target is not empty, and it is left as it was.
      const again = await cli(copyArgs);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(
        /^Error: The target store PostgreSQL at .* is not empty \(.*users: 1.*\): .*Create a new database/m,
      );
      const onPostgres = await startServerProcess({
        cwd: e2e.dir,
        args: ["--db", target.location, "--master-key-file", keyFile],
      });
      cleanups.push(() => onPostgres.stop().then(() => {}));
      const served = new Map<string, string>();
      for (const [key, token] of tokens) served.set(key, await runtimeBody(onPostgres, token));
      expect(served).toEqual(sets);
      expect(sets.size).toBe(6);

      // A backup never overwrites a file.
      const existing = join(e2e.dir, "existing.db");
      writeFileSync(existing, "keep me");
      const refused = await cli(["backup", "--db", dbFile, "--to", existing]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`The backup file '${existing}' already exists`);
      expect(readFileSync(existing, "utf8")).toBe("keep me");
    },
    TIMEOUT,
  );
});
