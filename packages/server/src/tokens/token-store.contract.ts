import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { LockboxStores } from "../stores.js";
import { useContractDatabase } from "../testing/store-fixtures.js";
import type { TestDatabase } from "../testing/test-databases.js";

/**
 * The contract of the tokens' port (`TokenStore`) that every implementation must pass, run against
 * each dialect with `tokenStoreContract(name, createDatabase)`: lookups by hash and id, the names
 * read with a token, listing, revocation and last use.
 */
export function tokenStoreContract(name: string, createDatabase: () => Promise<TestDatabase>): void {
  describe(`TokenStore contract (${name})`, () => {
    const database = useContractDatabase(createDatabase);
    const { newUser, newOrg, newSite, newToken } = database;
    let stores: LockboxStores;
    beforeAll(() => {
      stores = database.stores;
    });

    it("finds tokens by hash, lists them by site, revokes once and records last use", async () => {
      const org = await newOrg();
      const site = await newSite({ orgId: org.id });
      const dev = await stores.environments.findEnvironment(site.id, "dev");
      const hash = randomUUID();
      const token = await newToken({ kind: "runtime", hash, environmentId: dev?.id ?? null });
      const found = await stores.tokens.findTokenByHash(hash);
      expect([found?.id, found?.siteId, found?.environmentName]).toEqual([token.id, site.id, "dev"]);
      expect((await stores.tokens.listTokens({ siteId: site.id })).map((t) => t.id)).toEqual([token.id]);
      await stores.tokens.touchTokens([{ id: token.id, at: "2026-01-02T00:00:00.000Z" }]);
      await stores.tokens.touchTokens([{ id: token.id, at: "2026-01-01T00:00:00.000Z" }]);
      expect((await stores.tokens.findTokenById(token.id))?.lastUsedAt).toBe("2026-01-02T00:00:00.000Z");
      expect(await stores.tokens.revokeToken(token.id, "2026-01-03T00:00:00.000Z")).toBe(true);
      expect(await stores.tokens.revokeToken(token.id, "2026-01-04T00:00:00.000Z")).toBe(false);
      expect((await stores.tokens.findTokenByHash(hash))?.revokedAt).toBe("2026-01-03T00:00:00.000Z");
    });

    it("records the last use of many tokens at once, each only when later than the one stored", async () => {
      const org = await newOrg();
      const site = await newSite({ orgId: org.id });
      const live = await stores.environments.findEnvironment(site.id, "live");
      const tokens = await Promise.all(
        Array.from({ length: 450 }, () => newToken({ kind: "runtime", environmentId: live?.id ?? null })),
      );
      const at = (i: number, day: number) => `2026-0${day}-01T00:00:00.${String(i).padStart(3, "0")}Z`;
      await stores.tokens.touchTokens(
        tokens.filter((_, i) => i % 2 === 0).map((t, i) => ({ id: t.id, at: at(i, 5) })),
      );
      // A later flush: half of the times are older than those stored, half newer or first.
      await stores.tokens.touchTokens(tokens.map((t, i) => ({ id: t.id, at: at(i, 3) })));
      const stored = await Promise.all(
        tokens.map(async (t) => (await stores.tokens.findTokenById(t.id))?.lastUsedAt),
      );
      expect(stored).toEqual(tokens.map((_, i) => (i % 2 === 0 ? at(i / 2, 5) : at(i, 3))));
      await stores.tokens.touchTokens([]);
    });

    it("reads a token with its user's email and its site's name", async () => {
      const person = await newUser();
      const org = await newOrg();
      const site = await newSite({ orgId: org.id });
      const live = await stores.environments.findEnvironment(site.id, "live");
      const user = await newToken({ kind: "user", userId: person.id, createdBy: person.id });
      const runtime = await newToken({
        kind: "runtime",
        environmentId: live?.id ?? null,
        createdBy: person.id,
      });
      const named = (t: {
        userEmail: string | null;
        siteName: string | null;
        environmentName: string | null;
      }) => [t.userEmail, t.siteName, t.environmentName];

      expect(named(user)).toEqual([person.email, null, null]);
      expect(named(runtime)).toEqual([null, site.name, "live"]);
      const byHash = await stores.tokens.findTokenByHash(user.hash);
      expect(byHash && named(byHash)).toEqual([person.email, null, null]);
      const byId = await stores.tokens.findTokenById(runtime.id);
      expect(byId && named(byId)).toEqual([null, site.name, "live"]);
      expect((await stores.tokens.listTokens({ userId: person.id })).map(named)).toEqual([
        [person.email, null, null],
      ]);
      expect((await stores.tokens.listTokens({ siteId: site.id })).map(named)).toEqual([
        [null, site.name, "live"],
      ]);
    });

    it("lists the unrevoked runtime and build tokens a person minted, for one site or an org's sites", async () => {
      const person = await newUser();
      const other = await newUser();
      const org = await newOrg();
      const owned = await newSite({ orgId: org.id });
      const supported = await newSite({ orgId: (await newOrg()).id });
      await stores.sites.addSupportingOrg(supported.id, org.id);
      const elsewhere = await newSite({ orgId: (await newOrg()).id });
      const env = async (site: { id: string }, name: string) =>
        (await stores.environments.findEnvironment(site.id, name))?.id ?? null;
      const mint = async (kind: "runtime" | "build" | "user", environmentId: string | null, by = person.id) =>
        newToken({ kind, environmentId, createdBy: by, userId: kind === "user" ? person.id : null });
      const ownedLive = await mint("runtime", await env(owned, "live"));
      const ownedBuild = await mint("build", await env(owned, "dev"));
      const supportedLive = await mint("runtime", await env(supported, "live"));
      const revoked = await mint("runtime", await env(owned, "test"));
      await stores.tokens.revokeToken(revoked.id, "2026-01-01T00:00:00.000Z");
      await mint("runtime", await env(elsewhere, "live"));
      await mint("user", null);
      await mint("runtime", await env(owned, "live"), other.id);
      const ids = (rows: Array<{ id: string }>) => rows.map((row) => row.id);
      const sorted = (rows: Array<{ id: string }>) => ids(rows).sort();
      expect(
        ids(await stores.tokens.listUnrevokedSiteTokensMintedBy({ createdBy: person.id, orgId: org.id })),
      ).toEqual(sorted([ownedLive, ownedBuild, supportedLive]));
      expect(
        ids(await stores.tokens.listUnrevokedSiteTokensMintedBy({ createdBy: person.id, siteId: owned.id })),
      ).toEqual(sorted([ownedLive, ownedBuild]));
      expect(
        await stores.tokens.listUnrevokedSiteTokensMintedBy({ createdBy: other.id, siteId: supported.id }),
      ).toEqual([]);
    });
  });
}
