import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { LockboxStores } from "../stores.js";
import { unique, useContractDatabase } from "../testing/store-fixtures.js";
import type { TestDatabase } from "../testing/test-databases.js";

/**
 * The contract of the directory's ports (`UserStore`, `OrgStore`, `SiteStore`, `EnvironmentStore`)
 * that every implementation must pass, run against each dialect with
 * `directoryStoreContract(name, createDatabase)`: absence, uniqueness, cascades, ownership,
 * visibility, the role table's inputs and paging.
 */
export function directoryStoreContract(name: string, createDatabase: () => Promise<TestDatabase>): void {
  describe(`Directory stores contract (${name})`, () => {
    const database = useContractDatabase(createDatabase);
    const { newUser, newOrg, newSite, newSecret, newToken } = database;
    let stores: LockboxStores;
    beforeAll(() => {
      stores = database.stores;
    });

    it("finds users by email regardless of case and refuses a duplicate email", async () => {
      const user = await newUser("Mixed.Case@Example.com");
      expect(user.email).toBe("mixed.case@example.com");
      expect((await stores.users.findUserByEmail("MIXED.case@example.com"))?.id).toBe(user.id);
      await expect(newUser("mixed.case@example.com")).rejects.toMatchObject({ code: "CONFLICT" });
      expect(await stores.users.findUserById(randomUUID())).toBeUndefined();
    });

    it("creates a site with dev, test and live environments in that order", async () => {
      const org = await newOrg();
      const site = await newSite({ orgId: org.id });
      expect((await stores.environments.listEnvironments(site.id)).map((e) => e.name)).toEqual([
        "dev",
        "test",
        "live",
      ]);
      await stores.environments.insertEnvironment(site.id, "feature");
      await stores.environments.insertEnvironment(site.id, "alpha");
      expect((await stores.environments.listEnvironments(site.id)).map((e) => [e.name, e.kind])).toEqual([
        ["dev", "standard"],
        ["test", "standard"],
        ["live", "standard"],
        ["alpha", "multidev"],
        ["feature", "multidev"],
      ]);
      await expect(stores.environments.insertEnvironment(site.id, "alpha")).rejects.toMatchObject({
        code: "CONFLICT",
      });
    });

    it("refuses a second site or org with the same name", async () => {
      const org = await newOrg();
      await expect(newOrg(org.name)).rejects.toMatchObject({ code: "CONFLICT" });
      const site = await newSite({ orgId: org.id });
      await expect(newSite({ orgId: org.id }, site.name)).rejects.toMatchObject({ code: "CONFLICT" });
    });

    it("transfers a site: the new owner org stops supporting it and resolution reads the new owner", async () => {
      const first = await newOrg();
      const second = await newOrg();
      const site = await newSite({ orgId: first.id });
      await stores.sites.addSupportingOrg(site.id, second.id);
      await newSecret({ kind: "org", id: second.id }, "SECOND");
      expect(await stores.sites.updateSiteOwner(site.id, { orgId: second.id })).toBe(true);
      expect(await stores.sites.listSupportingOrgs(site.id)).toEqual([]);
      expect((await stores.secrets.loadSiteSecrets(site.id))?.orgSecrets.map((s) => s.name)).toEqual([
        "SECOND",
      ]);
      const person = await newUser();
      await stores.sites.updateSiteOwner(site.id, { userId: person.id });
      const site2 = await stores.sites.findSiteById(site.id);
      expect([site2?.ownerOrgId, site2?.ownerUserId]).toEqual([null, person.id]);
      expect((await stores.secrets.loadSiteSecrets(site.id))?.orgSecrets).toEqual([]);
    });

    it("names a site's owner: the owner org's name or the owning person's email, following a transfer", async () => {
      const org = await newOrg();
      const person = await newUser();
      const site = await newSite({ orgId: org.id });
      expect(site.ownerName).toBe(org.name);
      expect((await stores.sites.findSiteByName(site.name))?.ownerName).toBe(org.name);
      const personal = await newSite({ userId: person.id });
      expect(personal.ownerName).toBe(person.email);
      expect((await stores.sites.findSiteById(personal.id))?.ownerName).toBe(person.email);

      await stores.sites.updateSiteOwner(site.id, { userId: person.id });
      expect((await stores.sites.findSiteById(site.id))?.ownerName).toBe(person.email);
      const other = await newOrg();
      await stores.sites.updateSiteOwner(personal.id, { orgId: other.id });
      expect((await stores.sites.findSiteByName(personal.name))?.ownerName).toBe(other.name);
      const listed = await stores.sites.listSites({ visibleToUserId: person.id, limit: 1000 });
      expect(listed.map((s) => [s.id, s.ownerName])).toEqual([[site.id, person.email]]);
      expect((await stores.sites.listSites({ orgId: other.id })).map((s) => s.ownerName)).toEqual([
        other.name,
      ]);
    });

    it("refuses to delete an org that owns a site, and otherwise takes its secrets, members and links", async () => {
      const org = await newOrg();
      const other = await newOrg();
      const site = await newSite({ orgId: org.id });
      await expect(stores.orgs.deleteOrg(org.id)).rejects.toMatchObject({ code: "CONFLICT" });
      expect(await stores.orgs.countSitesOwnedByOrg(org.id)).toBe(1);

      const member = await newUser();
      await stores.orgs.upsertMembership(other.id, member.id, "member");
      await stores.sites.addSupportingOrg(site.id, other.id);
      const secret = await newSecret({ kind: "org", id: other.id }, "GONE");
      expect(await stores.orgs.deleteOrg(other.id)).toBe(true);
      expect(await stores.orgs.findOrgById(other.id)).toBeUndefined();
      expect(await stores.orgs.findMembership(other.id, member.id)).toBeUndefined();
      expect(await stores.sites.listSupportingOrgs(site.id)).toEqual([]);
      expect(await stores.secrets.findSecret({ kind: "org", id: other.id }, secret.name)).toBeUndefined();
      expect(await stores.orgs.deleteOrg(other.id)).toBe(false);
    });

    it("deletes a site with its environments, secrets, tokens and data key", async () => {
      const org = await newOrg();
      const site = await newSite({ orgId: org.id });
      const secret = await newSecret({ kind: "site", id: site.id }, "X");
      const live = await stores.environments.findEnvironment(site.id, "live");
      const token = await newToken({ kind: "runtime", environmentId: live?.id ?? null });
      expect(await stores.sites.deleteSite(site.id)).toBe(true);
      expect(await stores.sites.findSiteById(site.id)).toBeUndefined();
      expect(await stores.environments.listEnvironments(site.id)).toEqual([]);
      expect(await stores.secrets.findSecret({ kind: "site", id: site.id }, secret.name)).toBeUndefined();
      expect(await stores.tokens.findTokenById(token.id)).toBeUndefined();
      expect(await stores.dataKeys.findDataKey({ kind: "site", id: site.id })).toBeUndefined();
      expect(await stores.sites.deleteSite(site.id)).toBe(false);
    });

    it("deletes a multidev with the site's overrides and tokens for it, keeping org overrides", async () => {
      const org = await newOrg();
      const site = await newSite({ orgId: org.id });
      const env = await stores.environments.insertEnvironment(site.id, "feature");
      const siteSecret = await newSecret({ kind: "site", id: site.id }, "S");
      const orgSecret = await newSecret({ kind: "org", id: org.id }, "O");
      await stores.secrets.putValue(siteSecret.id, "feature", Buffer.from("sf"));
      await stores.secrets.putValue(siteSecret.id, "live", Buffer.from("sl"));
      await stores.secrets.putValue(orgSecret.id, "feature", Buffer.from("of"));
      const token = await newToken({ kind: "build", environmentId: env.id });
      expect(await stores.environments.deleteEnvironment(site.id, "feature")).toBe(true);
      expect((await stores.secrets.findSecret({ kind: "site", id: site.id }, "S"))?.overrideEnvs).toEqual([
        "live",
      ]);
      expect((await stores.secrets.findSecret({ kind: "org", id: org.id }, "O"))?.overrideEnvs).toEqual([
        "feature",
      ]);
      expect(await stores.tokens.findTokenById(token.id)).toBeUndefined();
      expect(await stores.environments.deleteEnvironment(site.id, "feature")).toBe(false);
    });

    it("lists sites visible to a user: personal, team, owner-org and supporting-org membership only", async () => {
      const user = await newUser();
      const stranger = await newUser();
      const ownerOrg = await newOrg();
      const supportingOrg = await newOrg();
      const otherOrg = await newOrg();
      await stores.orgs.upsertMembership(ownerOrg.id, user.id, "member");
      await stores.orgs.upsertMembership(supportingOrg.id, user.id, "admin");
      const personal = await newSite({ userId: user.id });
      const viaOwner = await newSite({ orgId: ownerOrg.id });
      const viaSupport = await newSite({ orgId: otherOrg.id });
      await stores.sites.addSupportingOrg(viaSupport.id, supportingOrg.id);
      const viaTeam = await newSite({ orgId: otherOrg.id });
      await stores.sites.addTeamMember(viaTeam.id, user.id);
      const hidden = await newSite({ orgId: otherOrg.id });
      const visible = (await stores.sites.listSites({ visibleToUserId: user.id, limit: 1000 })).map(
        (s) => s.id,
      );
      expect(new Set(visible)).toEqual(new Set([personal.id, viaOwner.id, viaSupport.id, viaTeam.id]));
      expect(visible).not.toContain(hidden.id);
      expect(await stores.sites.listSites({ visibleToUserId: stranger.id })).toEqual([]);
      expect((await stores.sites.listSites({ orgId: supportingOrg.id })).map((s) => s.id)).toEqual([
        viaSupport.id,
      ]);
      expect(await stores.sites.listSites({ ownerOrgId: supportingOrg.id })).toEqual([]);
      expect((await stores.sites.listSites({ ownerOrgId: ownerOrg.id })).map((s) => s.id)).toEqual([
        viaOwner.id,
      ]);
    });

    it("relates a user to a site: owner-org role, supporting membership and team, nothing for a stranger", async () => {
      const orgAdmin = await newUser();
      const orgMember = await newUser();
      const supporter = await newUser();
      const teammate = await newUser();
      const both = await newUser();
      const stranger = await newUser();
      const ownerOrg = await newOrg();
      const supportingOrg = await newOrg();
      const site = await newSite({ orgId: ownerOrg.id });
      await stores.sites.addSupportingOrg(site.id, supportingOrg.id);
      await stores.orgs.upsertMembership(ownerOrg.id, orgAdmin.id, "admin");
      await stores.orgs.upsertMembership(ownerOrg.id, orgMember.id, "member");
      await stores.orgs.upsertMembership(supportingOrg.id, supporter.id, "admin");
      await stores.sites.addTeamMember(site.id, teammate.id);
      await stores.orgs.upsertMembership(supportingOrg.id, both.id, "member");
      await stores.sites.addTeamMember(site.id, both.id);
      const relation = (userId: string, siteId = site.id) => stores.sites.siteRelation(siteId, userId);
      const none = { ownerOrgRole: null, supportingMember: false, onTeam: false };

      expect(await relation(orgAdmin.id)).toEqual({ ...none, ownerOrgRole: "admin" });
      expect(await relation(orgMember.id)).toEqual({ ...none, ownerOrgRole: "member" });
      expect(await relation(supporter.id)).toEqual({ ...none, supportingMember: true });
      expect(await relation(teammate.id)).toEqual({ ...none, onTeam: true });
      expect(await relation(both.id)).toEqual({ ...none, supportingMember: true, onTeam: true });
      expect(await relation(stranger.id)).toEqual(none);
      expect(await relation(orgAdmin.id, randomUUID())).toEqual(none);

      // The relation follows the rows: a removed team member, a supporting org made owner, a personal site.
      await stores.sites.removeTeamMember(site.id, teammate.id);
      expect(await relation(teammate.id)).toEqual(none);
      await stores.sites.updateSiteOwner(site.id, { orgId: supportingOrg.id });
      expect(await relation(supporter.id)).toEqual({ ...none, ownerOrgRole: "admin" });
      expect(await relation(orgAdmin.id)).toEqual(none);
      const personal = await newSite({ userId: stranger.id });
      expect(await relation(stranger.id, personal.id)).toEqual(none);
    });

    it("lists orgs with the role of a user in each, or only the orgs that user belongs to", async () => {
      const user = await newUser();
      const stranger = await newUser();
      const prefix = unique("roles");
      const adminOf = await newOrg(`${prefix}-a`);
      const memberOf = await newOrg(`${prefix}-b`);
      const notIn = await newOrg(`${prefix}-c`);
      await stores.orgs.upsertMembership(adminOf.id, user.id, "admin");
      await stores.orgs.upsertMembership(memberOf.id, user.id, "member");
      const ours = (rows: ReadonlyArray<{ name: string; role: string | null }>) =>
        rows.filter((o) => o.name.startsWith(prefix)).map((o) => [o.name, o.role]);

      expect(ours(await stores.orgs.listOrgs({ memberUserId: user.id }))).toEqual([
        [adminOf.name, "admin"],
        [memberOf.name, "member"],
      ]);
      expect(await stores.orgs.listOrgs({ memberUserId: stranger.id })).toEqual([]);
      expect(ours(await stores.orgs.listOrgs({ limit: 1000 }))).toEqual([
        [adminOf.name, null],
        [memberOf.name, null],
        [notIn.name, null],
      ]);
      await stores.orgs.upsertMembership(adminOf.id, user.id, "member");
      expect(ours(await stores.orgs.listOrgs({ memberUserId: user.id, limit: 1 }))).toEqual([
        [adminOf.name, "member"],
      ]);
    });

    it("pages lists by name with a cursor", async () => {
      const prefix = unique("page");
      const org = await newOrg();
      for (const n of ["c", "a", "b"]) await newSite({ orgId: org.id }, `${prefix}-${n}`);
      const first = await stores.sites.listSites({ orgId: org.id, limit: 2 });
      expect(first.map((s) => s.name)).toEqual([`${prefix}-a`, `${prefix}-b`]);
      const next = await stores.sites.listSites({ orgId: org.id, limit: 2, after: first[1]?.name ?? "" });
      expect(next.map((s) => s.name)).toEqual([`${prefix}-c`]);
    });
  });
}
