import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Lockbox } from "../lockbox.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { auditOf, createTestLockbox, testCaller, testToken } from "../testing/test-lockbox.js";
import { orgAccess, type SiteAccess, siteAccess } from "./access-policy.js";
import { type Caller, callerOf } from "./caller.js";
import type { SiteRelation, SiteRow, UserRow } from "./records.js";

/** What each row of SPEC §5's site table grants. */
const FULL: SiteAccess = { canManage: true, canManageTeam: true, canAdminister: true };
const MANAGE_AND_TEAM: SiteAccess = { canManage: true, canManageTeam: true, canAdminister: false };
const MANAGE: SiteAccess = { canManage: true, canManageTeam: false, canAdminister: false };

const NO_RELATION: SiteRelation = { ownerOrgRole: null, supportingMember: false, onTeam: false };

const siteNotFound = (ref: string) => ({
  code: "SITE_NOT_FOUND",
  message: `Site '${ref}' was not found, or you do not have access to it.`,
});
const orgNotFound = (ref: string) => ({
  code: "ORG_NOT_FOUND",
  message: `Organization '${ref}' was not found, or you do not have access to it.`,
});
const forbidden = (message: string) => ({ code: "FORBIDDEN", message });

describe("the role table as pure functions (SPEC §5)", () => {
  const person = (isAdmin = false): Caller => {
    const user: UserRow = {
      id: randomUUID(),
      email: `${randomUUID().slice(0, 8)}@example.com`,
      isAdmin,
      createdAt: new Date().toISOString(),
    };
    return callerOf(user, testToken(user), "req-test");
  };
  const orgSite = (): SiteRow => ({
    id: randomUUID(),
    name: "site-a1",
    ownerOrgId: randomUUID(),
    ownerUserId: null,
    ownerName: "org-a",
    createdAt: new Date().toISOString(),
  });

  it("orgAccess: the platform admin administers every org, an org admin its org, a member only sees it", () => {
    const rows: Array<[string, Caller, "admin" | "member" | null, ReturnType<typeof orgAccess>]> = [
      ["platform admin", person(true), null, { role: "platform-admin", canAdminister: true }],
      [
        "platform admin who is a member",
        person(true),
        "member",
        { role: "platform-admin", canAdminister: true },
      ],
      ["org admin", person(), "admin", { role: "admin", canAdminister: true }],
      ["org member", person(), "member", { role: "member", canAdminister: false }],
      ["stranger", person(), null, undefined],
    ];
    for (const [who, caller, role, expected] of rows) {
      expect(orgAccess(caller, role), who).toEqual(expected);
    }
  });

  it("siteAccess: each relation to a site gets its row of the table, and no relation sees nothing", () => {
    const site = orgSite();
    const owner = person();
    const personal: SiteRow = {
      ...site,
      ownerOrgId: null,
      ownerUserId: owner.user.id,
      ownerName: owner.user.email,
    };
    const rows: Array<[string, Caller, SiteRow, SiteRelation, SiteAccess | undefined]> = [
      ["platform admin", person(true), site, NO_RELATION, FULL],
      ["platform admin on a personal site", person(true), personal, NO_RELATION, FULL],
      ["owner-org admin", person(), site, { ...NO_RELATION, ownerOrgRole: "admin" }, FULL],
      ["owner-org member", person(), site, { ...NO_RELATION, ownerOrgRole: "member" }, MANAGE_AND_TEAM],
      ["supporting-org member", person(), site, { ...NO_RELATION, supportingMember: true }, MANAGE_AND_TEAM],
      ["team member", person(), site, { ...NO_RELATION, onTeam: true }, MANAGE],
      ["personal owner", owner, personal, NO_RELATION, FULL],
      ["someone else on a personal site", person(), personal, NO_RELATION, undefined],
      ["stranger", person(), site, NO_RELATION, undefined],
      // Several relations: the widest wins.
      [
        "owner-org member on the team",
        person(),
        site,
        { ...NO_RELATION, ownerOrgRole: "member", onTeam: true },
        MANAGE_AND_TEAM,
      ],
      [
        "supporting member on the team",
        person(),
        site,
        { ...NO_RELATION, supportingMember: true, onTeam: true },
        MANAGE_AND_TEAM,
      ],
      [
        "owner-org admin also supporting",
        person(),
        site,
        { ownerOrgRole: "admin", supportingMember: true, onTeam: true },
        FULL,
      ],
    ];
    for (const [who, caller, row, relation, expected] of rows) {
      expect(siteAccess(caller, row, relation), who).toEqual(expected);
    }
  });
});

/**
 * SPEC §5's role table applied by the services, row by row, as `http/access.test.ts` checks it over
 * HTTP: who may see (else 404, the same error as a real miss), and who may change (else 403 with a
 * message naming who could).
 */
describe.each(await contractDatabases())("the role table in the services ($name)", ({ create }) => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  const people = {} as Record<Person, Caller>;
  type Person = "admin" | "alice" | "bob" | "carol" | "dave" | "erin" | "frank" | "gus";
  /** Who each person is in the table. */
  const ROLES: Record<Person, string> = {
    admin: "platform admin",
    alice: "owner-org admin (org-a)",
    bob: "owner-org member (org-a)",
    carol: "member of another org (org-b)",
    dave: "supporting-org member (org-s)",
    erin: "team member (site-a1)",
    frank: "personal owner (site-p1)",
    gus: "stranger",
  };
  const as = (who: Person): Caller => people[who];

  beforeAll(async () => {
    database = await create();
    lockbox = await createTestLockbox(database);
    people.admin = await testCaller(lockbox, { admin: true, email: "root@example.com" });
    for (const who of ["alice", "bob", "carol", "dave", "erin", "frank", "gus"] as const) {
      people[who] = await testCaller(lockbox, { email: `${who}@example.com` });
    }
    const { orgs, sites, secrets } = lockbox;
    const admin = as("admin");
    for (const org of ["org-a", "org-b", "org-s"]) await orgs.createOrg(admin, org);
    await orgs.addMember(admin, "org-a", "alice@example.com", "admin");
    await orgs.addMember(admin, "org-a", "bob@example.com", "member");
    await orgs.addMember(admin, "org-b", "carol@example.com", "member");
    await orgs.addMember(admin, "org-s", "dave@example.com", "member");
    await sites.createSite(as("alice"), { name: "site-a1", org: "org-a", supportingOrgs: [] });
    await sites.addSupportingOrg(admin, "site-a1", "org-s");
    await sites.createSite(admin, { name: "site-b1", org: "org-b" });
    await sites.addTeamMember(as("bob"), "site-a1", "erin@example.com");
    await sites.createSite(as("frank"), { name: "site-p1", owner: "frank@example.com" });
    await secrets.setOrgSecret(as("alice"), "org-a", { name: "ORG_A", value: "a", scopes: "web,user" });
    await secrets.setOrgSecret(admin, "org-s", { name: "ORG_S", value: "s", scopes: "web,user" });
  });
  afterAll(async () => {
    await lockbox?.close();
    await database?.drop();
  });

  describe("what AccessPolicy gives each person", () => {
    const SITE_TABLE: Array<[Person, Record<"site-a1" | "site-b1" | "site-p1", SiteAccess | null>]> = [
      ["admin", { "site-a1": FULL, "site-b1": FULL, "site-p1": FULL }],
      ["alice", { "site-a1": FULL, "site-b1": null, "site-p1": null }],
      ["bob", { "site-a1": MANAGE_AND_TEAM, "site-b1": null, "site-p1": null }],
      ["carol", { "site-a1": null, "site-b1": MANAGE_AND_TEAM, "site-p1": null }],
      ["dave", { "site-a1": MANAGE_AND_TEAM, "site-b1": null, "site-p1": null }],
      ["erin", { "site-a1": MANAGE, "site-b1": null, "site-p1": null }],
      ["frank", { "site-a1": null, "site-b1": null, "site-p1": FULL }],
      ["gus", { "site-a1": null, "site-b1": null, "site-p1": null }],
    ];

    it.each(SITE_TABLE)("site(): %s", async (who, expected) => {
      const caller = as(who);
      for (const [name, access] of Object.entries(expected)) {
        const label = `${ROLES[who]} on ${name}`;
        const site = await lockbox.stores.sites.findSiteByName(name);
        if (!site) throw new Error(`${name} is missing`);
        if (access === null) {
          await expect(lockbox.policy.site(caller, name), label).rejects.toMatchObject(siteNotFound(name));
          // By UUID too, and with the same error as a site that does not exist.
          await expect(lockbox.policy.site(caller, site.id), label).rejects.toMatchObject(
            siteNotFound(site.id),
          );
          const missing = randomUUID();
          await expect(lockbox.policy.site(caller, missing), label).rejects.toMatchObject(
            siteNotFound(missing),
          );
          expect(await lockbox.policy.siteAccessOf(caller, site), label).toBeUndefined();
          continue;
        }
        expect(await lockbox.policy.site(caller, name), label).toEqual({ site, access });
        expect(await lockbox.policy.site(caller, site.id.toUpperCase()), label).toEqual({ site, access });
        expect(await lockbox.policy.siteAccessOf(caller, site), label).toEqual(access);
        // The policy is the pure table applied to what the store says of the person and the site.
        const relation = await lockbox.stores.sites.siteRelation(site.id, caller.user.id);
        expect(siteAccess(caller, site, relation), label).toEqual(access);
      }
    });

    it("siteRelation reads each person's relation to site-a1 as the table needs it", async () => {
      const site = await lockbox.stores.sites.findSiteByName("site-a1");
      if (!site) throw new Error("site-a1 is missing");
      const expected: Record<Person, SiteRelation> = {
        admin: NO_RELATION,
        alice: { ...NO_RELATION, ownerOrgRole: "admin" },
        bob: { ...NO_RELATION, ownerOrgRole: "member" },
        carol: NO_RELATION,
        dave: { ...NO_RELATION, supportingMember: true },
        erin: { ...NO_RELATION, onTeam: true },
        frank: NO_RELATION,
        gus: NO_RELATION,
      };
      for (const [who, relation] of Object.entries(expected) as Array<[Person, SiteRelation]>) {
        expect(await lockbox.stores.sites.siteRelation(site.id, as(who).user.id), ROLES[who]).toEqual(
          relation,
        );
      }
    });

    const ORG_TABLE: Array<
      [Person, Record<"org-a" | "org-b" | "org-s", "platform-admin" | "admin" | "member" | null>]
    > = [
      ["admin", { "org-a": "platform-admin", "org-b": "platform-admin", "org-s": "platform-admin" }],
      ["alice", { "org-a": "admin", "org-b": null, "org-s": null }],
      ["bob", { "org-a": "member", "org-b": null, "org-s": null }],
      ["carol", { "org-a": null, "org-b": "member", "org-s": null }],
      // Supporting a site gives no sight of the owner org.
      ["dave", { "org-a": null, "org-b": null, "org-s": "member" }],
      ["erin", { "org-a": null, "org-b": null, "org-s": null }],
      ["frank", { "org-a": null, "org-b": null, "org-s": null }],
      ["gus", { "org-a": null, "org-b": null, "org-s": null }],
    ];

    it.each(ORG_TABLE)("org(): %s", async (who, expected) => {
      const caller = as(who);
      for (const [name, role] of Object.entries(expected)) {
        const label = `${ROLES[who]} on ${name}`;
        const org = await lockbox.stores.orgs.findOrgByName(name);
        if (!org) throw new Error(`${name} is missing`);
        if (role === null) {
          await expect(lockbox.policy.org(caller, name), label).rejects.toMatchObject(orgNotFound(name));
          await expect(lockbox.policy.org(caller, org.id), label).rejects.toMatchObject(orgNotFound(org.id));
          await expect(lockbox.orgs.getOrg(caller, name), label).rejects.toMatchObject(orgNotFound(name));
          continue;
        }
        const access = { role, canAdminister: role !== "member" };
        expect(await lockbox.policy.org(caller, name), label).toEqual({ org, access });
        expect(await lockbox.policy.org(caller, org.id.toUpperCase()), label).toEqual({ org, access });
        expect(await lockbox.orgs.getOrg(caller, name), label).toEqual({ ...org, role });
        const membership = await lockbox.stores.orgs.findMembership(org.id, caller.user.id);
        expect(orgAccess(caller, membership?.role ?? null), label).toEqual(access);
      }
    });

    it("listSites and listOrgs show each person exactly what it can see", async () => {
      const visible: Record<Person, [string[], string[]]> = {
        admin: [
          ["site-a1", "site-b1", "site-p1"],
          ["org-a", "org-b", "org-s"],
        ],
        alice: [["site-a1"], ["org-a"]],
        bob: [["site-a1"], ["org-a"]],
        carol: [["site-b1"], ["org-b"]],
        dave: [["site-a1"], ["org-s"]],
        erin: [["site-a1"], []],
        frank: [["site-p1"], []],
        gus: [[], []],
      };
      for (const [who, [sites, orgs]] of Object.entries(visible) as Array<[Person, [string[], string[]]]>) {
        const caller = as(who);
        expect(
          (await lockbox.sites.listSites(caller, {})).map((s) => s.name),
          ROLES[who],
        ).toEqual(sites);
        expect(
          (await lockbox.orgs.listOrgs(caller, {})).map((o) => o.name),
          ROLES[who],
        ).toEqual(orgs);
      }
      expect((await lockbox.orgs.listOrgs(as("alice"), {})).map((o) => o.role)).toEqual(["admin"]);
      expect((await lockbox.orgs.listOrgs(as("bob"), {})).map((o) => o.role)).toEqual(["member"]);
      // Filtering by an org one cannot see is the org's 404, not an empty list.
      await expect(lockbox.sites.listSites(as("carol"), { org: "org-a" })).rejects.toMatchObject(
        orgNotFound("org-a"),
      );
      expect((await lockbox.sites.listSites(as("dave"), { org: "org-s" })).map((s) => s.name)).toEqual([
        "site-a1",
      ]);
    });
  });

  describe("what the services answer (the rows of http/access.test.ts)", () => {
    it("lets only the platform admin create users and organizations", async () => {
      for (const who of ["alice", "bob"] as const) {
        await expect(lockbox.orgs.createOrg(as(who), "nope"), who).rejects.toMatchObject(
          forbidden("Only the platform admin can create organizations."),
        );
        await expect(lockbox.orgs.createUser(as(who), "x@example.com"), who).rejects.toMatchObject(
          forbidden("Only the platform admin can create users."),
        );
        await expect(lockbox.orgs.listUsers(as(who), {}), who).rejects.toMatchObject(
          forbidden("Only the platform admin can list users."),
        );
      }
      // Even an org's admin may not delete it; to someone who cannot see it, it does not exist.
      await expect(lockbox.orgs.deleteOrg(as("alice"), "org-a")).rejects.toMatchObject(
        forbidden("Only the platform admin can delete organization 'org-a'."),
      );
      await expect(lockbox.orgs.deleteOrg(as("carol"), "org-a")).rejects.toMatchObject(orgNotFound("org-a"));
      await expect(lockbox.orgs.getOrg(as("admin"), "nope")).rejects.toMatchObject(orgNotFound("nope"));
      expect(await lockbox.stores.orgs.findOrgByName("org-a")).toBeDefined();
    });

    it("lets an org admin manage the org's secrets and members, and an org member only list them", async () => {
      const { secrets, orgs } = lockbox;
      expect(
        await secrets.setOrgSecret(as("alice"), "org-a", { name: "BY_ALICE", value: "v" }),
      ).toMatchObject({ created: true });
      expect((await secrets.listOrgSecrets(as("bob"), "org-a")).map((s) => s.name)).toContain("BY_ALICE");
      expect((await orgs.listMembers(as("bob"), "org-a")).map((m) => m.email)).toEqual([
        "alice@example.com",
        "bob@example.com",
      ]);
      const secretsDenied = forbidden("Only an admin of organization 'org-a' can change its secrets.");
      await expect(
        secrets.setOrgSecret(as("bob"), "org-a", { name: "BY_BOB", value: "v" }),
      ).rejects.toMatchObject(secretsDenied);
      await expect(secrets.deleteOrgSecret(as("bob"), "org-a", "BY_ALICE")).rejects.toMatchObject(
        secretsDenied,
      );
      const membersDenied = forbidden("Only an admin of organization 'org-a' can manage its members.");
      await expect(orgs.addMember(as("bob"), "org-a", "gus@example.com", "member")).rejects.toMatchObject(
        membersDenied,
      );
      await expect(orgs.removeMember(as("bob"), "org-a", "alice@example.com")).rejects.toMatchObject(
        membersDenied,
      );
      expect(await orgs.addMember(as("alice"), "org-a", "gus@example.com", "member")).toMatchObject({
        role: "member",
      });
      await orgs.removeMember(as("alice"), "org-a", "gus@example.com");
      expect((await orgs.listMembers(as("alice"), "org-a")).map((m) => m.email)).toEqual([
        "alice@example.com",
        "bob@example.com",
      ]);
    });

    it("answers 404, the error of a real miss, for another org's sites, secrets and org", async () => {
      const carol = as("carol");
      const { sites, secrets, tokens, orgs } = lockbox;
      const hidden = siteNotFound("site-a1");
      await expect(sites.getSite(carol, "site-a1")).rejects.toMatchObject(hidden);
      await expect(sites.getSite(carol, "site-zz")).rejects.toMatchObject(siteNotFound("site-zz"));
      const attempts: Array<[string, () => Promise<unknown>]> = [
        ["getSite", () => sites.getSite(carol, "site-a1")],
        ["listSiteSecrets", () => secrets.listSiteSecrets(carol, "site-a1")],
        ["setSiteSecret", () => secrets.setSiteSecret(carol, "site-a1", { name: "X", value: "x" })],
        ["deleteSiteSecret", () => secrets.deleteSiteSecret(carol, "site-a1", "ORG_A")],
        ["resolveForPeople", () => secrets.resolveForPeople(carol, "site-a1", "live")],
        ["localSecretsFile", () => secrets.localSecretsFile(carol, "site-a1")],
        ["deleteSite", () => sites.deleteSite(carol, "site-a1")],
        ["transferSite", () => sites.transferSite(carol, "site-a1", { org: "org-b" })],
        ["addSupportingOrg", () => sites.addSupportingOrg(carol, "site-a1", "org-b")],
        ["addTeamMember", () => sites.addTeamMember(carol, "site-a1", "carol@example.com")],
        ["listEnvironments", () => sites.listEnvironments(carol, "site-a1")],
        ["createMultidev", () => sites.createMultidev(carol, "site-a1", "md")],
        ["deleteMultidev", () => sites.deleteMultidev(carol, "site-a1", "md")],
        ["createToken", () => tokens.createToken(carol, { kind: "runtime", site: "site-a1", env: "live" })],
        ["list tokens", () => tokens.list(carol, { site: "site-a1" })],
      ];
      for (const [operation, attempt] of attempts) {
        await expect(attempt(), operation).rejects.toMatchObject(hidden);
      }
      for (const [operation, attempt] of [
        ["getOrg", () => orgs.getOrg(carol, "org-a")],
        ["listMembers", () => orgs.listMembers(carol, "org-a")],
        ["listOrgSecrets", () => secrets.listOrgSecrets(carol, "org-a")],
        ["setOrgSecret", () => secrets.setOrgSecret(carol, "org-a", { name: "X", value: "x" })],
        ["deleteOrgSecret", () => secrets.deleteOrgSecret(carol, "org-a", "ORG_A")],
        ["addMember", () => orgs.addMember(carol, "org-a", "carol@example.com", "admin")],
      ] as Array<[string, () => Promise<unknown>]>) {
        await expect(attempt(), operation).rejects.toMatchObject(orgNotFound("org-a"));
      }
      // Access is decided before the value's rules: an invalid input tells an outsider nothing either.
      const bogus = { name: "X", value: "x", scopes: "bogus", type: "nope" };
      await expect(secrets.setSiteSecret(carol, "site-a1", bogus)).rejects.toMatchObject(hidden);
      await expect(secrets.setSiteSecret(carol, "site-a1", { ...bogus, env: "live" })).rejects.toMatchObject(
        hidden,
      );
      await expect(secrets.setOrgSecret(carol, "org-a", bogus)).rejects.toMatchObject(orgNotFound("org-a"));
      await expect(sites.createMultidev(carol, "site-a1", "settings")).rejects.toMatchObject(hidden);
      // …and a member who sees the org but may not change its secrets gets 403, not the rule's 422.
      await expect(
        secrets.setOrgSecret(as("bob"), "org-a", { name: "X", value: "x", scopes: "bogus" }),
      ).rejects.toMatchObject(forbidden("Only an admin of organization 'org-a' can change its secrets."));
      expect((await sites.listSites(carol, {})).map((s) => s.name)).toEqual(["site-b1"]);
      expect(await sites.listSites(as("gus"), {})).toEqual([]);
    });

    it("lets an org member manage secrets, multidevs, team and tokens of the org's sites, but not transfer or delete them", async () => {
      const bob = as("bob");
      const { sites, secrets, tokens } = lockbox;
      expect(
        await secrets.setSiteSecret(bob, "site-a1", { name: "BOB", value: "b", scopes: ["web"] }),
      ).toMatchObject({ created: true });
      expect(await sites.createMultidev(bob, "site-a1", "bobdev")).toMatchObject({ name: "bobdev" });
      await sites.addTeamMember(bob, "site-a1", "gus@example.com");
      await sites.removeTeamMember(bob, "site-a1", "gus@example.com");
      expect(
        (await tokens.createToken(bob, { kind: "runtime", site: "site-a1", env: "live" })).row.siteName,
      ).toBe("site-a1");
      const administer = (verb: string) =>
        forbidden(`Only the owner of site 'site-a1' (or an admin of its organization) can ${verb} it.`);
      await expect(sites.deleteSite(bob, "site-a1")).rejects.toMatchObject(administer("delete"));
      await expect(sites.transferSite(bob, "site-a1", { org: "org-b" })).rejects.toMatchObject(
        administer("transfer"),
      );
      await expect(sites.addSupportingOrg(bob, "site-a1", "org-a")).rejects.toMatchObject(
        administer("change the supporting organizations of"),
      );
      await expect(sites.removeSupportingOrg(bob, "site-a1", "org-s")).rejects.toMatchObject(
        forbidden(
          "Only the owner of site 'site-a1' (or an admin of its organization), or an admin of the supporting organization, can end its support of it.",
        ),
      );
      // Nor may a member give the org a site.
      await expect(sites.createSite(bob, { name: "site-bob", org: "org-a" })).rejects.toMatchObject(
        forbidden("Only an admin of organization 'org-a' can give it sites."),
      );
      expect(await lockbox.stores.sites.findSiteByName("site-a1")).toMatchObject({ ownerName: "org-a" });
    });

    it("lets a supporting org's member manage the site's secrets and team, but not delete it, while its org secrets never reach the site", async () => {
      const dave = as("dave");
      const { sites, secrets } = lockbox;
      expect(
        await secrets.setSiteSecret(dave, "site-a1", { name: "DAVE", value: "d", scopes: "web,user" }),
      ).toMatchObject({ created: true });
      const names = (await secrets.resolveForPeople(dave, "site-a1", "live", "web")).map((i) => i.name);
      expect(names).toContain("ORG_A");
      expect(names).toContain("DAVE");
      expect(names).not.toContain("ORG_S");
      await expect(secrets.listOrgSecrets(dave, "org-a")).rejects.toMatchObject(orgNotFound("org-a"));
      await sites.addTeamMember(dave, "site-a1", "gus@example.com");
      await sites.removeTeamMember(dave, "site-a1", "gus@example.com");
      await expect(sites.deleteSite(dave, "site-a1")).rejects.toMatchObject(
        forbidden("Only the owner of site 'site-a1' (or an admin of its organization) can delete it."),
      );
      await expect(sites.removeSupportingOrg(dave, "site-a1", "org-s")).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
      expect((await sites.getSite(as("admin"), "site-a1")).supportingOrgs.map((o) => o.name)).toEqual([
        "org-s",
      ]);
    });

    it("lets a team member manage the site's secrets, multidevs and tokens, but not its team", async () => {
      const erin = as("erin");
      const { sites, secrets, tokens } = lockbox;
      expect(await secrets.setSiteSecret(erin, "site-a1", { name: "ERIN", value: "e" })).toMatchObject({
        created: true,
      });
      await sites.createMultidev(erin, "site-a1", "erindev");
      await sites.deleteMultidev(erin, "site-a1", "erindev");
      expect((await tokens.createToken(erin, { kind: "build", site: "site-a1", env: "dev" })).row.kind).toBe(
        "build",
      );
      const team = forbidden("Only members of the organizations of site 'site-a1' can change its team.");
      await expect(sites.addTeamMember(erin, "site-a1", "gus@example.com")).rejects.toMatchObject(team);
      await expect(sites.removeTeamMember(erin, "site-a1", "erin@example.com")).rejects.toMatchObject(team);
      await expect(sites.deleteSite(erin, "site-a1")).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(sites.getSite(erin, "site-b1")).rejects.toMatchObject(siteNotFound("site-b1"));
      const siteA1 = (await lockbox.policy.site(as("admin"), "site-a1")).site;
      expect((await lockbox.stores.sites.siteRelation(siteA1.id, erin.user.id)).onTeam).toBe(true);
    });

    it("lets a personal site's owner manage, transfer and delete it, and hides it from everyone else", async () => {
      const frank = as("frank");
      const { sites, secrets } = lockbox;
      expect(await secrets.setSiteSecret(frank, "site-p1", { name: "MINE", value: "m" })).toMatchObject({
        created: true,
      });
      for (const who of ["alice", "bob", "dave", "erin", "gus"] as const) {
        await expect(sites.getSite(as(who), "site-p1"), who).rejects.toMatchObject(siteNotFound("site-p1"));
      }
      // A site of frank's own to transfer and delete, keeping site-p1 for the other rows.
      const mine = await sites.createSite(frank, { name: "site-p2", owner: "frank@example.com" });
      expect(mine).toMatchObject({ ownerUserId: frank.user.id });
      // An org frank cannot see does not exist for him; nor may he give a site to someone else.
      await expect(sites.transferSite(frank, "site-p2", { org: "org-a" })).rejects.toMatchObject(
        orgNotFound("org-a"),
      );
      await expect(sites.transferSite(frank, "site-p2", { owner: "gus@example.com" })).rejects.toMatchObject(
        forbidden("Only the platform admin can give a personal site to someone else."),
      );
      await expect(
        sites.createSite(frank, { name: "site-p3", owner: "gus@example.com" }),
      ).rejects.toMatchObject(forbidden("Only the platform admin can give a personal site to someone else."));
      expect(await sites.transferSite(frank, "site-p2", { owner: "frank@example.com" })).toMatchObject({
        ownerUserId: frank.user.id,
      });
      await sites.deleteSite(frank, "site-p2");
      await expect(sites.getSite(frank, "site-p2")).rejects.toMatchObject(siteNotFound("site-p2"));
    });

    it("redacts values without the user scope for everyone, the platform admin included", async () => {
      await lockbox.secrets.setSiteSecret(as("admin"), "site-a1", {
        name: "HIDDEN",
        value: "never-shown",
        scopes: "web",
      });
      for (const who of ["admin", "alice", "bob"] as const) {
        const listed = await lockbox.secrets.listSiteSecrets(as(who), "site-a1");
        const hidden = listed.find((i) => i.name === "HIDDEN");
        expect([who, hidden?.value]).toEqual([who, null]);
        expect(JSON.stringify(listed)).not.toContain("never-shown");
      }
    });

    it("refuses bad, revoked and machine tokens, and hides others' tokens", async () => {
      const { tokens } = lockbox;
      await expect(tokens.authenticateUser("lbx_garbage")).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
      const minted = await tokens.createToken(as("gus"), { kind: "user" });
      expect((await tokens.authenticateUser(minted.token)).user.email).toBe("gus@example.com");
      await tokens.revoke(as("gus"), minted.row.id);
      await expect(tokens.authenticateUser(minted.token)).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
      const runtime = await tokens.createToken(as("bob"), { kind: "runtime", site: "site-a1", env: "dev" });
      expect(runtime.token).toMatch(/^lbr_[A-Za-z0-9_-]{43}$/);
      await expect(tokens.authenticateUser(runtime.token)).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(tokens.revoke(as("carol"), runtime.row.id)).rejects.toMatchObject({
        code: "TOKEN_NOT_FOUND",
      });
      await expect(
        tokens.createToken(as("gus"), { kind: "user", user: "bob@example.com" }),
      ).rejects.toMatchObject(forbidden("Only the platform admin can create tokens for other users."));
    });

    it("appends no audit event for a write refused by the role table", async () => {
      const { sites, secrets, orgs, tokens } = lockbox;
      const events = await auditOf(lockbox, async () => {
        const refusals: Array<() => Promise<unknown>> = [
          () => orgs.createOrg(as("alice"), "org-x"),
          () => orgs.addMember(as("bob"), "org-a", "gus@example.com", "admin"),
          () => orgs.deleteOrg(as("alice"), "org-a"),
          () => secrets.setOrgSecret(as("bob"), "org-a", { name: "X", value: "x" }),
          () => secrets.setSiteSecret(as("carol"), "site-a1", { name: "X", value: "x" }),
          () => sites.deleteSite(as("dave"), "site-a1"),
          () => sites.transferSite(as("bob"), "site-a1", { org: "org-b" }),
          () => sites.addTeamMember(as("erin"), "site-a1", "gus@example.com"),
          () => sites.createMultidev(as("gus"), "site-a1", "md"),
          () => tokens.createToken(as("gus"), { kind: "runtime", site: "site-a1", env: "live" }),
        ];
        for (const refusal of refusals) {
          await expect(refusal()).rejects.toMatchObject({
            code: expect.stringMatching(/FORBIDDEN|NOT_FOUND/),
          });
        }
      });
      expect(events).toEqual([]);
    });
  });
});
