import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEvent } from "../audit/records.js";
import type { Lockbox } from "../lockbox.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { auditOf, createTestLockbox, errorOf, putSecret, testCaller } from "../testing/test-lockbox.js";
import type { Caller } from "./caller.js";
import { findOrgByRef, findUserByRef } from "./lookups.js";
import type { OrgRow, SiteRow, UserRow } from "./records.js";
import type { OwnerChoice } from "./site-service.js";

describe.each(await contractDatabases())("OrgService ($name)", ({ create }) => {
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

  const valueRows = (secretId: string) =>
    lockbox.db.kysely
      .selectFrom("secret_values")
      .select("env")
      .where("secret_id", "=", secretId)
      .orderBy("env")
      .execute();

  describe("lookups", () => {
    it("getOrg and getUser accept a name (an email for users) or a UUID in any case", async () => {
      const org = await makeOrg();
      const user = await makeUser();
      const asSeenByAdmin = { ...org, role: "platform-admin" };
      expect(await lockbox.orgs.getOrg(admin, org.name)).toEqual(asSeenByAdmin);
      expect(await lockbox.orgs.getOrg(admin, org.id.toUpperCase())).toEqual(asSeenByAdmin);
      expect(await lockbox.orgs.getUser(user.email.toUpperCase())).toEqual(user);
      expect(await lockbox.orgs.getUser(user.id)).toEqual(user);
      expect(await lockbox.orgs.getUser(user.id.toUpperCase())).toEqual(user);
    });

    it("findOrgByRef and findUserByRef return undefined for what does not exist", async () => {
      expect(await findOrgByRef(lockbox.stores.orgs, "no-such-org")).toBeUndefined();
      expect(await findOrgByRef(lockbox.stores.orgs, randomUUID())).toBeUndefined();
      expect(await findUserByRef(lockbox.stores.users, "nobody@example.com")).toBeUndefined();
      expect(await findUserByRef(lockbox.stores.users, randomUUID())).toBeUndefined();
    });

    it("getOrg and getUser throw the refined not-found code with the SPEC's message", async () => {
      await expect(lockbox.orgs.getOrg(admin, "nope")).rejects.toMatchObject({
        code: "ORG_NOT_FOUND",
        message: "Organization 'nope' was not found, or you do not have access to it.",
      });
      await expect(lockbox.orgs.getUser("x@example.com")).rejects.toMatchObject({
        code: "USER_NOT_FOUND",
        message: "User 'x@example.com' was not found, or you do not have access to it.",
      });
    });
  });

  describe("users", () => {
    it("createUser stores the email trimmed and in lower case, as an admin only when asked", async () => {
      const local = tag();
      const user = await lockbox.orgs.createUser(admin, `  ${local.toUpperCase()}@Example.COM `, {
        isAdmin: true,
      });
      expect(user).toMatchObject({ email: `${local}@example.com`, isAdmin: true });
      expect((await makeUser()).isAdmin).toBe(false);
    });

    it("createUser refuses an email that is taken, in any case, with CONFLICT", async () => {
      const user = await makeUser();
      await expect(lockbox.orgs.createUser(admin, user.email.toUpperCase())).rejects.toMatchObject({
        code: "CONFLICT",
        message: `User '${user.email}' already exists.`,
      });
    });

    it("createUser refuses an invalid email with VALIDATION_FAILED", async () => {
      await expect(lockbox.orgs.createUser(admin, "not-an-email")).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
      });
    });
  });

  describe("organizations", () => {
    it("createOrg refuses an invalid name with the name rule's message", async () => {
      await expect(lockbox.orgs.createOrg(admin, "My Org")).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
        message:
          "Invalid organization name 'My Org': use 1-63 lowercase letters, digits and hyphens, starting with a letter or digit.",
      });
      await expect(lockbox.orgs.createOrg(admin, randomUUID())).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
      });
    });

    it("createOrg refuses a name that is taken with CONFLICT and appends no audit event", async () => {
      const org = await makeOrg();
      let error: unknown;
      const events = await auditOf(lockbox, async () => {
        error = await errorOf(lockbox.orgs.createOrg(admin, org.name));
      });
      expect(error).toMatchObject({
        code: "CONFLICT",
        message: `Organization '${org.name}' already exists.`,
      });
      expect(events).toEqual([]);
    });

    it("deleteOrg is refused while the org owns sites, naming how many and which (not those it supports)", async () => {
      const org = await makeOrg();
      const sites = [
        (await makeSite({ org: org.name })).name,
        (await makeSite({ org: org.name })).name,
      ].sort();
      // A site it only supports, named before the owned ones: neither counted nor named.
      await lockbox.sites.createSite(admin, {
        name: `a-${tag()}`,
        org: (await makeOrg()).name,
        supportingOrgs: [org.name],
      });
      await expect(lockbox.orgs.deleteOrg(admin, org.name)).rejects.toMatchObject({
        code: "CONFLICT",
        message: `Organization '${org.name}' still owns 2 site(s) ('${sites[0]}', '${sites[1]}'): transfer or delete them first (lockbox site:transfer <site> --org=<org>, lockbox site:delete <site>).`,
      });
      expect(await lockbox.stores.orgs.findOrgById(org.id)).toEqual(org);
    });

    it("deleteOrg succeeds once its site is transferred, taking its secrets, memberships, support links and data key", async () => {
      const org = await makeOrg();
      const other = await makeOrg();
      const member = await makeUser();
      await lockbox.orgs.addMember(admin, org.name, member.email, "admin");
      const owned = await makeSite({ org: org.name });
      const supported = await makeSite({ org: other.name }, [org.name]);
      const secretId = await putSecret(lockbox, { kind: "org", id: org.id }, "ORG_SECRET", ["live"]);
      await expect(lockbox.orgs.deleteOrg(admin, org.name)).rejects.toMatchObject({ code: "CONFLICT" });

      await lockbox.sites.transferSite(admin, owned.name, { org: other.name });
      await lockbox.orgs.deleteOrg(admin, org.name);

      expect(await lockbox.stores.orgs.findOrgById(org.id)).toBeUndefined();
      expect(await lockbox.stores.orgs.findMembership(org.id, member.id)).toBeUndefined();
      expect(await lockbox.stores.sites.listSupportingOrgs(supported.id)).toEqual([]);
      expect(await lockbox.stores.secrets.listSecrets({ kind: "org", id: org.id })).toEqual([]);
      expect(await valueRows(secretId)).toEqual([]);
      expect(await lockbox.stores.dataKeys.findDataKey({ kind: "org", id: org.id })).toBeUndefined();
      // The vault forgot the key, so nothing can be sealed for the deleted org any more.
      await expect(
        lockbox.vault.seal({ kind: "org", id: org.id }, { secretId: randomUUID(), env: null }, "x"),
      ).rejects.toMatchObject({ code: "ORG_NOT_FOUND" });
      expect(await lockbox.stores.sites.findSiteById(owned.id)).toMatchObject({ ownerOrgId: other.id });
    });

    it("deleteOrg of an org that is already gone is ORG_NOT_FOUND", async () => {
      const org = await makeOrg();
      await lockbox.orgs.deleteOrg(admin, org.name);
      await expect(lockbox.orgs.deleteOrg(admin, org.name)).rejects.toMatchObject({
        code: "ORG_NOT_FOUND",
      });
      await expect(lockbox.orgs.deleteOrg(admin, org.id)).rejects.toMatchObject({
        code: "ORG_NOT_FOUND",
      });
    });

    it("addMember adds a member and changes the role of an existing one", async () => {
      const org = await makeOrg();
      const user = await makeUser();
      expect(await lockbox.orgs.addMember(admin, org.name, user.email, "member")).toMatchObject({
        role: "member",
      });
      expect(await lockbox.orgs.addMember(admin, org.id, user.id, "admin")).toMatchObject({ role: "admin" });
      expect((await lockbox.stores.orgs.listMemberships(org.id)).map((m) => [m.email, m.role])).toEqual([
        [user.email, "admin"],
      ]);
    });

    it("addMember refuses a role other than admin or member", async () => {
      const org = await makeOrg();
      const user = await makeUser();
      const error = await errorOf(lockbox.orgs.addMember(admin, org.name, user.email, "owner" as "admin"));
      expect(error).toMatchObject({ code: "VALIDATION_FAILED" });
      expect(await lockbox.stores.orgs.findMembership(org.id, user.id)).toBeUndefined();
    });

    it("removeMember removes a member, and a user who is not one is NOT_FOUND", async () => {
      const org = await makeOrg();
      const user = await makeUser();
      await lockbox.orgs.addMember(admin, org.name, user.email, "member");
      await lockbox.orgs.removeMember(admin, org.name, user.email);
      expect(await lockbox.stores.orgs.findMembership(org.id, user.id)).toBeUndefined();
      await expect(lockbox.orgs.removeMember(admin, org.name, user.email)).rejects.toMatchObject({
        code: "NOT_FOUND",
        message: `User '${user.email}' is not a member of organization '${org.name}'.`,
      });
    });
  });

  describe("the last admin", () => {
    it("may be neither demoted nor removed, by itself or the platform admin, until another admin exists", async () => {
      const org = await makeOrg();
      const self = await testCaller(lockbox);
      const first = self.user;
      const second = await makeUser();
      await lockbox.orgs.addMember(admin, org.name, first.email, "admin");
      await lockbox.orgs.addMember(admin, org.name, second.email, "member");
      const refused = await auditOf(lockbox, async () => {
        for (const [change, attempt] of [
          ["demote", () => lockbox.orgs.addMember(self, org.name, first.email, "member")],
          ["remove", () => lockbox.orgs.removeMember(self, org.name, first.email)],
          ["remove", () => lockbox.orgs.removeMember(admin, org.name, first.email)],
        ] as const) {
          await expect(attempt()).rejects.toMatchObject({
            code: "CONFLICT",
            message: `Cannot ${change} '${first.email}': the only admin of organization '${org.name}'. Make another member admin first (lockbox org:member:add ${org.name} <email> --role=admin).`,
          });
        }
      });
      expect(refused).toEqual([]);
      expect((await lockbox.stores.orgs.findMembership(org.id, first.id))?.role).toBe("admin");

      // Once another is admin, the first may step down, and then leave.
      await lockbox.orgs.addMember(self, org.name, second.email, "admin");
      expect(await lockbox.orgs.addMember(self, org.name, first.email, "member")).toMatchObject({
        role: "member",
      });
      await lockbox.orgs.removeMember(admin, org.name, first.email);
      expect((await lockbox.stores.orgs.listMemberships(org.id)).map((m) => [m.email, m.role])).toEqual([
        [second.email, "admin"],
      ]);
    });
  });

  describe("audit", () => {
    it("every user and org write appends exactly one event with its action, actor, request id and org", async () => {
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
      const user = await step("user.create", () => lockbox.orgs.createUser(admin, `${tag()}@example.com`));
      const org = await step("org.create", () => lockbox.orgs.createOrg(admin, `org-${tag()}`));
      await step("org.member.add", () => lockbox.orgs.addMember(admin, org.name, user.email, "member"));
      await step("org.member.remove", () => lockbox.orgs.removeMember(admin, org.name, user.email));
      await step("org.delete", () => lockbox.orgs.deleteOrg(admin, org.name));

      for (const [action, events] of actions) {
        expect(
          events.map((e) => e.action),
          action,
        ).toEqual([action]);
        expect(events[0], action).toMatchObject({
          actor: `user:${admin.user.id}`,
          requestId: "req-test",
          outcome: "success",
        });
      }
      const byAction = new Map(actions.map(([action, events]) => [action, events[0]]));
      expect(byAction.get("user.create")).toMatchObject({
        target: `user:${user.id}:${user.email}`,
        orgId: null,
      });
      expect(byAction.get("org.create")).toMatchObject({
        target: `org:${org.id}:${org.name}`,
        orgId: org.id,
      });
      expect(byAction.get("org.member.add")).toMatchObject({
        target: `org:${org.id}:${org.name}/user:${user.id}:${user.email}/role:member`,
        orgId: org.id,
      });
      expect(byAction.get("org.member.remove")).toMatchObject({
        target: `org:${org.id}:${org.name}/user:${user.id}:${user.email}`,
        orgId: org.id,
      });
      expect(byAction.get("org.delete")).toMatchObject({
        target: `org:${org.id}:${org.name}`,
        orgId: org.id,
      });
    });

    it("a refused user or org write appends no event", async () => {
      const org = await makeOrg();
      const user = await makeUser();
      await makeSite({ org: org.name });
      const events = await auditOf(lockbox, async () => {
        await errorOf(lockbox.orgs.deleteOrg(admin, org.name));
        await errorOf(lockbox.orgs.createOrg(admin, org.name));
        await errorOf(lockbox.orgs.createUser(admin, user.email));
        await errorOf(lockbox.orgs.addMember(admin, org.name, user.email, "owner" as "admin"));
        await errorOf(lockbox.orgs.removeMember(admin, org.name, user.email));
      });
      expect(events).toEqual([]);
    });
  });
});
