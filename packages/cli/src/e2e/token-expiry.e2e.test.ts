import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cliAs,
  type E2eServer,
  e2eDatabases,
  expectError,
  expectSuccess,
  json,
  lastLine,
  startE2eServer,
  tableRows,
} from "./e2e-fixtures.js";
import type { CliResult } from "./harness.js";

type Cli = (args: string[]) => Promise<CliResult>;
const DAY_MS = 86_400_000;

/**
 * Token lifetimes and what a removal leaves behind, through the real CLI against a real server:
 * `--expires-in` on the token commands, the expiry in `token:create` and `token:list`, and the
 * `lockbox token:revoke <id>` hints when the person who minted runtime and build tokens is removed
 * from the org or the site team.
 */
describe.concurrent.each(await e2eDatabases())("on $name", (database) => {
  // Each CLI run starts Node: a test of several runs needs more than the default 30 s on a loaded machine.
  describe.sequential("token expiry and removal through the CLI", { timeout: 90_000 }, () => {
    let e2e: E2eServer;
    let admin: Cli;
    let bob: Cli;
    const runtimeRead = (token: string) =>
      fetch(`${e2e.server.url}/site/secrets`, { headers: { authorization: `Bearer ${token}` } });
    /** Whether `iso` is `days` days after the moment `before`/`after` bracket. */
    const expectDaysAfter = (iso: string, days: number, before: number, after: number) => {
      const at = Date.parse(iso);
      expect(at).toBeGreaterThanOrEqual(before + days * DAY_MS);
      expect(at).toBeLessThanOrEqual(after + days * DAY_MS);
    };

    beforeAll(async () => {
      e2e = await startE2eServer(database);
      admin = cliAs(e2e, e2e.adminToken);
      for (const args of [
        ["user:create", "bob@example.com"],
        ["org:create", "acme"],
        ["org:member:add", "acme", "bob@example.com"],
        ["site:create", "shop", "--org=acme"],
        ["secret:site:set", "shop", "GREETING", "hello", "--scope=web,user"],
      ]) {
        expectSuccess(await admin(args));
      }
    });
    afterAll(async () => {
      await e2e?.close();
    });

    it("token:create --expires-in=90d shows when the user token expires, and it works until then", async () => {
      const before = Date.now();
      const created = expectSuccess(
        await admin(["token:create", "--user=bob@example.com", "--expires-in=90d"]),
      );
      const after = Date.now();
      const expiresAt = /valid until (\S+)\. /.exec(created.stderr)?.[1] ?? "";
      expectDaysAfter(expiresAt, 90, before, after);
      bob = cliAs(e2e, lastLine(created));
      expectSuccess(await bob(["org:list"]));
    });

    it("refuses a bad --expires-in with exit 2, naming the format and the maximum, and mints nothing", async () => {
      for (const value of ["0d", "366d"]) {
        expectError(
          await bob(["token:runtime:create", "shop.live", `--expires-in=${value}`]),
          2,
          `Invalid --expires-in '${value}': use a whole number of minutes, hours or days such as 30m, 12h, 7d or 90d, from 1m to 365d.`,
        );
      }
      expect(json<unknown[]>(await admin(["token:list", "--site=shop", "--format=json"]))).toEqual([]);
    });

    let runtimeToken = "";
    let minted: Array<{ id: string; kind: string; expiresAt: string | null }> = [];

    it("a runtime token made with --expires-in shows its expiry in token:create's output and in token:list", async () => {
      const before = Date.now();
      const runtime = expectSuccess(await bob(["token:runtime:create", "shop.live", "--expires-in=30d"]));
      const build = expectSuccess(await bob(["token:build:create", "shop.dev"]));
      const after = Date.now();
      runtimeToken = lastLine(runtime);
      expect(runtime.stderr).toMatch(
        /^Created a runtime token for shop\.live \(id [0-9a-f-]{36}\), valid until \S+\. /,
      );
      expect(build.stderr).toContain("valid until revoked.");

      minted = json<Array<{ id: string; kind: string; expiresAt: string | null }>>(
        await admin(["token:list", "--site=shop", "--format=json"]),
      );
      const runtimeRow = minted.find((row) => row.kind === "runtime");
      const buildRow = minted.find((row) => row.kind === "build");
      expectDaysAfter(runtimeRow?.expiresAt ?? "", 30, before, after);
      expect(buildRow?.expiresAt).toBeNull();
      const table = tableRows(expectSuccess(await admin(["token:list", "--site=shop"])).stdout);
      const expires = table[0]?.indexOf("expires") ?? -1;
      expect(table.find((row) => row[0] === runtimeRow?.id)?.[expires]).toBe(runtimeRow?.expiresAt);
      expect(table.find((row) => row[0] === buildRow?.id)?.[expires]).toBe("never");
    });

    it("removing bob from the org lists the tokens he minted with the command to revoke each, and that command stops them", async () => {
      expect((await runtimeRead(runtimeToken)).status).toBe(200);
      const removed = expectSuccess(await admin(["org:member:remove", "acme", "bob@example.com"]));
      expect(removed.stdout).toBe("");
      expect(removed.stderr.split("\n")).toEqual([
        "User 'bob@example.com' was removed from organization 'acme'. 2 runtime or build tokens they created still work: revoke any that should stop.",
        ...minted.map(
          (row) =>
            `  lockbox token:revoke ${row.id}   # ${row.kind} shop.${row.kind === "runtime" ? "live" : "dev"}, expires ${row.expiresAt ?? "never"}`,
        ),
        "",
      ]);
      // Left active until someone acts on the hint; the hint's command then stops it.
      expect((await runtimeRead(runtimeToken)).status).toBe(200);
      const hint = /lockbox (token:revoke \S+)\s+# runtime/.exec(removed.stderr)?.[1]?.split(" ") ?? [];
      expectSuccess(await admin(hint));
      expect((await runtimeRead(runtimeToken)).status).toBe(401);
    });

    it("removing someone from a site team lists the tokens they minted for that site", async () => {
      expectSuccess(await admin(["site:team:add", "shop", "bob@example.com"]));
      const build = expectSuccess(await bob(["token:build:create", "shop.dev", "--expires-in=12h"]));
      expect(build.stderr).toMatch(/\), valid until \S+\. /);
      const removed = expectSuccess(await admin(["site:team:remove", "shop", "bob@example.com"]));
      const lines = removed.stderr.trimEnd().split("\n");
      // The build token minted in the previous test and never revoked, and this one.
      expect(lines[0]).toBe(
        "User 'bob@example.com' was removed from the team of site 'shop'. 2 runtime or build tokens they created still work: revoke any that should stop.",
      );
      expect(lines.slice(1)).toHaveLength(2);
      for (const line of lines.slice(1)) {
        expect(line).toMatch(
          /^ {2}lockbox token:revoke [0-9a-f-]{36} {3}# build shop\.dev, expires (never|\S+Z)$/,
        );
      }
    });
  });
});
