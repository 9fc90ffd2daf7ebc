import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { POSTGRES_REQUIRED } from "./test-databases.js";

const run = promisify(execFile);

/**
 * A PostgreSQL server of the test's own, for fault tests that stop and start it: the shared one
 * (5432) is never stopped. It lives in a temporary folder on a free port of 127.0.0.1, with trust
 * authentication, and runs as the `postgres` user when the test runs as root.
 */
export interface OwnPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  readonly port: number;
  /** `pg_ctl stop -m fast`: every connection is cut (57P01), new ones are refused. */
  stop(): Promise<void>;
  /** `pg_ctl start` on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops the server and removes its folder. */
  destroy(): Promise<void>;
}

/** The newest PostgreSQL binaries under /usr/lib/postgresql (Debian's layout), if any. */
function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => existsSync(join(root, name, "bin", "initdb")))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

/**
 * Starts a PostgreSQL server of the test's own (see {@link OwnPostgres}). Resolves undefined when
 * this machine cannot run one (no binaries, not root and no way to run them), unless PostgreSQL
 * tests are required (`CI=true` or `LOCKBOX_REQUIRE_POSTGRES=1`): then it throws.
 */
export async function startOwnPostgres(): Promise<OwnPostgres | undefined> {
  try {
    return await launch();
  } catch (error) {
    if (POSTGRES_REQUIRED)
      throw new Error(`A PostgreSQL server of the test's own is required: ${String(error)}`);
    console.warn(
      `\n*** Cannot start a PostgreSQL server of the test's own: SKIPPING (${String(error)}). ***\n`,
    );
    return undefined;
  }
}

async function launch(): Promise<OwnPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("no PostgreSQL binaries under /usr/lib/postgresql/*/bin");
  const asRoot = process.getuid?.() === 0;
  // PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user.
  const tool = (name: string, args: string[]) =>
    asRoot ? run("runuser", ["-u", "postgres", "--", join(bin, name), ...args]) : run(join(bin, name), args);
  const dir = mkdtempSync(join(tmpdir(), "lockbox-own-pg-"));
  try {
    if (asRoot) {
      const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
      const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
      chownSync(dir, uid, gid);
    }
    const data = join(dir, "data");
    await tool("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
    const port = await freePort();
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
    const start = async () => {
      await tool("pg_ctl", ["start", "-D", data, "-w", "-t", "30", "-l", join(dir, "log"), "-o", options]);
    };
    const stop = async () => {
      await tool("pg_ctl", ["stop", "-D", data, "-m", "fast", "-w", "-t", "30"]);
    };
    await start();
    let destroyed = false;
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      port,
      start,
      stop,
      async destroy() {
        if (destroyed) return;
        destroyed = true;
        await stop().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
