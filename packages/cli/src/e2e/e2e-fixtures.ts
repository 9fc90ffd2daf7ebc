import { expect } from "vitest";
import { postgresAvailable, postgresTestDatabase } from "../../../server/src/testing/test-databases.js";
import {
  type CliResult,
  newMasterKey,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from "./harness.js";

/**
 * Shared set-up of the end-to-end suites: one real server process per suite, on SQLite (a fresh
 * folder, as a newcomer runs it: `./data/lockbox.db` and a generated `./data/master.key`) or on a
 * fresh PostgreSQL database, and helpers to drive the real CLI against it as different users.
 */

/** A store the suites run against, and the server environment that selects it. */
export interface E2eDatabase {
  readonly name: "sqlite" | "postgres";
  /** Creates the store; answers the server's extra environment and how to drop the store. */
  create(): Promise<{ env: Record<string, string>; drop: () => Promise<void> }>;
}

/** SQLite always; PostgreSQL when `127.0.0.1:5432` answers (required in CI). Use with `describe.each`. */
export async function e2eDatabases(): Promise<E2eDatabase[]> {
  const list: E2eDatabase[] = [
    // Embedded mode: the server creates ./data/lockbox.db and ./data/master.key in its folder.
    { name: "sqlite", create: async () => ({ env: {}, drop: async () => {} }) },
  ];
  if (await postgresAvailable()) {
    list.push({
      name: "postgres",
      create: async () => {
        const database = await postgresTestDatabase();
        return {
          env: { LOCKBOX_DB: database.location, LOCKBOX_MASTER_KEY: newMasterKey() },
          drop: () => database.drop(),
        };
      },
    });
  }
  return list;
}

/** A running server for one suite, with its folder and the store behind it. */
export interface E2eServer {
  readonly server: ServerProcess;
  /** The folder the server runs in (and where the CLI runs). */
  readonly dir: string;
  /** The server's environment, to start another server on the same store. */
  readonly serverEnv: Record<string, string>;
  /** The platform admin's token, from the first start's banner. */
  readonly adminToken: string;
  /** Stops the server (if still running), drops the store and removes the folder. */
  close(): Promise<void>;
}

/** Starts a real server on a fresh store of `database` in a fresh folder. */
export async function startE2eServer(database: E2eDatabase, args: string[] = []): Promise<E2eServer> {
  const dir = tempDir();
  const store = await database.create();
  try {
    const server = await startServerProcess({ cwd: dir.path, env: store.env, args });
    if (server.adminToken === undefined) throw new Error(`no admin token in the banner:\n${server.stdout()}`);
    return {
      server,
      dir: dir.path,
      serverEnv: store.env,
      adminToken: server.adminToken,
      close: async () => {
        await server.stop();
        await store.drop();
        dir.cleanup();
      },
    };
  } catch (error) {
    await store.drop();
    dir.cleanup();
    throw error;
  }
}

/** Runs the CLI as the holder of `token`, against `server`, through LOCKBOX_URL and LOCKBOX_TOKEN. */
export function cliAs(
  e2e: E2eServer,
  token: string,
): (args: string[], options?: { input?: string | Buffer; stdinFrom?: string }) => Promise<CliResult> {
  return (args, options = {}) =>
    runCli(args, {
      cwd: e2e.dir,
      // HOME points at the (empty) server folder so no real config file is ever read.
      env: { HOME: e2e.dir, LOCKBOX_URL: e2e.server.url, LOCKBOX_TOKEN: token },
      ...(options.input === undefined ? {} : { input: options.input }),
      ...(options.stdinFrom === undefined ? {} : { stdinFrom: options.stdinFrom }),
    });
}

/** The CLI run as one holder of a token (see {@link cliAs}). */
export type CliAs = ReturnType<typeof cliAs>;

/**
 * The cast of the suites on one site's secrets: alice, bob and carol, each with a user token; org
 * acme (alice its admin) owning site shop (bob on its team), and org other (carol its admin), who
 * must see nothing of shop. `extra` admin commands run after (more roles).
 */
export async function acmeShopCast(
  e2e: E2eServer,
  extra: readonly string[][] = [],
): Promise<{ admin: CliAs; alice: CliAs; bob: CliAs; carol: CliAs }> {
  const admin = cliAs(e2e, e2e.adminToken);
  const tokenOf = async (name: string) => {
    expectSuccess(await admin(["user:create", `${name}@example.com`]));
    return cliAs(e2e, lastLine(expectSuccess(await admin(["token:create", `--user=${name}@example.com`]))));
  };
  const cast = {
    admin,
    alice: await tokenOf("alice"),
    bob: await tokenOf("bob"),
    carol: await tokenOf("carol"),
  };
  for (const args of [
    ["org:create", "acme"],
    ["org:create", "other"],
    ["org:member:add", "acme", "alice@example.com", "--role=admin"],
    ["org:member:add", "other", "carol@example.com", "--role=admin"],
    ["site:create", "shop", "--org=acme"],
    ["site:team:add", "shop", "bob@example.com"],
    ...extra,
  ]) {
    expectSuccess(await admin(args));
  }
  return cast;
}

/** Asserts a CLI run succeeded (exit 0), showing what it printed otherwise; answers the result. */
export function expectSuccess(result: CliResult): CliResult {
  expect(result.code, `exit code; stderr:\n${result.stderr}`).toBe(0);
  return result;
}

/** Asserts a CLI run failed with `code` and printed exactly `Error: message` on stderr, nothing on stdout. */
export function expectError(result: CliResult, code: number, message: string): void {
  expect({ code: result.code, stderr: result.stderr, stdout: result.stdout }).toEqual({
    code,
    stderr: `Error: ${message}\n`,
    stdout: "",
  });
}

/** What `GET /site/secrets` of the server at `url` serves the runtime token `token`: name → value. */
export async function runtimeValues(url: string, token: string): Promise<Record<string, string>> {
  const response = await fetch(`${url}/site/secrets`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { Secrets: Record<string, { Value: string }> };
  return Object.fromEntries(Object.entries(body.Secrets).map(([name, secret]) => [name, secret.Value]));
}

/** The token on the last line of stdout (`token:create`, `token:runtime:create` …). */
export function lastLine(result: CliResult): string {
  const lines = result.stdout.trimEnd().split("\n");
  return lines[lines.length - 1] ?? "";
}

/** Parses a JSON listing printed on stdout. */
export function json<T = Record<string, Record<string, unknown>>>(result: CliResult): T {
  expectSuccess(result);
  return JSON.parse(result.stdout) as T;
}

/**
 * The cells of a table as the CLI prints it: one array per row (the header first), trimmed, empty
 * cells kept. Columns are found from the dashes of the first border line.
 */
export function tableRows(text: string): string[][] {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const border = lines.find((line) => /^\s*-[-\s]*$/.test(line));
  if (border === undefined) throw new Error(`not a table:\n${text}`);
  const columns = [...border.matchAll(/-+/g)].map((match) => [match.index, match.index + match[0].length]);
  return lines
    .filter((line) => line !== border)
    .map((line) => columns.map(([start, end]) => line.slice(start, end).trim()));
}

/** Asserts no user, runtime or build token, and none of `values`, appears in `log`. */
export function expectNoSecretsIn(log: string, values: Iterable<string>): void {
  expect(log.match(/lb[xrb]_[A-Za-z0-9_-]{43}/g) ?? []).toEqual([]);
  const leaked = [...values].filter((value) => log.includes(value));
  expect(leaked).toEqual([]);
}
