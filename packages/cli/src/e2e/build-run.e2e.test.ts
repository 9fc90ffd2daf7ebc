import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cliAs,
  type E2eServer,
  e2eDatabases,
  expectSuccess,
  lastLine,
  startE2eServer,
} from "./e2e-fixtures.js";
import { startCli } from "./harness.js";

/**
 * `lockbox build:run` against a real server process, driving the real CLI with a build token: a
 * signal sent to lockbox while the build's command runs reaches the command, and lockbox exits with
 * the code the command chose (SPEC §4, §8), leaving no process behind.
 */

/**
 * A build step that says it started (with NPM_TOKEN, masked), prints its pid and its background
 * sleep's on stderr, and on SIGTERM or SIGINT stops the sleep and exits 3, saying which it got.
 */
const TRAPPING_BUILD = [
  "trap 'echo got-term; kill $!; exit 3' TERM",
  "trap 'echo got-int; kill $!; exit 3' INT",
  'echo "pid $$" >&2',
  "sleep 30 &",
  'echo "pid $!" >&2',
  'echo "started $NPM_TOKEN"',
  "wait",
].join("\n");

/** Whether a process `pid` exists (signal 0 checks without sending anything). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const [sqlite] = await e2eDatabases();

describe("lockbox build:run", () => {
  let e2e: E2eServer;
  let buildEnv: Record<string, string>;

  beforeAll(async () => {
    e2e = await startE2eServer(sqlite as NonNullable<typeof sqlite>);
    const admin = cliAs(e2e, e2e.adminToken);
    for (const args of [
      ["org:create", "build-org"],
      ["site:create", "build-site", "--org=build-org"],
      ["secret:site:set", "build-site", "NPM_TOKEN", "npm-s3cr3t", "--type=env", "--scope=ic"],
    ]) {
      expectSuccess(await admin(args));
    }
    const token = lastLine(expectSuccess(await admin(["token:build:create", "build-site.dev"])));
    expect(token).toMatch(/^lbb_/);
    buildEnv = { LOCKBOX_URL: e2e.server.url, LOCKBOX_BUILD_TOKEN: token };
  }, 60_000);
  afterAll(async () => {
    await e2e?.close();
  });

  it.each([
    ["SIGTERM", "got-term"],
    ["SIGINT", "got-int"],
  ] as const)(
    "passes %s on to the command and exits with the code the command chose, leaving no process behind",
    async (signal, said) => {
      const cli = startCli(
        ["build:run", "build-site.dev", "--", "sh", "-c", TRAPPING_BUILD],
        buildEnv,
        e2e.dir,
      );
      try {
        await cli.waitFor("started ***");
        cli.child.kill(signal);
        // lockbox's output closes only once the command and its sleep have both exited.
        expect(await cli.exited(), cli.stderr()).toBe(3);
        expect(cli.stdout()).toBe(`started ***\n${said}\n`);
        const [command] = [...cli.stderr().matchAll(/^pid (\d+)$/gm)].map((match) => Number(match[1]));
        expect(command).toBeDefined();
        expect(processExists(command as number)).toBe(false);
      } finally {
        cli.kill();
      }
    },
  );
});
