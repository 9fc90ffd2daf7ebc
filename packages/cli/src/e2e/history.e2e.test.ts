import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  acmeShopCast,
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
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly value?: string | null;
}

/**
 * Secret history and rollback through the real CLI and server: alice (admin of acme, which owns
 * shop) and bob (on shop's team) write; carol belongs to another org and must see nothing.
 */
describe.concurrent.each(await e2eDatabases())("on $name", (database) => {
  describe.sequential("secret history and rollback", () => {
    let e2e: E2eServer;
    let cast: Awaited<ReturnType<typeof acmeShopCast>>;

    const runtime = (token: string) => runtimeValues(e2e.server.url, token);

    beforeAll(async () => {
      e2e = await startE2eServer(database);
      cast = await acmeShopCast(e2e);
    }, 120_000);
    afterAll(async () => {
      await e2e?.close();
    });

    it("set → override in live → set again → rollback to 1: history lists each step with its actor, the runtime serves the old value", async () => {
      const alice = cast.alice;
      const bob = cast.bob;
      expectSuccess(await alice(["secret:site:set", "shop", "API_KEY", "first-value", "--scope=web,user"]));
      expectSuccess(await bob(["secret:site:set", "shop.live", "API_KEY", "live-value"]));
      expectSuccess(await alice(["secret:site:set", "shop", "API_KEY", "second-value"]));
      const devToken = lastLine(expectSuccess(await alice(["token:runtime:create", "shop.dev"])));
      const liveToken = lastLine(expectSuccess(await alice(["token:runtime:create", "shop.live"])));
      expect((await runtime(devToken)).API_KEY).toBe("second-value");

      const rolled = expectSuccess(await bob(["secret:site:rollback", "shop", "API_KEY", "--to=1"]));
      expect(rolled.stderr).toContain("'API_KEY' is now version 3, with the value of version 1.");
      // The runtime cache sees it as any write.
      expect((await runtime(devToken)).API_KEY).toBe("first-value");
      expect((await runtime(liveToken)).API_KEY).toBe("live-value");

      const base = json<VersionJson[]>(
        await alice(["secret:site:history", "shop", "API_KEY", "--show-values", "--format=json"]),
      );
      expect(base.map(({ version, actor, action, value }) => ({ version, actor, action, value }))).toEqual([
        { version: 3, actor: "bob@example.com", action: "rollback", value: "first-value" },
        { version: 2, actor: "alice@example.com", action: "set", value: "second-value" },
        { version: 1, actor: "alice@example.com", action: "set", value: "first-value" },
      ]);
      const table = tableRows(
        expectSuccess(await bob(["secret:site:history", "shop.live", "API_KEY"])).stdout,
      );
      expect(table[0]).toEqual(["version", "at", "actor", "action"]);
      expect(table.slice(1).map((row) => [row[0], row[2], row[3]])).toEqual([
        ["1", "bob@example.com", "set"],
      ]);
      // Without --show-values no value is printed in any format.
      const plain = expectSuccess(await alice(["secret:site:history", "shop", "API_KEY", "--format=csv"]));
      expect(plain.stdout).not.toContain("first-value");
    });

    it("redacts values without the user scope, records deletes, refuses a rollback to one, and hides it all from other tenants", async () => {
      const alice = cast.alice;
      expectSuccess(await alice(["secret:site:set", "shop", "HIDDEN", "hidden-value", "--scope=web"]));
      const hidden = tableRows(
        expectSuccess(await alice(["secret:site:history", "shop", "HIDDEN", "--show-values"])).stdout,
      );
      expect(hidden.slice(1).map((row) => [row[0], row[3], row[4]])).toEqual([["1", "set", "[REDACTED]"]]);
      expect(
        json<VersionJson[]>(
          await alice(["secret:site:history", "shop", "HIDDEN", "--show-values", "--format=json"]),
        )[0]?.value,
      ).toBeNull();

      expectSuccess(await alice(["secret:org:set", "acme", "SHARED", "org-value", "--scope=web,user"]));
      expectSuccess(await alice(["secret:org:set", "acme", "SHARED", "org-live", "--env=live"]));
      expectSuccess(await alice(["secret:org:delete", "acme", "SHARED", "--env=live"]));
      const live = json<VersionJson[]>(
        await alice(["secret:org:history", "acme", "SHARED", "--env=live", "--show-values", "--format=json"]),
      );
      expect(live.map(({ version, action, value }) => [version, action, value])).toEqual([
        [2, "delete", null],
        [1, "set", "org-live"],
      ]);
      const refused = await alice(["secret:org:rollback", "acme", "SHARED", "--env=live", "--to=2"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /Version 2 of secret 'SHARED' in environment 'live' is a delete and holds no value/,
      );

      const carol = cast.carol;
      for (const args of [
        ["secret:site:history", "shop", "API_KEY", "--show-values"],
        ["secret:site:rollback", "shop", "API_KEY", "--to=1"],
        ["secret:org:history", "acme", "SHARED"],
      ]) {
        const result = await carol(args);
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/does not exist|not found/i);
        expect(result.stdout + result.stderr).not.toContain("value");
      }
    });
  });
});
