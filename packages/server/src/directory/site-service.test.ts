import { randomUUID } from "node:crypto";
import { isLockboxError } from "@lockbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEvent } from "../audit/records.js";
import type { Lockbox } from "../lockbox.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { auditOf, createTestLockbox, errorOf, putSecret, testCaller } from "../testing/test-lockbox.js";
import type { Caller } from "./caller.js";
import { findSiteByRef } from "./lookups.js";
import type { OrgRow, SiteRow, UserRow } from "./records.js";
import type { OwnerChoice } from "./site-service.js";

describe.each(await contractDatabases())("SiteService ($name)", ({ create }) => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  /** The platform admin: every operation here is allowed to it (access is tested in access-policy.test.ts). */
  let admin: Caller;

  beforeAll(async () => {
    database = await create();
    lockbox = await createTestLockbox(database);
    admin = await testCaller(lockbox, { admin: true });
  });
  afterAll(async () => {
    await lockbox?.close();
    await database?.drop();
  });

  const tag = () => randomUUID().slice(0, 8);
  const makeOrg = (): Promise<OrgRow> => lockbox.orgs.createOrg(admin, `org-${tag()}`);
  const makeUser = (): Promise<UserRow> => lockbox.orgs.createUser(admin, `${tag()}@example.com`);
  const makeSite = (owner: OwnerChoice, supportingOrgs?: string[]): Promise<SiteRow> =>
    lockbox.sites.createSite(admin, { name: `site-${tag()}`, ...owner, supportingOrgs });
  /** A site owned by a new org. */
  const makeOrgSite = async (): Promise<SiteRow> => makeSite({ org: (await makeOrg()).name });
  const siteToken = (kind: "runtime" | "build", site: SiteRow, env: string) =>
    lockbox.tokens.createToken(admin, { kind, site: site.name, env });

  const valueRows = (secretId: string) =>
    lockbox.db.kysely
      .selectFrom("secret_values")
      .select("env")
      .where("secret_id", "=", secretId)
      .orderBy("env")
      .execute();
  const envNames = async (site: SiteRow) =>
    (await lockbox.stores.environments.listEnvironments(site.id)).map((e) => e.name);

  describe("lookups", () => {
    it("getSite accepts a name or a UUID in any case", async () => {
      const site = await makeOrgSite();
      expect((await lockbox.sites.getSite(admin, site.name)).site).toEqual(site);
      expect((await lockbox.sites.getSite(admin, site.id)).site).toEqual(site);
      expect((await lockbox.sites.getSite(admin, site.id.toUpperCase())).site).toEqual(site);
    });

    it("findSiteByRef returns undefined for what does not exist", async () => {
      expect(await findSiteByRef(lockbox.stores.sites, randomUUID())).toBeUndefined();
      expect(await findSiteByRef(lockbox.stores.sites, "no-such-site")).toBeUndefined();
    });

    it("getSite throws the refined not-found code with the SPEC's message", async () => {
      await expect(lockbox.sites.getSite(admin, "nope")).rejects.toMatchObject({
        code: "SITE_NOT_FOUND",
        message: "Site 'nope' was not found, or you do not have access to it.",
      });
    });
  });

  describe("sites", () => {
    it("createSite gives the site dev, test and live, its owner and its supporting orgs", async () => {
      const owner = await makeOrg();
      const helper = await makeOrg();
      // The same org named twice (by name and by UUID) supports the site once.
      const site = await makeSite({ org: owner.name }, [helper.name, helper.id]);
      expect(site).toMatchObject({ ownerOrgId: owner.id, ownerUserId: null, ownerName: owner.name });
      expect(
        (await lockbox.stores.environments.listEnvironments(site.id)).map((e) => [e.name, e.kind]),
      ).toEqual([
        ["dev", "standard"],
        ["test", "standard"],
        ["live", "standard"],
      ]);
      expect((await lockbox.stores.sites.listSupportingOrgs(site.id)).map((o) => o.id)).toEqual([helper.id]);
      expect(await lockbox.stores.dataKeys.findDataKey({ kind: "site", id: site.id })).toBeDefined();
      const details = await lockbox.sites.getSite(admin, site.name);
      expect(details.supportingOrgs).toEqual([helper]);
      expect(details.environments.map((e) => e.name)).toEqual(["dev", "test", "live"]);
      expect(details.team).toEqual([]);
    });

    it("createSite: a user who names someone else as owner is refused the same way whether that person exists or not", async () => {
      const user = await testCaller(lockbox);
      const other = await testCaller(lockbox);
      for (const owner of [other.user.email, `nobody-${tag()}@example.com`]) {
        await expect(lockbox.sites.createSite(user, { name: `site-${tag()}`, owner })).rejects.toMatchObject({
          code: "FORBIDDEN",
          message: "Only the platform admin can give a personal site to someone else.",
        });
      }
      expect(
        await lockbox.sites.createSite(user, {
          name: `site-${tag()}`,
          owner: ` ${user.user.email.toUpperCase()} `,
        }),
      ).toMatchObject({ ownerName: user.user.email });
    });

    it("createSite makes a personal site for a user owner", async () => {
      const user = await makeUser();
      expect(await makeSite({ owner: user.email })).toMatchObject({
        ownerOrgId: null,
        ownerUserId: user.id,
        ownerName: user.email,
      });
    });

    it("createSite refuses a name that is taken with CONFLICT", async () => {
      const org = await makeOrg();
      const site = await makeSite({ org: org.name });
      await expect(lockbox.sites.createSite(admin, { name: site.name, org: org.name })).rejects.toMatchObject(
        {
          code: "CONFLICT",
          message: `Site '${site.name}' already exists.`,
        },
      );
    });

    it("createSite refuses an invalid name with the name rule's message", async () => {
      const org = await makeOrg();
      await expect(lockbox.sites.createSite(admin, { name: "-bad", org: org.name })).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
        message:
          "Invalid site name '-bad': use 1-63 lowercase letters, digits and hyphens, starting with a letter or digit.",
      });
    });

    it("createSite refuses the owner org as a supporting org, and creates nothing", async () => {
      const org = await makeOrg();
      const name = `site-${tag()}`;
      const events = await auditOf(lockbox, async () => {
        await expect(
          lockbox.sites.createSite(admin, { name, org: org.name, supportingOrgs: [org.id] }),
        ).rejects.toMatchObject({
          code: "CONFLICT",
          message: `Organization '${org.name}' owns site '${name}' and cannot also support it.`,
        });
      });
      expect(events).toEqual([]);
      expect(await findSiteByRef(lockbox.stores.sites, name)).toBeUndefined();
    });

    it("createSite refuses an owner or a supporting org that does not exist", async () => {
      const org = await makeOrg();
      const missing = randomUUID();
      await expect(makeSite({ org: missing })).rejects.toMatchObject({ code: "ORG_NOT_FOUND" });
      await expect(makeSite({ owner: missing })).rejects.toMatchObject({ code: "USER_NOT_FOUND" });
      await expect(makeSite({ org: org.name }, [missing])).rejects.toMatchObject({ code: "ORG_NOT_FOUND" });
    });

    it("addSupportingOrg refuses the owner org with CONFLICT", async () => {
      const org = await makeOrg();
      const site = await makeSite({ org: org.name });
      await expect(lockbox.sites.addSupportingOrg(admin, site.name, org.name)).rejects.toMatchObject({
        code: "CONFLICT",
        message: `Organization '${org.name}' owns site '${site.name}' and cannot also support it.`,
      });
      expect(await lockbox.stores.sites.listSupportingOrgs(site.id)).toEqual([]);
    });

    it("addSupportingOrg and removeSupportingOrg add and remove the link; removing a missing one is NOT_FOUND", async () => {
      const site = await makeOrgSite();
      const helper = await makeOrg();
      await lockbox.sites.addSupportingOrg(admin, site.name, helper.name);
      await lockbox.sites.addSupportingOrg(admin, site.id, helper.id);
      expect(await lockbox.stores.sites.listSupportingOrgs(site.id)).toEqual([helper]);
      await lockbox.sites.removeSupportingOrg(admin, site.name, helper.name);
      expect(await lockbox.stores.sites.listSupportingOrgs(site.id)).toEqual([]);
      await expect(lockbox.sites.removeSupportingOrg(admin, site.name, helper.name)).rejects.toMatchObject({
        code: "NOT_FOUND",
        message: `Organization '${helper.name}' does not support site '${site.name}'.`,
      });
    });

    it("removeSupportingOrg: the supporting org's own admin may end a support a member of it added", async () => {
      const helper = await makeOrg();
      const member = await testCaller(lockbox);
      const otherMember = await testCaller(lockbox);
      const helperAdmin = await testCaller(lockbox);
      await lockbox.orgs.addMember(admin, helper.name, member.user.email, "member");
      await lockbox.orgs.addMember(admin, helper.name, otherMember.user.email, "member");
      await lockbox.orgs.addMember(admin, helper.name, helperAdmin.user.email, "admin");
      const personal = await lockbox.sites.createSite(member, {
        name: `site-${tag()}`,
        owner: member.user.email,
      });
      await lockbox.sites.addSupportingOrg(member, personal.name, helper.name);
      await expect(
        lockbox.sites.removeSupportingOrg(otherMember, personal.name, helper.name),
      ).rejects.toMatchObject({ code: "FORBIDDEN" });
      await lockbox.sites.removeSupportingOrg(helperAdmin, personal.name, helper.name);
      expect(await lockbox.stores.sites.listSupportingOrgs(personal.id)).toEqual([]);
    });

    it("removeSupportingOrg: the site's own administrators need not be members of the supporting org", async () => {
      const owner = await makeOrg();
      const helper = await makeOrg();
      const ownerAdmin = await testCaller(lockbox);
      await lockbox.orgs.addMember(admin, owner.name, ownerAdmin.user.email, "admin");
      const site = await makeSite({ org: owner.name }, [helper.name]);
      await expect(
        lockbox.sites.removeSupportingOrg(ownerAdmin, site.name, "no-such-org"),
      ).rejects.toMatchObject({
        code: "NOT_FOUND",
        message: `Organization 'no-such-org' does not support site '${site.name}'.`,
      });
      await lockbox.sites.removeSupportingOrg(ownerAdmin, site.name, helper.name);
      expect(await lockbox.stores.sites.listSupportingOrgs(site.id)).toEqual([]);
    });

    it("transferSite to a supporting org makes it the owner and drops its support link", async () => {
      const first = await makeOrg();
      const second = await makeOrg();
      const third = await makeOrg();
      const site = await makeSite({ org: first.name }, [second.name, third.name]);
      let moved: SiteRow | undefined;
      const events = await auditOf(lockbox, async () => {
        moved = await lockbox.sites.transferSite(admin, site.name, { org: second.name });
      });
      expect(moved).toMatchObject({
        id: site.id,
        ownerOrgId: second.id,
        ownerUserId: null,
        ownerName: second.name,
      });
      expect(await lockbox.stores.sites.listSupportingOrgs(site.id)).toEqual([third]);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: "site.transfer", siteId: site.id, orgId: second.id });
      expect(events[0]?.target).toBe(
        `site:${site.id}:${site.name} from org:${first.id}:${first.name} to org:${second.id}:${second.name}`,
      );
    });

    it("transferSite moves a site to a personal owner and back to an org", async () => {
      const org = await makeOrg();
      const user = await makeUser();
      const site = await makeSite({ org: org.name });
      expect(await lockbox.sites.transferSite(admin, site.name, { owner: user.email })).toMatchObject({
        ownerOrgId: null,
        ownerUserId: user.id,
      });
      // The audit names the owner the site has now, read under the lock, not the one it was created with.
      const [event] = await auditOf(lockbox, () =>
        lockbox.sites.transferSite(admin, site.id, { org: org.name }),
      );
      expect(event?.target).toContain(`from user:${user.id}:${user.email} to org:${org.id}:${org.name}`);
      expect(await lockbox.stores.sites.findSiteById(site.id)).toMatchObject({
        ownerOrgId: org.id,
        ownerUserId: null,
      });
    });

    it("transferSite to an org that does not exist is ORG_NOT_FOUND and changes nothing", async () => {
      const org = await makeOrg();
      const site = await makeSite({ org: org.name });
      await expect(lockbox.sites.transferSite(admin, site.name, { org: randomUUID() })).rejects.toMatchObject(
        {
          code: "ORG_NOT_FOUND",
        },
      );
      expect(await lockbox.stores.sites.findSiteById(site.id)).toEqual(site);
    });

    it("deleteSite removes its environments, secrets, tokens and data key", async () => {
      const org = await makeOrg();
      const site = await makeSite({ org: org.name });
      await lockbox.sites.createMultidev(admin, site.name, "feature");
      const secretId = await putSecret(lockbox, { kind: "site", id: site.id }, "SITE_SECRET", [
        "dev",
        "feature",
      ]);
      const runtime = await siteToken("runtime", site, "live");
      const build = await siteToken("build", site, "feature");

      await lockbox.sites.deleteSite(admin, site.name);

      expect(await lockbox.stores.sites.findSiteById(site.id)).toBeUndefined();
      expect(await lockbox.stores.environments.listEnvironments(site.id)).toEqual([]);
      expect(await lockbox.stores.secrets.listSecrets({ kind: "site", id: site.id })).toEqual([]);
      expect(await valueRows(secretId)).toEqual([]);
      expect(await lockbox.stores.tokens.findTokenById(runtime.row.id)).toBeUndefined();
      for (const token of [runtime.token, build.token]) {
        await expect(lockbox.tokens.authenticate(token)).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
      }
      expect(await lockbox.stores.dataKeys.findDataKey({ kind: "site", id: site.id })).toBeUndefined();
      await expect(
        lockbox.vault.seal({ kind: "site", id: site.id }, { secretId, env: null }, "x"),
      ).rejects.toMatchObject({ code: "SITE_NOT_FOUND" });
      // The org is free to go now.
      await lockbox.orgs.deleteOrg(admin, org.name);
    });

    it("deleteSite of a site that is already gone is SITE_NOT_FOUND", async () => {
      const site = await makeOrgSite();
      await lockbox.sites.deleteSite(admin, site.name);
      await expect(lockbox.sites.deleteSite(admin, site.name)).rejects.toMatchObject({
        code: "SITE_NOT_FOUND",
        message: `Site '${site.name}' was not found, or you do not have access to it.`,
      });
    });

    it("addTeamMember and removeTeamMember manage the team; removing a non-member is NOT_FOUND", async () => {
      const site = await makeOrgSite();
      const user = await makeUser();
      await lockbox.sites.addTeamMember(admin, site.name, user.email);
      expect((await lockbox.stores.sites.siteRelation(site.id, user.id)).onTeam).toBe(true);
      expect((await lockbox.sites.getSite(admin, site.name)).team).toEqual([user]);
      await lockbox.sites.removeTeamMember(admin, site.name, user.email);
      expect((await lockbox.stores.sites.siteRelation(site.id, user.id)).onTeam).toBe(false);
      await expect(lockbox.sites.removeTeamMember(admin, site.name, user.email)).rejects.toMatchObject({
        code: "NOT_FOUND",
        message: `User '${user.email}' is not on the team of site '${site.name}'.`,
      });
    });
  });

  describe("multidevs", () => {
    it("createMultidev adds a multidev environment, and the same name again is CONFLICT", async () => {
      const site = await makeOrgSite();
      expect(await lockbox.sites.createMultidev(admin, site.name, "feature-1")).toMatchObject({
        siteId: site.id,
        name: "feature-1",
        kind: "multidev",
      });
      expect(await envNames(site)).toEqual(["dev", "test", "live", "feature-1"]);
      expect((await lockbox.sites.listEnvironments(admin, site.name)).map((e) => e.name)).toEqual([
        "dev",
        "test",
        "live",
        "feature-1",
      ]);
      await expect(lockbox.sites.createMultidev(admin, site.name, "feature-1")).rejects.toMatchObject({
        code: "CONFLICT",
        message: `Environment 'feature-1' already exists on site '${site.name}'.`,
      });
    });

    it("createMultidev refuses reserved, standard and malformed names with VALIDATION_FAILED", async () => {
      const site = await makeOrgSite();
      await expect(lockbox.sites.createMultidev(admin, site.name, "settings")).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
        message: "'settings' is a reserved name and cannot be used for a multidev.",
      });
      for (const name of ["dev", "live", "abcdefghijkl", "Feature", "-x", ""]) {
        const error = await errorOf(lockbox.sites.createMultidev(admin, site.name, name));
        expect(isLockboxError(error, "VALIDATION_FAILED"), name).toBe(true);
      }
      expect(await lockbox.stores.environments.listEnvironments(site.id)).toHaveLength(3);
    });

    it("deleteMultidev refuses dev, test and live with VALIDATION_FAILED", async () => {
      const site = await makeOrgSite();
      for (const env of ["dev", "test", "live"]) {
        await expect(lockbox.sites.deleteMultidev(admin, site.name, env)).rejects.toMatchObject({
          code: "VALIDATION_FAILED",
          message: `'${env}' is a standard environment and cannot be deleted.`,
        });
      }
      expect(await lockbox.stores.environments.listEnvironments(site.id)).toHaveLength(3);
    });

    it("deleteMultidev of an environment the site does not have is ENVIRONMENT_NOT_FOUND", async () => {
      const site = await makeOrgSite();
      await expect(lockbox.sites.deleteMultidev(admin, site.name, "nope")).rejects.toMatchObject({
        code: "ENVIRONMENT_NOT_FOUND",
        message: `Environment 'nope' does not exist on site '${site.name}'.`,
      });
    });

    it("deleteMultidev removes the site's overrides for it and keeps the org's overrides of that name", async () => {
      const org = await makeOrg();
      const site = await makeSite({ org: org.name });
      await lockbox.sites.createMultidev(admin, site.name, "md");
      const siteSecret = await putSecret(lockbox, { kind: "site", id: site.id }, "S", ["md", "live"]);
      const orgSecret = await putSecret(lockbox, { kind: "org", id: org.id }, "O", ["md"]);
      await lockbox.sites.deleteMultidev(admin, site.name, "md");
      expect(await envNames(site)).toEqual(["dev", "test", "live"]);
      expect(await valueRows(siteSecret)).toEqual([{ env: "" }, { env: "live" }]);
      expect(await valueRows(orgSecret)).toEqual([{ env: "" }, { env: "md" }]);
      // The name is free again.
      await lockbox.sites.createMultidev(admin, site.name, "md");
    });

    it("deleteMultidev revokes its tokens while a token of another environment keeps working", async () => {
      const site = await makeOrgSite();
      await lockbox.sites.createMultidev(admin, site.name, "md");
      const runtime = await siteToken("runtime", site, "md");
      const build = await siteToken("build", site, "md");
      const dev = await siteToken("build", site, "dev");
      await lockbox.sites.deleteMultidev(admin, site.name, "md");
      for (const token of [runtime.token, build.token]) {
        await expect(lockbox.tokens.authenticate(token)).rejects.toMatchObject({
          code: "UNAUTHENTICATED",
          message: "The token is invalid, expired or revoked.",
        });
      }
      expect(await lockbox.tokens.authenticate(dev.token)).toMatchObject({
        id: dev.row.id,
        environmentName: "dev",
      });
      // A new multidev of the same name does not revive the old tokens.
      await lockbox.sites.createMultidev(admin, site.name, "md");
      await expect(lockbox.tokens.authenticate(runtime.token)).rejects.toMatchObject({
        code: "UNAUTHENTICATED",
      });
    });
  });

  describe("audit", () => {
    it("every site write appends exactly one event with its action, actor, request id, org and site", async () => {
      const user = await makeUser();
      const org = await makeOrg();
      const other = await makeOrg();
      const actions: Array<[string, AuditEvent[]]> = [];
      const step = async <T>(action: string, fn: () => Promise<T>): Promise<T> => {
        let result: T | undefined;
        actions.push([
          action,
          await auditOf(lockbox, async () => {
            result = await fn();
          }),
        ]);
        return result as T;
      };
      const { sites } = lockbox;
      const site = await step("site.create", () =>
        sites.createSite(admin, { name: `site-${tag()}`, org: org.name }),
      );
      await step("site.supporting_org.add", () => sites.addSupportingOrg(admin, site.name, other.name));
      await step("site.supporting_org.remove", () => sites.removeSupportingOrg(admin, site.name, other.name));
      await step("site.team.add", () => sites.addTeamMember(admin, site.name, user.email));
      await step("site.team.remove", () => sites.removeTeamMember(admin, site.name, user.email));
      await step("multidev.create", () => sites.createMultidev(admin, site.name, "md"));
      await step("multidev.delete", () => sites.deleteMultidev(admin, site.name, "md"));
      await step("site.transfer", () => sites.transferSite(admin, site.name, { owner: user.email }));
      await step("site.delete", () => sites.deleteSite(admin, site.name));

      for (const [action, events] of actions) {
        expect(
          events.map((e) => e.action),
          action,
        ).toEqual([action]);
        expect(events[0], action).toMatchObject({
          actor: `user:${admin.user.id}`,
          requestId: "req-test",
          outcome: "success",
          siteId: site.id,
        });
      }
      const byAction = new Map(actions.map(([action, events]) => [action, events[0]]));
      expect(byAction.get("site.create")).toMatchObject({
        siteId: site.id,
        orgId: org.id,
        target: `site:${site.id}:${site.name} owner org:${org.id}:${org.name}`,
      });
      expect(byAction.get("site.supporting_org.add")).toMatchObject({
        target: `site:${site.id}:${site.name}/org:${other.id}:${other.name}`,
        orgId: org.id,
      });
      expect(byAction.get("site.team.add")).toMatchObject({
        target: `site:${site.id}:${site.name}/user:${user.id}:${user.email}`,
        orgId: org.id,
      });
      expect(byAction.get("multidev.delete")).toMatchObject({
        target: `site:${site.id}:${site.name}/env:md`,
        environment: "md",
        siteId: site.id,
        orgId: org.id,
      });
      // After the transfer to a person, the deletion concerns no org.
      expect(byAction.get("site.delete")).toMatchObject({ siteId: site.id, orgId: null });
    });

    it("a refused site write appends no event", async () => {
      const org = await makeOrg();
      const site = await makeSite({ org: org.name });
      const events = await auditOf(lockbox, async () => {
        await errorOf(lockbox.sites.addSupportingOrg(admin, site.name, org.name));
        await errorOf(lockbox.sites.createMultidev(admin, site.name, "settings"));
        await errorOf(lockbox.sites.deleteMultidev(admin, site.name, "live"));
        await errorOf(lockbox.sites.deleteMultidev(admin, site.name, "nope"));
        await errorOf(lockbox.sites.createSite(admin, { name: site.name, org: org.name }));
        await errorOf(lockbox.sites.transferSite(admin, site.name, { org: randomUUID() }));
      });
      expect(events).toEqual([]);
    });
  });
});
