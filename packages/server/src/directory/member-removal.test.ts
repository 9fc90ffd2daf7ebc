import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Lockbox } from "../lockbox.js";
import { TestClock } from "../testing/test-clock.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { createTestLockbox, testCaller } from "../testing/test-lockbox.js";
import type { Caller } from "./caller.js";
import type { SiteRow } from "./records.js";

/**
 * Removing a person from an organization or a site team leaves the runtime and build tokens they
 * minted working (machine credentials), and names those that still work so they can be revoked.
 */
describe.each(await contractDatabases())(
  "member removal and the tokens left behind ($name)",
  ({ create }) => {
    let database: TestDatabase;
    let lockbox: Lockbox;
    let admin: Caller;
    const clock = new TestClock();

    beforeAll(async () => {
      database = await create();
      lockbox = await createTestLockbox(database, { now: clock.now });
      admin = await testCaller(lockbox, { admin: true });
    });
    afterAll(async () => {
      await lockbox?.close();
      await database?.drop();
    });

    const tag = () => randomUUID().slice(0, 8);
    const makeSite = async (org: string, supportingOrgs?: string[]): Promise<SiteRow> =>
      lockbox.sites.createSite(admin, { name: `site-${tag()}`, org, supportingOrgs });
    const mint = (
      caller: Caller,
      kind: "runtime" | "build",
      site: SiteRow,
      env: string,
      expiresIn?: string,
    ) => lockbox.tokens.createToken(caller, { kind, site: site.name, env, expiresIn });
    const ids = (rows: ReadonlyArray<{ id: string }>) => rows.map((row) => row.id).sort();

    it("removeMember answers the runtime and build tokens the member minted for the org's sites that still work, and leaves them working", async () => {
      const org = await lockbox.orgs.createOrg(admin, `org-${tag()}`);
      const other = await lockbox.orgs.createOrg(admin, `org-${tag()}`);
      const owned = await makeSite(org.name);
      const supported = await makeSite(other.name, [org.name]);
      const elsewhere = await makeSite(other.name);
      const member = await testCaller(lockbox);
      await lockbox.orgs.addMember(admin, org.name, member.user.email, "member");
      await lockbox.sites.addTeamMember(admin, elsewhere.name, member.user.email);

      const ownedLive = await mint(member, "runtime", owned, "live");
      const ownedDev = await mint(member, "build", owned, "dev", "1h");
      const supportedTest = await mint(member, "runtime", supported, "test", "7d");
      const expiring = await mint(member, "runtime", supported, "live", "1m");
      const revoked = await mint(member, "runtime", owned, "test");
      await lockbox.tokens.revoke(admin, revoked.row.id);
      // Not the org's business: another site, the member's own user token, another person's token.
      await mint(member, "runtime", elsewhere, "live");
      await lockbox.tokens.createToken(member, { kind: "user" });
      await mint(admin, "runtime", owned, "live");

      await clock.later(60_000, async () => {
        const removal = await lockbox.orgs.removeMember(admin, org.name, member.user.email);
        expect(removal.user.id).toBe(member.user.id);
        expect(removal.fromName).toBe(org.name);
        expect(ids(removal.tokensStillActive)).toEqual(ids([ownedLive.row, ownedDev.row, supportedTest.row]));
        expect(removal.tokensStillActive.find((t) => t.id === ownedDev.row.id)).toMatchObject({
          kind: "build",
          siteName: owned.name,
          environmentName: "dev",
          createdBy: member.user.id,
          expiresAt: ownedDev.row.expiresAt,
          revokedAt: null,
        });
        // Listed, not revoked: they keep working until someone revokes them.
        for (const { token, row } of [ownedLive, ownedDev, supportedTest]) {
          expect((await lockbox.tokens.authenticate(token)).id).toBe(row.id);
        }
        await expect(lockbox.tokens.authenticate(expiring.token)).rejects.toMatchObject({
          code: "UNAUTHENTICATED",
        });
      });
    });

    it("removeMember of someone who minted nothing answers an empty list", async () => {
      const org = await lockbox.orgs.createOrg(admin, `org-${tag()}`);
      const member = await testCaller(lockbox);
      await lockbox.orgs.addMember(admin, org.name, member.user.email, "member");
      expect((await lockbox.orgs.removeMember(admin, org.name, member.user.email)).tokensStillActive).toEqual(
        [],
      );
    });

    it("removeTeamMember answers the runtime and build tokens the person minted for that site that still work", async () => {
      const org = await lockbox.orgs.createOrg(admin, `org-${tag()}`);
      const site = await makeSite(org.name);
      const otherSite = await makeSite(org.name);
      const person = await testCaller(lockbox);
      await lockbox.sites.addTeamMember(admin, site.name, person.user.email);
      await lockbox.sites.addTeamMember(admin, otherSite.name, person.user.email);
      const live = await mint(person, "runtime", site, "live", "30d");
      const dev = await mint(person, "build", site, "dev");
      const expiring = await mint(person, "build", site, "dev", "1m");
      const revoked = await mint(person, "runtime", site, "test");
      await lockbox.tokens.revoke(person, revoked.row.id);
      await mint(person, "runtime", otherSite, "live");

      await clock.later(60_000, async () => {
        const removal = await lockbox.sites.removeTeamMember(admin, site.id, person.user.email);
        expect(removal.fromName).toBe(site.name);
        expect(ids(removal.tokensStillActive)).toEqual(ids([live.row, dev.row]));
        expect((await lockbox.delivery.identify(live.token, "runtime")).tokenId).toBe(live.row.id);
        await expect(lockbox.delivery.identify(expiring.token, "build")).rejects.toMatchObject({
          code: "UNAUTHENTICATED",
        });
      });
    });
  },
);
