import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  acmeShopCast,
  type CliAs,
  type E2eServer,
  e2eDatabases,
  expectSuccess,
  json,
  lastLine,
  runtimeValues,
  startE2eServer,
  tableRows,
} from "./e2e-fixtures.js";

interface VersionJson {
  readonly version: number;
  readonly actor: string;
  readonly action: string;
  readonly value?: string | null;
}
interface DeletedJson {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly scopes: string[];
  readonly envs: string[];
  readonly deletedAt: string;
  readonly deletedBy: string;
}

/**
 * Delete and restore through the real CLI and server (issue 9, "done when"): alice (admin of acme,
 * which owns shop) and bob (on shop's team) write; carol, of another org, must see nothing.
 */
describe.concurrent.each(await e2eDatabases())("on $name", (database) => {
  describe.sequential("deleted secrets and restore", { timeout: 300_000 }, () => {
    let e2e: E2eServer;
    let cast: Awaited<ReturnType<typeof acmeShopCast>>;

    const runtime = (token: string) => runtimeValues(e2e.server.url, token);
    const history = async (cli: CliAs, args: string[]) =>
      json<VersionJson[]>(await cli([...args, "--show-values", "--format=json"])).map(
        ({ version, actor, action, value }) => [version, actor, action, value],
      );

    beforeAll(async () => {
      e2e = await startE2eServer(database);
      cast = await acmeShopCast(e2e, [["org:member:add", "acme", "bob@example.com", "--role=member"]]);
    }, 300_000);
    afterAll(async () => {
      await e2e?.close();
    });

    it("set → override in live → set again → rollback to 1 → delete → restore gives back every value and override, each step in the history with its actor", async () => {
      const alice = cast.alice;
      const bob = cast.bob;
      const alices = "alice@example.com";
      const bobs = "bob@example.com";
      expectSuccess(
        await alice(["secret:site:set", "shop", "API_KEY", "first-value", "--type=env", "--scope=web,user"]),
      );
      expectSuccess(await bob(["secret:site:set", "shop.live", "API_KEY", "live-value"]));
      expectSuccess(await alice(["secret:site:set", "shop", "API_KEY", "second-value"]));
      expectSuccess(await bob(["secret:site:rollback", "shop", "API_KEY", "--to=1"]));
      const devToken = lastLine(expectSuccess(await alice(["token:runtime:create", "shop.dev"])));
      const liveToken = lastLine(expectSuccess(await alice(["token:runtime:create", "shop.live"])));
      expect((await runtime(devToken)).API_KEY).toBe("first-value");

      expectSuccess(await alice(["secret:site:delete", "shop", "API_KEY"]));
      expect(await runtime(devToken)).not.toHaveProperty("API_KEY");
      expect(await runtime(liveToken)).not.toHaveProperty("API_KEY");
      expect(expectSuccess(await alice(["secret:site:list", "shop"])).stdout).not.toContain("API_KEY");

      // The deleted list, in every format: name, when, by whom; never a value.
      const deleted = json<DeletedJson[]>(
        await bob(["secret:site:list", "shop", "--deleted", "--format=json"]),
      );
      expect(deleted).toMatchObject([
        { name: "API_KEY", type: "env", scopes: ["web", "user"], envs: ["live"], deletedBy: alices },
      ]);
      expect(Number.isNaN(Date.parse(deleted[0]?.deletedAt ?? ""))).toBe(false);
      const table = tableRows(expectSuccess(await bob(["secret:site:list", "shop", "--deleted"])).stdout);
      expect(table[0]?.slice(0, 3)).toEqual(["name", "deleted-at", "deleted-by"]);
      expect(table[1]?.[0]).toBe("API_KEY");
      expect(table[1]?.[2]).toBe(alices);
      const csv = expectSuccess(await bob(["secret:site:list", "shop", "--deleted", "--format=csv"])).stdout;
      expect(csv.split("\n")[0]).toBe("name,deleted-at,deleted-by,type,scopes,envs,id");
      const yaml = expectSuccess(
        await bob(["secret:site:list", "shop", "--deleted", "--format=yaml"]),
      ).stdout;
      expect(yaml).toContain("name: API_KEY");
      for (const output of [JSON.stringify(deleted), csv, yaml]) {
        expect(output).not.toMatch(/first-value|second-value|live-value/);
      }

      const restored = expectSuccess(await bob(["secret:site:restore", "shop", "API_KEY"]));
      expect(restored.stderr).toContain("Secret restored. 'API_KEY' is back with its overrides in live.");
      // Runtimes see it as any write.
      expect((await runtime(devToken)).API_KEY).toBe("first-value");
      expect((await runtime(liveToken)).API_KEY).toBe("live-value");
      expect(
        json<DeletedJson[]>(await bob(["secret:site:list", "shop", "--deleted", "--format=json"])),
      ).toEqual([]);
      const listed = json<Record<string, { type: string; scopes: string[]; "env-values": object }>>(
        await alice(["secret:site:list", "shop", "--format=json", "--fields=*"]),
      );
      expect(listed.API_KEY).toMatchObject({
        type: "env",
        scopes: ["web", "user"],
        "env-values": { live: "live-value" },
      });

      expect(await history(alice, ["secret:site:history", "shop", "API_KEY"])).toEqual([
        [5, bobs, "restore", "first-value"],
        [4, alices, "delete", null],
        [3, bobs, "rollback", "first-value"],
        [2, alices, "set", "second-value"],
        [1, alices, "set", "first-value"],
      ]);
      expect(await history(alice, ["secret:site:history", "shop.live", "API_KEY"])).toEqual([
        [3, bobs, "restore", "live-value"],
        [2, alices, "delete", null],
        [1, bobs, "set", "live-value"],
      ]);
    });

    it("keeps redaction in history for a restored secret without the user scope", async () => {
      const alice = cast.alice;
      expectSuccess(await alice(["secret:site:set", "shop", "HIDDEN", "hidden-value", "--scope=web"]));
      expectSuccess(await alice(["secret:site:delete", "shop", "HIDDEN"]));
      expectSuccess(await alice(["secret:site:restore", "shop", "HIDDEN"]));
      const rows = tableRows(
        expectSuccess(await alice(["secret:site:history", "shop", "HIDDEN", "--show-values"])).stdout,
      );
      expect(rows.slice(1).map((row) => [row[0], row[3], row[4] ?? ""])).toEqual([
        ["3", "restore", "[REDACTED]"],
        ["2", "delete", ""],
        ["1", "set", "[REDACTED]"],
      ]);
      const all = await history(alice, ["secret:site:history", "shop", "HIDDEN"]);
      expect(all.map((row) => row[3])).toEqual([null, null, null]);
    });

    it("answers a clear 409 when a secret of the name was created meanwhile, and the named fix works", async () => {
      const alice = cast.alice;
      expectSuccess(await alice(["secret:site:set", "shop", "TAKEN", "old-value", "--scope=web,user"]));
      expectSuccess(await alice(["secret:site:delete", "shop", "TAKEN"]));
      const [old] = json<DeletedJson[]>(
        await alice(["secret:site:list", "shop", "--deleted", "--format=json"]),
      );
      expectSuccess(await alice(["secret:site:set", "shop", "TAKEN", "new-value", "--scope=web,user"]));
      const refused = await alice(["secret:site:restore", "shop", "TAKEN"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("Cannot restore secret 'TAKEN'");
      expect(refused.stderr).toContain("lockbox secret:site:delete shop TAKEN");
      expect(refused.stderr).toContain(`--id=${old?.id}`);
      expect(refused.stderr).not.toContain("value'");

      expectSuccess(await alice(["secret:site:delete", "shop", "TAKEN"]));
      expectSuccess(await alice(["secret:site:restore", "shop", "TAKEN", `--id=${old?.id}`]));
      const listed = json<Record<string, { value: string }>>(
        await alice(["secret:site:list", "shop", "--format=json"]),
      );
      expect(listed.TAKEN?.value).toBe("old-value");
      const bad = await alice(["secret:site:restore", "shop", "TAKEN", "--id=nope"]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("Invalid --id 'nope'");
    });

    it("restores org secrets for org admins only, and hides deleted secrets from other tenants (404)", async () => {
      const alice = cast.alice;
      const bob = cast.bob;
      const carol = cast.carol;
      expectSuccess(await alice(["secret:org:set", "acme", "SHARED", "org-value", "--scope=web,user"]));
      expectSuccess(await alice(["secret:org:set", "acme", "SHARED", "org-live", "--env=live"]));
      expectSuccess(await alice(["secret:org:delete", "acme", "SHARED"]));
      expect(
        json<DeletedJson[]>(await alice(["secret:org:list", "acme", "--deleted", "--format=json"])),
      ).toMatchObject([{ name: "SHARED", envs: ["live"], deletedBy: "alice@example.com" }]);
      expectSuccess(await alice(["secret:site:set", "shop", "GONE", "gone-value", "--scope=web,user"]));
      expectSuccess(await alice(["secret:site:delete", "shop", "GONE"]));

      for (const args of [
        ["secret:site:list", "shop", "--deleted"],
        ["secret:site:restore", "shop", "GONE"],
        ["secret:site:history", "shop", "GONE"],
        ["secret:org:list", "acme", "--deleted"],
        ["secret:org:restore", "acme", "SHARED"],
        ["secret:org:history", "acme", "SHARED"],
      ]) {
        const result = await carol(args);
        expect(result.code, args.join(" ")).toBe(1);
        expect(result.stderr).toMatch(/was not found, or you do not have access/);
        expect(result.stdout + result.stderr).not.toMatch(/GONE|SHARED|value/);
      }
      // bob is a member of acme, not an admin: he sees its deleted secrets but cannot restore them.
      expect(
        json<DeletedJson[]>(await bob(["secret:org:list", "acme", "--deleted", "--format=json"])),
      ).toMatchObject([{ name: "SHARED" }]);
      const forbidden = await bob(["secret:org:restore", "acme", "SHARED"]);
      expect(forbidden.code).toBe(1);
      expect(forbidden.stderr).toContain("Only an admin of organization 'acme'");

      expectSuccess(await alice(["secret:org:restore", "acme", "SHARED"]));
      const org = json<Record<string, { value: string; "env-values": object }>>(
        await alice(["secret:org:list", "acme", "--format=json"]),
      );
      expect(org.SHARED).toMatchObject({ value: "org-value", "env-values": { live: "org-live" } });
      expect(await history(alice, ["secret:org:history", "acme", "SHARED", "--env=live"])).toEqual([
        [3, "alice@example.com", "restore", "org-live"],
        [2, "alice@example.com", "delete", null],
        [1, "alice@example.com", "set", "org-live"],
      ]);
    });
  });
});
