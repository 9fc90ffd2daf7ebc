import { randomBytes, randomUUID } from "node:crypto";
import { isLockboxError, type OwnerRef } from "@lockbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KyselyStore } from "../db/kysely-store.js";
import type { AuditEvent, OrgRow, SiteOwner, SiteRow, UserRow } from "../db/secret-store.js";
import { Keyring } from "../keys/index.js";
import { Vault } from "../keys/vault.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { TokenService } from "../tokens/token-service.js";
import type { RequestContext } from "./caller.js";
import { DirectoryService } from "./directory-service.js";

const ctx: RequestContext = { actor: "user:directory-test", requestId: "req-dir" };

describe.each(await contractDatabases())("DirectoryService ($name)", ({ create }) => {
  let database: TestDatabase;
  let store: KyselyStore;
  let vault: Vault;
  let directory: DirectoryService;
  let tokens: TokenService;

  beforeAll(async () => {
    database = await create();
    store = await database.open();
    vault = new Vault(Keyring.fromKeys(randomBytes(32)), store);
    directory = new DirectoryService(store, vault);
    tokens = new TokenService(store);
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const tag = () => randomUUID().slice(0, 8);
  const errorOf = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error,
    );
  const makeOrg = (): Promise<OrgRow> => directory.createOrg(ctx, `org-${tag()}`);
  const makeUser = (): Promise<UserRow> => directory.createUser(ctx, `${tag()}@example.com`);
  const makeSite = (owner: SiteOwner, supportingOrgIds?: string[]): Promise<SiteRow> =>
    directory.createSite(ctx, { name: `site-${tag()}`, owner, supportingOrgIds });

  /** The audit events `fn` appended. */
  const auditOf = async (fn: () => Promise<unknown>): Promise<AuditEvent[]> => {
    const [head] = await store.listAudit({ limit: 1 });
    await fn();
    return store.readAuditChain(head?.seq ?? 0, 1000);
  };

  /** Stores a secret with a base value and overrides, sealed under its owner's data key. */
  const putSecret = (owner: OwnerRef, name: string, overrideEnvs: string[] = []): Promise<string> =>
    store.transaction(async (tx) => {
      const id = randomUUID();
      await tx.insertSecret({ id, owner, name, type: "runtime", scopes: ["web"] });
      await tx.putValue(id, null, await vault.seal(owner, { secretId: id, env: null }, "base", tx));
      for (const env of overrideEnvs) {
        await tx.putValue(id, env, await vault.seal(owner, { secretId: id, env }, `value-${env}`, tx));
      }
      return id;
    });
  const valueRows = (secretId: string) =>
    store.kysely
      .selectFrom("secret_values")
      .select("env")
      .where("secret_id", "=", secretId)
      .orderBy("env")
      .execute();

  describe("lookups", () => {
    it("findOrg, findSite and findUser accept a name (an email for users) or a UUID in any case", async () => {
      const org = await makeOrg();
      const user = await makeUser();
      const site = await makeSite({ orgId: org.id });
      expect(await directory.findOrg(org.name)).toEqual(org);
      expect(await directory.findOrg(org.id.toUpperCase())).toEqual(org);
      expect(await directory.findSite(site.name)).toEqual(site);
      expect(await directory.findSite(site.id)).toEqual(site);
      expect(await directory.findUser(user.email.toUpperCase())).toEqual(user);
      expect(await directory.findUser(user.id)).toEqual(user);
    });

    it("find* return undefined for what does not exist", async () => {
      expect(await directory.findOrg("no-such-org")).toBeUndefined();
      expect(await directory.findSite(randomUUID())).toBeUndefined();
      expect(await directory.findUser("nobody@example.com")).toBeUndefined();
    });

    it("get* throw the refined not-found code with the SPEC's message", async () => {
      await expect(directory.getSite("nope")).rejects.toMatchObject({
        code: "SITE_NOT_FOUND",
        message: "Site 'nope' was not found, or you do not have access to it.",
      });
      await expect(directory.getOrg("nope")).rejects.toMatchObject({
        code: "ORG_NOT_FOUND",
        message: "Organization 'nope' was not found, or you do not have access to it.",
      });
      await expect(directory.getUser("x@example.com")).rejects.toMatchObject({
        code: "USER_NOT_FOUND",
        message: "User 'x@example.com' was not found, or you do not have access to it.",
      });
    });
  });

  describe("users", () => {
    it("createUser stores the email trimmed and in lower case, as an admin only when asked", async () => {
      const local = tag();
      const user = await directory.createUser(ctx, `  ${local.toUpperCase()}@Example.COM `, {
        isAdmin: true,
      });
      expect(user).toMatchObject({ email: `${local}@example.com`, isAdmin: true });
      expect((await makeUser()).isAdmin).toBe(false);
    });

    it("createUser refuses an email that is taken, in any case, with CONFLICT", async () => {
      const user = await makeUser();
      await expect(directory.createUser(ctx, user.email.toUpperCase())).rejects.toMatchObject({
        code: "CONFLICT",
        message: `User '${user.email}' already exists.`,
      });
    });

    it("createUser refuses an invalid email with VALIDATION_FAILED", async () => {
      await expect(directory.createUser(ctx, "not-an-email")).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
      });
    });
  });

  describe("organizations", () => {
    it("createOrg refuses an invalid name with the name rule's message", async () => {
      await expect(directory.createOrg(ctx, "My Org")).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
        message:
          "Invalid organization name 'My Org': use 1-63 lowercase letters, digits and hyphens, starting with a letter or digit.",
      });
      await expect(directory.createOrg(ctx, randomUUID())).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
      });
    });

    it("createOrg refuses a name that is taken with CONFLICT and appends no audit event", async () => {
      const org = await makeOrg();
      let error: unknown;
      const events = await auditOf(async () => {
        error = await errorOf(directory.createOrg(ctx, org.name));
      });
      expect(error).toMatchObject({
        code: "CONFLICT",
        message: `Organization '${org.name}' already exists.`,
      });
      expect(events).toEqual([]);
    });

    it("deleteOrg is refused while the org owns sites, naming how many", async () => {
      const org = await makeOrg();
      await makeSite({ orgId: org.id });
      await makeSite({ orgId: org.id });
      await expect(directory.deleteOrg(ctx, org)).rejects.toMatchObject({
        code: "CONFLICT",
        message: `Organization '${org.name}' still owns 2 site(s): transfer or delete them first.`,
      });
      expect(await directory.findOrg(org.id)).toEqual(org);
    });

    it("deleteOrg succeeds once its site is transferred, taking its secrets, memberships, support links and data key", async () => {
      const org = await makeOrg();
      const other = await makeOrg();
      const member = await makeUser();
      await directory.addMember(ctx, org, member, "admin");
      const owned = await makeSite({ orgId: org.id });
      const supported = await makeSite({ orgId: other.id }, [org.id]);
      const secretId = await putSecret({ kind: "org", id: org.id }, "ORG_SECRET", ["live"]);
      await expect(directory.deleteOrg(ctx, org)).rejects.toMatchObject({ code: "CONFLICT" });

      await directory.transferSite(ctx, owned, { orgId: other.id });
      await directory.deleteOrg(ctx, org);

      expect(await directory.findOrg(org.id)).toBeUndefined();
      expect(await store.findMembership(org.id, member.id)).toBeUndefined();
      expect(await store.listSupportingOrgs(supported.id)).toEqual([]);
      expect(await store.listSecrets({ kind: "org", id: org.id })).toEqual([]);
      expect(await valueRows(secretId)).toEqual([]);
      expect(await store.findDataKey({ kind: "org", id: org.id })).toBeUndefined();
      // The vault forgot the key, so nothing can be sealed for the deleted org any more.
      await expect(
        vault.seal({ kind: "org", id: org.id }, { secretId: randomUUID(), env: null }, "x"),
      ).rejects.toMatchObject({ code: "ORG_NOT_FOUND" });
      expect(await directory.findSite(owned.id)).toMatchObject({ ownerOrgId: other.id });
    });

    it("deleteOrg of an org that is already gone is ORG_NOT_FOUND", async () => {
      const org = await makeOrg();
      await directory.deleteOrg(ctx, org);
      await expect(directory.deleteOrg(ctx, org)).rejects.toMatchObject({ code: "ORG_NOT_FOUND" });
    });

    it("addMember adds a member and changes the role of an existing one", async () => {
      const org = await makeOrg();
      const user = await makeUser();
      expect(await directory.addMember(ctx, org, user, "member")).toMatchObject({ role: "member" });
      expect(await directory.addMember(ctx, org, user, "admin")).toMatchObject({ role: "admin" });
      expect((await store.listMemberships(org.id)).map((m) => [m.email, m.role])).toEqual([
        [user.email, "admin"],
      ]);
    });

    it("addMember refuses a role other than admin or member", async () => {
      const org = await makeOrg();
      const user = await makeUser();
      const error = await errorOf(directory.addMember(ctx, org, user, "owner" as "admin"));
      expect(error).toMatchObject({ code: "VALIDATION_FAILED" });
    });

    it("removeMember removes a member, and a user who is not one is NOT_FOUND", async () => {
      const org = await makeOrg();
      const user = await makeUser();
      await directory.addMember(ctx, org, user, "member");
      await directory.removeMember(ctx, org, user);
      expect(await store.findMembership(org.id, user.id)).toBeUndefined();
      await expect(directory.removeMember(ctx, org, user)).rejects.toMatchObject({
        code: "NOT_FOUND",
        message: `User '${user.email}' is not a member of organization '${org.name}'.`,
      });
    });
  });

  describe("sites", () => {
    it("createSite gives the site dev, test and live, its owner and its supporting orgs", async () => {
      const owner = await makeOrg();
      const helper = await makeOrg();
      const site = await makeSite({ orgId: owner.id }, [helper.id, helper.id]);
      expect(site).toMatchObject({ ownerOrgId: owner.id, ownerUserId: null });
      expect((await store.listEnvironments(site.id)).map((e) => [e.name, e.kind])).toEqual([
        ["dev", "standard"],
        ["test", "standard"],
        ["live", "standard"],
      ]);
      expect((await store.listSupportingOrgs(site.id)).map((o) => o.id)).toEqual([helper.id]);
      expect(await store.findDataKey({ kind: "site", id: site.id })).toBeDefined();
    });

    it("createSite makes a personal site for a user owner", async () => {
      const user = await makeUser();
      expect(await makeSite({ userId: user.id })).toMatchObject({ ownerOrgId: null, ownerUserId: user.id });
    });

    it("createSite refuses a name that is taken with CONFLICT", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await expect(
        directory.createSite(ctx, { name: site.name, owner: { orgId: org.id } }),
      ).rejects.toMatchObject({
        code: "CONFLICT",
        message: `Site '${site.name}' already exists.`,
      });
    });

    it("createSite refuses an invalid name with the name rule's message", async () => {
      const org = await makeOrg();
      await expect(
        directory.createSite(ctx, { name: "-bad", owner: { orgId: org.id } }),
      ).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
        message:
          "Invalid site name '-bad': use 1-63 lowercase letters, digits and hyphens, starting with a letter or digit.",
      });
    });

    it("createSite refuses the owner org as a supporting org, and creates nothing", async () => {
      const org = await makeOrg();
      const name = `site-${tag()}`;
      const events = await auditOf(async () => {
        await expect(
          directory.createSite(ctx, { name, owner: { orgId: org.id }, supportingOrgIds: [org.id] }),
        ).rejects.toMatchObject({
          code: "CONFLICT",
          message: `Organization '${org.name}' owns site '${name}' and cannot also support it.`,
        });
      });
      expect(events).toEqual([]);
      expect(await directory.findSite(name)).toBeUndefined();
    });

    it("createSite refuses an owner or a supporting org that does not exist", async () => {
      const org = await makeOrg();
      const missing = randomUUID();
      await expect(makeSite({ orgId: missing })).rejects.toMatchObject({ code: "ORG_NOT_FOUND" });
      await expect(makeSite({ userId: missing })).rejects.toMatchObject({ code: "USER_NOT_FOUND" });
      await expect(makeSite({ orgId: org.id }, [missing])).rejects.toMatchObject({ code: "ORG_NOT_FOUND" });
    });

    it("addSupportingOrg refuses the owner org with CONFLICT", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await expect(directory.addSupportingOrg(ctx, site, org)).rejects.toMatchObject({
        code: "CONFLICT",
        message: `Organization '${org.name}' owns site '${site.name}' and cannot also support it.`,
      });
      expect(await store.listSupportingOrgs(site.id)).toEqual([]);
    });

    it("addSupportingOrg and removeSupportingOrg add and remove the link; removing a missing one is NOT_FOUND", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      const helper = await makeOrg();
      await directory.addSupportingOrg(ctx, site, helper);
      await directory.addSupportingOrg(ctx, site, helper);
      expect(await store.listSupportingOrgs(site.id)).toEqual([helper]);
      await directory.removeSupportingOrg(ctx, site, helper);
      expect(await store.listSupportingOrgs(site.id)).toEqual([]);
      await expect(directory.removeSupportingOrg(ctx, site, helper)).rejects.toMatchObject({
        code: "NOT_FOUND",
        message: `Organization '${helper.name}' does not support site '${site.name}'.`,
      });
    });

    it("transferSite to a supporting org makes it the owner and drops its support link", async () => {
      const first = await makeOrg();
      const second = await makeOrg();
      const third = await makeOrg();
      const site = await makeSite({ orgId: first.id }, [second.id, third.id]);
      let moved: SiteRow | undefined;
      const events = await auditOf(async () => {
        moved = await directory.transferSite(ctx, site, { orgId: second.id });
      });
      expect(moved).toMatchObject({ id: site.id, ownerOrgId: second.id, ownerUserId: null });
      expect(await store.listSupportingOrgs(site.id)).toEqual([third]);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: "site.transfer", siteId: site.id, orgId: second.id });
      expect(events[0]?.target).toBe(
        `site:${site.id}:${site.name} from org:${first.id}:${first.name} to org:${second.id}:${second.name}`,
      );
    });

    it("transferSite moves a site to a personal owner and back to an org", async () => {
      const org = await makeOrg();
      const user = await makeUser();
      const site = await makeSite({ orgId: org.id });
      expect(await directory.transferSite(ctx, site, { userId: user.id })).toMatchObject({
        ownerOrgId: null,
        ownerUserId: user.id,
      });
      // The caller's row is stale now: the service reads the current owner under the lock.
      const [event] = await auditOf(() => directory.transferSite(ctx, site, { orgId: org.id }));
      expect(event?.target).toContain(`from user:${user.id}:${user.email} to org:${org.id}:${org.name}`);
      expect(await directory.findSite(site.id)).toMatchObject({ ownerOrgId: org.id, ownerUserId: null });
    });

    it("transferSite to an org that does not exist is ORG_NOT_FOUND and changes nothing", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await expect(directory.transferSite(ctx, site, { orgId: randomUUID() })).rejects.toMatchObject({
        code: "ORG_NOT_FOUND",
      });
      expect(await directory.findSite(site.id)).toEqual(site);
    });

    it("deleteSite removes its environments, secrets, tokens and data key", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await directory.createMultidev(ctx, site, "feature");
      const secretId = await putSecret({ kind: "site", id: site.id }, "SITE_SECRET", ["dev", "feature"]);
      const runtime = await tokens.createRuntimeToken(ctx, site, "live");
      const build = await tokens.createBuildToken(ctx, site, "feature");

      await directory.deleteSite(ctx, site);

      expect(await directory.findSite(site.id)).toBeUndefined();
      expect(await store.listEnvironments(site.id)).toEqual([]);
      expect(await store.listSecrets({ kind: "site", id: site.id })).toEqual([]);
      expect(await valueRows(secretId)).toEqual([]);
      expect(await store.findTokenById(runtime.row.id)).toBeUndefined();
      for (const token of [runtime.token, build.token]) {
        await expect(tokens.authenticate(token)).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
      }
      expect(await store.findDataKey({ kind: "site", id: site.id })).toBeUndefined();
      await expect(
        vault.seal({ kind: "site", id: site.id }, { secretId, env: null }, "x"),
      ).rejects.toMatchObject({ code: "SITE_NOT_FOUND" });
      // The org is free to go now.
      await directory.deleteOrg(ctx, org);
    });

    it("deleteSite of a site that is already gone is SITE_NOT_FOUND", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await directory.deleteSite(ctx, site);
      await expect(directory.deleteSite(ctx, site)).rejects.toMatchObject({
        code: "SITE_NOT_FOUND",
        message: `Site '${site.name}' was not found, or you do not have access to it.`,
      });
    });

    it("addTeamMember and removeTeamMember manage the team; removing a non-member is NOT_FOUND", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      const user = await makeUser();
      await directory.addTeamMember(ctx, site, user);
      expect(await store.isTeamMember(site.id, user.id)).toBe(true);
      await directory.removeTeamMember(ctx, site, user);
      expect(await store.isTeamMember(site.id, user.id)).toBe(false);
      await expect(directory.removeTeamMember(ctx, site, user)).rejects.toMatchObject({
        code: "NOT_FOUND",
        message: `User '${user.email}' is not on the team of site '${site.name}'.`,
      });
    });
  });

  describe("multidevs", () => {
    it("createMultidev adds a multidev environment, and the same name again is CONFLICT", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      expect(await directory.createMultidev(ctx, site, "feature-1")).toMatchObject({
        siteId: site.id,
        name: "feature-1",
        kind: "multidev",
      });
      expect((await store.listEnvironments(site.id)).map((e) => e.name)).toEqual([
        "dev",
        "test",
        "live",
        "feature-1",
      ]);
      await expect(directory.createMultidev(ctx, site, "feature-1")).rejects.toMatchObject({
        code: "CONFLICT",
        message: `Environment 'feature-1' already exists on site '${site.name}'.`,
      });
    });

    it("createMultidev refuses reserved, standard and malformed names with VALIDATION_FAILED", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await expect(directory.createMultidev(ctx, site, "settings")).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
        message: "'settings' is a reserved name and cannot be used for a multidev.",
      });
      for (const name of ["dev", "live", "abcdefghijkl", "Feature", "-x", ""]) {
        const error = await errorOf(directory.createMultidev(ctx, site, name));
        expect(isLockboxError(error, "VALIDATION_FAILED"), name).toBe(true);
      }
      expect(await store.listEnvironments(site.id)).toHaveLength(3);
    });

    it("deleteMultidev refuses dev, test and live with VALIDATION_FAILED", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      for (const env of ["dev", "test", "live"]) {
        await expect(directory.deleteMultidev(ctx, site, env)).rejects.toMatchObject({
          code: "VALIDATION_FAILED",
          message: `'${env}' is a standard environment and cannot be deleted.`,
        });
      }
      expect(await store.listEnvironments(site.id)).toHaveLength(3);
    });

    it("deleteMultidev of an environment the site does not have is ENVIRONMENT_NOT_FOUND", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await expect(directory.deleteMultidev(ctx, site, "nope")).rejects.toMatchObject({
        code: "ENVIRONMENT_NOT_FOUND",
        message: `Environment 'nope' does not exist on site '${site.name}'.`,
      });
    });

    it("deleteMultidev removes the site's overrides for it and keeps the org's overrides of that name", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await directory.createMultidev(ctx, site, "md");
      const siteSecret = await putSecret({ kind: "site", id: site.id }, "S", ["md", "live"]);
      const orgSecret = await putSecret({ kind: "org", id: org.id }, "O", ["md"]);
      await directory.deleteMultidev(ctx, site, "md");
      expect((await store.listEnvironments(site.id)).map((e) => e.name)).toEqual(["dev", "test", "live"]);
      expect(await valueRows(siteSecret)).toEqual([{ env: "" }, { env: "live" }]);
      expect(await valueRows(orgSecret)).toEqual([{ env: "" }, { env: "md" }]);
      // The name is free again.
      await directory.createMultidev(ctx, site, "md");
    });

    it("deleteMultidev revokes its tokens while a token of another environment keeps working", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await directory.createMultidev(ctx, site, "md");
      const runtime = await tokens.createRuntimeToken(ctx, site, "md");
      const build = await tokens.createBuildToken(ctx, site, "md");
      const dev = await tokens.createBuildToken(ctx, site, "dev");
      await directory.deleteMultidev(ctx, site, "md");
      for (const token of [runtime.token, build.token]) {
        await expect(tokens.authenticate(token)).rejects.toMatchObject({
          code: "UNAUTHENTICATED",
          message: "The token is invalid, expired or revoked.",
        });
      }
      expect((await tokens.authenticate(dev.token)).token).toMatchObject({
        id: dev.row.id,
        environmentName: "dev",
      });
      // A new multidev of the same name does not revive the old tokens.
      await directory.createMultidev(ctx, site, "md");
      await expect(tokens.authenticate(runtime.token)).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
    });
  });

  describe("audit", () => {
    it("every write appends exactly one event with its action, actor, request id, org and site", async () => {
      const actions: Array<[string, AuditEvent[]]> = [];
      const step = async <T>(action: string, fn: () => Promise<T>): Promise<T> => {
        let result: T | undefined;
        actions.push([
          action,
          await auditOf(async () => {
            result = await fn();
          }),
        ]);
        return result as T;
      };
      const user = await step("user.create", () => directory.createUser(ctx, `${tag()}@example.com`));
      const org = await step("org.create", () => directory.createOrg(ctx, `org-${tag()}`));
      const other = await step("org.create", () => directory.createOrg(ctx, `org-${tag()}`));
      await step("org.member.add", () => directory.addMember(ctx, org, user, "member"));
      await step("org.member.remove", () => directory.removeMember(ctx, org, user));
      const site = await step("site.create", () =>
        directory.createSite(ctx, { name: `site-${tag()}`, owner: { orgId: org.id } }),
      );
      await step("site.supporting_org.add", () => directory.addSupportingOrg(ctx, site, other));
      await step("site.supporting_org.remove", () => directory.removeSupportingOrg(ctx, site, other));
      await step("site.team.add", () => directory.addTeamMember(ctx, site, user));
      await step("site.team.remove", () => directory.removeTeamMember(ctx, site, user));
      await step("multidev.create", () => directory.createMultidev(ctx, site, "md"));
      await step("multidev.delete", () => directory.deleteMultidev(ctx, site, "md"));
      await step("site.transfer", () => directory.transferSite(ctx, site, { userId: user.id }));
      await step("site.delete", () => directory.deleteSite(ctx, site));
      await step("org.delete", () => directory.deleteOrg(ctx, org));

      for (const [action, events] of actions) {
        expect(
          events.map((e) => e.action),
          action,
        ).toEqual([action]);
        expect(events[0], action).toMatchObject({
          actor: ctx.actor,
          requestId: "req-dir",
          outcome: "success",
        });
      }
      const byAction = new Map(actions.map(([action, events]) => [action, events[0]]));
      expect(byAction.get("user.create")).toMatchObject({
        target: `user:${user.id}:${user.email}`,
        orgId: null,
      });
      expect(byAction.get("org.delete")).toMatchObject({
        target: `org:${org.id}:${org.name}`,
        orgId: org.id,
      });
      expect(byAction.get("site.create")).toMatchObject({ siteId: site.id, orgId: org.id });
      expect(byAction.get("multidev.delete")).toMatchObject({
        target: `site:${site.id}:${site.name}/env:md`,
        environment: "md",
        siteId: site.id,
        orgId: org.id,
      });
      // After the transfer to a person, the deletion concerns no org.
      expect(byAction.get("site.delete")).toMatchObject({ siteId: site.id, orgId: null });
    });

    it("a refused write appends no event", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      const events = await auditOf(async () => {
        await errorOf(directory.deleteOrg(ctx, org));
        await errorOf(directory.addSupportingOrg(ctx, site, org));
        await errorOf(directory.createMultidev(ctx, site, "settings"));
        await errorOf(directory.deleteMultidev(ctx, site, "live"));
        await errorOf(directory.deleteMultidev(ctx, site, "nope"));
        await errorOf(directory.createSite(ctx, { name: site.name, owner: { orgId: org.id } }));
      });
      expect(events).toEqual([]);
    });
  });
});
