import { randomUUID } from "node:crypto";
import { isLockboxError, type Scope } from "@lockbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Caller } from "../directory/caller.js";
import type { SiteRow, UserRow } from "../directory/records.js";
import type { Lockbox } from "../lockbox.js";
import type { LockboxStores } from "../stores.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { createTestLockbox, errorOf, insertOrg, insertSite, testCaller } from "../testing/test-lockbox.js";
import type { SecretsService } from "./secrets-service.js";

// Every rule runs on both delivery paths: against org snapshots (a listening server) and with full
// reads of both owners (caches not trusted, e.g. the change listener is down).
const MODES = (await contractDatabases()).flatMap((database) => [
  { ...database, snapshots: true, mode: "org snapshots" },
  { ...database, snapshots: false, mode: "full reads" },
]);

describe.each(MODES)("SecretsService ($name, $mode)", ({ create, snapshots }) => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  let stores: LockboxStores;
  let secrets: SecretsService;
  /** The platform admin: these tests are about the rules of secrets; access is in secrets-safety.test.ts. */
  let admin: Caller;

  beforeAll(async () => {
    database = await create();
    lockbox = await createTestLockbox(database);
    stores = lockbox.stores;
    secrets = lockbox.secrets;
    lockbox.delivery.setCaching(snapshots);
    admin = await testCaller(lockbox, { admin: true });
  });
  afterAll(async () => {
    await lockbox?.close();
    await database?.drop();
  });

  const tag = () => randomUUID().slice(0, 8);
  const makeOrg = (name?: string) => insertOrg(lockbox, {}, name);
  const makeUser = (): Promise<UserRow> =>
    stores.users.insertUser({ id: randomUUID(), email: `${tag()}@example.com`, isAdmin: false });
  const makeSite = (owner: { orgId: string } | { userId: string }, name?: string) =>
    insertSite(lockbox, owner, name);
  const resolveMap = async (site: SiteRow, env: string, scope: Scope) =>
    Object.fromEntries(
      ((await secrets.resolveForDelivery(site.id, env, scope)) ?? []).map((s) => [s.name, s.value]),
    );
  const sources = async (site: SiteRow, env: string, scope: Scope) =>
    Object.fromEntries(
      (await secrets.resolveForPeople(admin, site.id, env, scope)).map((s) => [s.name, s.source]),
    );

  describe("the seed's example", () => {
    it("gives my-org-site its own and my-org's ic secrets, and my-personal-site only its own", async () => {
      const suffix = tag();
      const myOrg = await makeOrg(`my-org-${suffix}`);
      const person = await makeUser();
      const orgSite = await makeSite({ orgId: myOrg.id }, `my-org-site-${suffix}`);
      const personalSite = await makeSite({ userId: person.id }, `my-personal-site-${suffix}`);
      await secrets.setOrgSecret(admin, myOrg.id, {
        name: "github-oauth.github.com",
        value: "org-token",
        type: "composer",
        scopes: ["ic"],
      });
      await secrets.setOrgSecret(admin, myOrg.id, {
        name: "foo",
        value: "org-foo",
        type: "env",
        scopes: ["ic"],
      });
      await secrets.setSiteSecret(admin, orgSite.id, {
        name: "foo",
        value: "site-foo",
        type: "env",
        scopes: ["ic"],
      });
      await secrets.setSiteSecret(admin, personalSite.id, {
        name: "foo",
        value: "personal-foo",
        type: "env",
        scopes: ["ic"],
      });

      expect(await resolveMap(orgSite, "dev", "ic")).toEqual({
        foo: "site-foo",
        "github-oauth.github.com": "org-token",
      });
      expect(await resolveMap(personalSite, "dev", "ic")).toEqual({ foo: "personal-foo" });
    });
  });

  describe("resolution (SPEC §2.4)", () => {
    it("orders precedence site override > site base > org override > org base", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      const set = (owner: "site" | "org", value: string, env?: string) =>
        owner === "site"
          ? secrets.setSiteSecret(admin, site.id, { name: "KEY", value, scopes: ["web"], env })
          : secrets.setOrgSecret(admin, org.id, { name: "KEY", value, scopes: ["web"], env });
      await set("org", "org-base");
      expect([await resolveMap(site, "live", "web"), await sources(site, "live", "web")]).toEqual([
        { KEY: "org-base" },
        { KEY: "org" },
      ]);
      await set("org", "org-live", "live");
      expect([await resolveMap(site, "live", "web"), await sources(site, "live", "web")]).toEqual([
        { KEY: "org-live" },
        { KEY: "org-override" },
      ]);
      await set("site", "site-base");
      expect([await resolveMap(site, "live", "web"), await sources(site, "live", "web")]).toEqual([
        { KEY: "site-base" },
        { KEY: "site" },
      ]);
      await set("site", "site-live", "live");
      expect([await resolveMap(site, "live", "web"), await sources(site, "live", "web")]).toEqual([
        { KEY: "site-live" },
        { KEY: "site-override" },
      ]);
      expect(await resolveMap(site, "dev", "web")).toEqual({ KEY: "site-base" });
    });

    it("lets a site base value hide an org override for the same name", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setOrgSecret(admin, org.id, { name: "API", value: "org", scopes: ["web"] });
      await secrets.setOrgSecret(admin, org.id, { name: "API", value: "org-live", env: "live" });
      await secrets.setSiteSecret(admin, site.id, { name: "API", value: "site", scopes: ["web"] });
      expect(await resolveMap(site, "live", "web")).toEqual({ API: "site" });
    });

    it("filters by scope before merging: a site secret without the scope does not hide the org's", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setOrgSecret(admin, org.id, { name: "TOKEN", value: "org-web", scopes: ["web"] });
      await secrets.setSiteSecret(admin, site.id, {
        name: "TOKEN",
        value: "site-ic-only",
        type: "env",
        scopes: ["ic"],
      });
      expect(await resolveMap(site, "dev", "web")).toEqual({ TOKEN: "org-web" });
      expect(await resolveMap(site, "dev", "ic")).toEqual({ TOKEN: "site-ic-only" });
    });

    it("never gives a site its supporting organization's secrets, and a personal site no org secrets", async () => {
      const owner = await makeOrg();
      const supporting = await makeOrg();
      const site = await makeSite({ orgId: owner.id });
      await stores.sites.addSupportingOrg(site.id, supporting.id);
      await secrets.setOrgSecret(admin, supporting.id, {
        name: "SUPPORT",
        value: "s",
        scopes: ["web", "ic"],
        type: "env",
      });
      await secrets.setOrgSecret(admin, owner.id, { name: "OWNER", value: "o", scopes: ["web"] });
      expect(await resolveMap(site, "dev", "web")).toEqual({ OWNER: "o" });
      expect(await resolveMap(site, "dev", "ic")).toEqual({});

      const person = await makeUser();
      const personal = await makeSite({ userId: person.id });
      expect(await resolveMap(personal, "dev", "web")).toEqual({});
    });

    it("does not filter by type: the web scope alone decides what the runtime sees", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setSiteSecret(admin, site.id, {
        name: "R",
        value: "r",
        type: "runtime",
        scopes: ["web"],
      });
      await secrets.setSiteSecret(admin, site.id, { name: "E", value: "e", type: "env", scopes: ["web"] });
      await secrets.setSiteSecret(admin, site.id, {
        name: "bearer.example.com",
        value: "b",
        type: "composer",
        scopes: ["ic", "web"],
      });
      await secrets.setSiteSecret(admin, site.id, {
        name: "HIDDEN",
        value: "h",
        type: "runtime",
        scopes: ["user"],
      });
      expect(await resolveMap(site, "live", "web")).toEqual({ E: "e", R: "r", "bearer.example.com": "b" });
    });

    it("returns the site to the org value when the site value is deleted", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setOrgSecret(admin, org.id, { name: "DB", value: "org", scopes: ["web"] });
      await secrets.setSiteSecret(admin, site.id, { name: "DB", value: "site", scopes: ["web"] });
      await secrets.setSiteSecret(admin, site.id, { name: "DB", value: "site-live", env: "live" });
      expect(await resolveMap(site, "live", "web")).toEqual({ DB: "site-live" });
      await secrets.deleteSiteSecret(admin, site.id, "DB");
      expect(await resolveMap(site, "live", "web")).toEqual({ DB: "org" });
    });

    it("follows a transfer: the site inherits from its new owner only", async () => {
      const first = await makeOrg();
      const second = await makeOrg();
      const site = await makeSite({ orgId: first.id });
      await secrets.setOrgSecret(admin, first.id, { name: "FROM", value: "first", scopes: ["web"] });
      await secrets.setOrgSecret(admin, second.id, { name: "FROM", value: "second", scopes: ["web"] });
      expect(await resolveMap(site, "dev", "web")).toEqual({ FROM: "first" });
      // As SiteService.transferSite writes it: the owner, and the site's change that servers act on.
      await stores.transaction(async (tx) => {
        await tx.sites.updateSiteOwner(site.id, { orgId: second.id });
        await tx.recordChange({ kind: "site", id: site.id });
      });
      expect(await resolveMap(site, "dev", "web")).toEqual({ FROM: "second" });
    });

    it("keeps org overrides for an environment name after a multidev of that name is deleted", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await stores.environments.insertEnvironment(site.id, "feature");
      await secrets.setOrgSecret(admin, org.id, { name: "X", value: "org", scopes: ["web"] });
      await secrets.setOrgSecret(admin, org.id, { name: "X", value: "org-feature", env: "feature" });
      await secrets.setSiteSecret(admin, site.id, { name: "Y", value: "site", scopes: ["web"] });
      await secrets.setSiteSecret(admin, site.id, { name: "Y", value: "site-feature", env: "feature" });
      await stores.environments.deleteEnvironment(site.id, "feature");
      await stores.environments.insertEnvironment(site.id, "feature");
      expect(await resolveMap(site, "feature", "web")).toEqual({ X: "org-feature", Y: "site" });
    });
  });

  describe("set (SPEC §2.1)", () => {
    it("creates with type runtime and scope user by default, then replaces the value", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      const first = await secrets.setSiteSecret(admin, site.id, { name: "PLAIN", value: "one" });
      expect(first).toMatchObject({ created: true, type: "runtime", scopes: ["user"] });
      expect(first.notes).toEqual(["Applications will not see 'PLAIN': it has no web scope."]);
      const second = await secrets.setSiteSecret(admin, site.id, { name: "PLAIN", value: "two" });
      expect(second).toMatchObject({ created: false, notes: [] });
      expect(await resolveMap(site, "dev", "user")).toEqual({ PLAIN: "two" });
    });

    it("accepts the same type and scopes again, in any order and with duplicates", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await secrets.setSiteSecret(admin, site.id, {
        name: "S",
        value: "1",
        type: "env",
        scopes: ["web", "user"],
      });
      const again = await secrets.setSiteSecret(admin, site.id, {
        name: "S",
        value: "2",
        type: "env",
        scopes: ["user", "web"],
      });
      expect(again.created).toBe(false);
    });

    it("refuses to change type or scopes with the exact message, and changes nothing", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await secrets.setSiteSecret(admin, site.id, { name: "NAME", value: "keep", scopes: ["web", "user"] });
      const message =
        "Secret 'NAME' already exists with type 'runtime' and scopes 'web, user'. Type and scopes cannot be changed: delete the secret and create it again.";
      for (const change of [{ type: "env" as const }, { scopes: ["web"] as Scope[] }]) {
        const error = await errorOf(
          secrets.setSiteSecret(admin, site.id, { name: "NAME", value: "changed", ...change }),
        );
        expect(error).toMatchObject({ code: "CONFLICT", message });
        const overrideError = await errorOf(
          secrets.setSiteSecret(admin, site.id, { name: "NAME", value: "changed", env: "live", ...change }),
        );
        expect(overrideError).toMatchObject({ code: "CONFLICT", message });
      }
      expect(await resolveMap(site, "live", "user")).toEqual({ NAME: "keep" });
    });

    it("keeps the stored type and scopes when an update gives none, reports them, and checks the value against them", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      const created = await secrets.setSiteSecret(admin, site.id, {
        name: "TYPED",
        value: "1",
        type: "env",
        scopes: "user, web",
      });
      expect(created).toEqual({
        created: true,
        name: "TYPED",
        type: "env",
        scopes: ["web", "user"],
        notes: [],
      });
      expect(await secrets.setSiteSecret(admin, site.id, { name: "TYPED", value: "2" })).toEqual({
        created: false,
        name: "TYPED",
        type: "env",
        scopes: ["web", "user"],
        notes: [],
      });
      expect(
        await secrets.setSiteSecret(admin, site.id, {
          name: "TYPED",
          value: "3",
          scopes: ["user", "web", "web"],
        }),
      ).toMatchObject({ created: false, type: "env", scopes: ["web", "user"] });
      expect(await stores.secrets.findSecret({ kind: "site", id: site.id }, "TYPED")).toMatchObject({
        type: "env",
        scopes: ["web", "user"],
      });
      // NUL is refused in env values only: the stored type decides, base value and override alike.
      for (const env of [undefined, "live"]) {
        expect(
          await errorOf(secrets.setSiteSecret(admin, site.id, { name: "TYPED", value: "a\u0000b", env })),
        ).toMatchObject({
          code: "VALIDATION_FAILED",
          message: "Invalid value for 'TYPED': environment variable values cannot contain the NUL character.",
        });
      }
      await secrets.setSiteSecret(admin, site.id, { name: "UNTYPED", value: "1", scopes: ["web"] });
      await secrets.setSiteSecret(admin, site.id, { name: "UNTYPED", value: "a\u0000b" });
      expect(await resolveMap(site, "live", "web")).toEqual({ TYPED: "3", UNTYPED: "a\u0000b" });
    });

    it("gives an override its base's type and scopes, reports them, and checks the value against them", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      const name = "http-basic.repo.example.com";
      await secrets.setSiteSecret(admin, site.id, {
        name,
        value: "u:p",
        type: "composer",
        scopes: "user,ic",
      });
      expect(await secrets.setSiteSecret(admin, site.id, { name, value: "u:dev", env: "dev" })).toEqual({
        created: false,
        name,
        type: "composer",
        scopes: ["ic", "user"],
        notes: [],
      });
      expect(
        await errorOf(secrets.setSiteSecret(admin, site.id, { name, value: "no-colon", env: "dev" })),
      ).toMatchObject({
        code: "VALIDATION_FAILED",
        message: `Invalid value for '${name}': http-basic values are 'USER:PASSWORD': a user name, a colon, and the password.`,
      });
      expect(await resolveMap(site, "dev", "ic")).toEqual({ [name]: "u:dev" });

      await secrets.setOrgSecret(admin, org.id, {
        name: "ORG_ENV",
        value: "o",
        type: "env",
        scopes: ["web"],
      });
      expect(
        await secrets.setOrgSecret(admin, org.id, { name: "ORG_ENV", value: "o-live", env: "live" }),
      ).toEqual({
        created: false,
        name: "ORG_ENV",
        type: "env",
        scopes: ["web"],
        notes: [
          "Integrated Composer builds never run in 'live', so builds will not use this override of 'ORG_ENV'. Applications in 'live' do read it (web scope).",
        ],
      });
      expect(await stores.secrets.findSecret({ kind: "org", id: org.id }, "ORG_ENV")).toMatchObject({
        type: "env",
        scopes: ["web"],
      });
    });

    it("requires the ic scope for composer secrets", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      const error = await errorOf(
        secrets.setSiteSecret(admin, site.id, {
          name: "github-oauth.github.com",
          value: "t",
          type: "composer",
          scopes: ["web"],
        }),
      );
      expect(error).toMatchObject({
        code: "VALIDATION_FAILED",
        message:
          "Composer secrets are only read by Integrated Composer builds: add the ic scope (for example --scope=ic,user).",
      });
      expect(
        await stores.secrets.findSecret({ kind: "site", id: site.id }, "github-oauth.github.com"),
      ).toBeUndefined();
    });

    it("refuses an override without a base at the same owner, for sites and orgs", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setOrgSecret(admin, org.id, { name: "ORG_ONLY", value: "o", scopes: ["web"] });
      expect(
        await errorOf(secrets.setSiteSecret(admin, site.id, { name: "ORG_ONLY", value: "x", env: "live" })),
      ).toMatchObject({
        code: "SECRET_NOT_FOUND",
        message: `Secret 'ORG_ONLY' does not exist on site '${site.name}'. You should create the default secret value first.`,
      });
      expect(
        await errorOf(secrets.setOrgSecret(admin, org.id, { name: "NOPE", value: "x", env: "live" })),
      ).toMatchObject({
        code: "SECRET_NOT_FOUND",
        message: `Secret 'NOPE' does not exist on organization '${org.name}'. You should create the default secret value first.`,
      });
      expect(await resolveMap(site, "live", "web")).toEqual({ ORG_ONLY: "o" });
    });

    it("requires the environment to exist on the site, but accepts any valid environment name for an org", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setSiteSecret(admin, site.id, { name: "K", value: "v" });
      expect(
        await errorOf(secrets.setSiteSecret(admin, site.id, { name: "K", value: "x", env: "nosuch" })),
      ).toMatchObject({
        code: "ENVIRONMENT_NOT_FOUND",
        message: `Environment 'nosuch' does not exist on site '${site.name}'.`,
      });
      await secrets.setOrgSecret(admin, org.id, { name: "K", value: "v" });
      await expect(
        secrets.setOrgSecret(admin, org.id, { name: "K", value: "x", env: "nosuch" }),
      ).resolves.toMatchObject({
        created: false,
      });
      expect(
        await errorOf(secrets.setOrgSecret(admin, org.id, { name: "K", value: "x", env: "Not Valid" })),
      ).toMatchObject({
        code: "VALIDATION_FAILED",
      });
    });

    it("warns that builds never read a composer override for test or live", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await secrets.setSiteSecret(admin, site.id, {
        name: "bearer.repo.example.com",
        value: "t",
        type: "composer",
        scopes: ["ic"],
      });
      const result = await secrets.setSiteSecret(admin, site.id, {
        name: "bearer.repo.example.com",
        value: "t2",
        env: "live",
      });
      expect(result.notes).toEqual([
        "Integrated Composer builds never run in 'live', so builds will not use this override of 'bearer.repo.example.com'.",
      ]);
    });

    it("warns that builds never read an env override for test or live, on sites and orgs alike", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setSiteSecret(admin, site.id, {
        name: "NPM_TOKEN",
        value: "t",
        type: "env",
        scopes: ["ic"],
      });
      await secrets.setOrgSecret(admin, org.id, {
        name: "DB_URL",
        value: "d",
        type: "env",
        scopes: ["ic", "web"],
      });
      const test = await secrets.setSiteSecret(admin, site.id, {
        name: "NPM_TOKEN",
        value: "t2",
        env: "test",
      });
      expect(test.notes).toEqual([
        "Integrated Composer builds never run in 'test', so builds will not use this override of 'NPM_TOKEN'.",
      ]);
      const live = await secrets.setOrgSecret(admin, org.id, { name: "DB_URL", value: "d2", env: "live" });
      expect(live.notes).toEqual([
        "Integrated Composer builds never run in 'live', so builds will not use this override of 'DB_URL'. Applications in 'live' do read it (web scope).",
      ]);
      const dev = await secrets.setSiteSecret(admin, site.id, { name: "NPM_TOKEN", value: "t3", env: "dev" });
      expect(dev.notes).toEqual([]);
    });

    it("accepts a value of exactly 16384 UTF-8 bytes and rejects 16385, counting multi-byte characters", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      const twoByte = "é".repeat(8192);
      const fourByte = "😀".repeat(4096);
      await secrets.setSiteSecret(admin, site.id, { name: "MAX2", value: twoByte });
      await secrets.setSiteSecret(admin, site.id, { name: "MAX4", value: fourByte });
      expect(await resolveMap(site, "dev", "user")).toEqual({ MAX2: twoByte, MAX4: fourByte });
      for (const value of [`${twoByte}a`, `a${fourByte}`]) {
        expect(await errorOf(secrets.setSiteSecret(admin, site.id, { name: "OVER", value }))).toMatchObject({
          code: "VALIDATION_FAILED",
          message: "Secret values can be at most 16384 bytes; this value has 16385 bytes.",
        });
      }
      expect(await stores.secrets.findSecret({ kind: "site", id: site.id }, "OVER")).toBeUndefined();
    });

    it("rejects lone surrogates, NUL in env values and a COMPOSER_AUTH that is not an object", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      const attempts = [
        { name: "LONE", value: "a\uD800b" },
        { name: "NUL", value: "a\u0000b", type: "env" as const },
        { name: "COMPOSER_AUTH", value: "[]", type: "env" as const, scopes: ["ic"] as Scope[] },
        { name: "1nvalid", value: "x", type: "env" as const },
      ];
      for (const attempt of attempts) {
        const error = await errorOf(secrets.setSiteSecret(admin, site.id, attempt));
        expect(isLockboxError(error, "VALIDATION_FAILED"), attempt.name).toBe(true);
        expect(String((error as Error).message)).not.toContain(attempt.value);
      }
      expect(
        (await errorOf(
          secrets.setSiteSecret(admin, site.id, attempts[3] ?? { name: "", value: "" }),
        )) as Error,
      ).toMatchObject({
        message:
          "Invalid key name '1nvalid': Environment variable names must start with a letter or underscore, and can only contain letters, numbers, and underscores.",
      });
      expect(await stores.secrets.listSecrets({ kind: "site", id: site.id })).toEqual([]);
    });
  });

  describe("delete (SPEC §2.2)", () => {
    it("deletes a secret with its overrides and answers 404 for a missing one", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await secrets.setSiteSecret(admin, site.id, { name: "GONE", value: "v" });
      await secrets.setSiteSecret(admin, site.id, { name: "GONE", value: "l", env: "live" });
      await secrets.deleteSiteSecret(admin, site.id, "GONE");
      expect(await stores.secrets.findSecret({ kind: "site", id: site.id }, "GONE")).toBeUndefined();
      expect(await errorOf(secrets.deleteSiteSecret(admin, site.id, "GONE"))).toMatchObject({
        code: "SECRET_NOT_FOUND",
        message: `Secret 'GONE' does not exist on site '${site.name}'.`,
      });
    });

    it("deletes an override idempotently once the base exists", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await secrets.setSiteSecret(admin, site.id, { name: "O", value: "base", scopes: ["web"] });
      await secrets.setSiteSecret(admin, site.id, { name: "O", value: "live", env: "live" });
      await secrets.deleteSiteSecret(admin, site.id, "O", "live");
      await secrets.deleteSiteSecret(admin, site.id, "O", "live");
      expect(await resolveMap(site, "live", "web")).toEqual({ O: "base" });
      expect(await errorOf(secrets.deleteSiteSecret(admin, site.id, "MISSING", "live"))).toMatchObject({
        code: "SECRET_NOT_FOUND",
      });
      expect(await errorOf(secrets.deleteSiteSecret(admin, site.id, "O", "nosuch"))).toMatchObject({
        code: "ENVIRONMENT_NOT_FOUND",
      });
    });
  });

  describe("list (SPEC §2.3)", () => {
    it("lists own and inherited rows with redaction by each secret's own scopes", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setOrgSecret(admin, org.id, { name: "SHARED", value: "org-shared", scopes: ["web"] });
      await secrets.setOrgSecret(admin, org.id, { name: "SHARED", value: "org-shared-live", env: "live" });
      await secrets.setOrgSecret(admin, org.id, {
        name: "INHERITED",
        value: "org-visible",
        scopes: ["web", "user"],
      });
      await secrets.setSiteSecret(admin, site.id, {
        name: "SHARED",
        value: "site-shared",
        scopes: ["web", "user"],
      });
      await secrets.setSiteSecret(admin, site.id, { name: "SHARED", value: "site-shared-test", env: "test" });
      await secrets.setSiteSecret(admin, site.id, { name: "QUIET", value: "hidden", scopes: ["web"] });
      await secrets.setSiteSecret(admin, site.id, { name: "QUIET", value: "hidden-live", env: "live" });

      expect(await secrets.listSiteSecrets(admin, site.id)).toEqual([
        {
          name: "INHERITED",
          type: "runtime",
          scopes: ["web", "user"],
          value: "org-visible",
          envValues: {},
          orgValues: { default: "org-visible" },
          owner: "org",
        },
        {
          name: "QUIET",
          type: "runtime",
          scopes: ["web"],
          value: null,
          envValues: { live: null },
          orgValues: {},
          owner: "site",
        },
        {
          name: "SHARED",
          type: "runtime",
          scopes: ["web", "user"],
          value: "site-shared",
          envValues: { test: "site-shared-test" },
          orgValues: { default: null, live: null },
          owner: "site",
        },
      ]);
      expect(await secrets.listSiteSecrets(admin, site.id, "live")).toEqual([
        {
          name: "QUIET",
          type: "runtime",
          scopes: ["web"],
          value: null,
          envValues: {},
          orgValues: {},
          owner: "site",
        },
      ]);
      expect(await secrets.listOrgSecrets(admin, org.id)).toEqual([
        { name: "INHERITED", type: "runtime", scopes: ["web", "user"], value: "org-visible", envValues: {} },
        { name: "SHARED", type: "runtime", scopes: ["web"], value: null, envValues: { live: null } },
      ]);
    });

    it("writes the local development file from the same rows and redaction, with each row's owner and the org secret's scopes, audited apart", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setOrgSecret(admin, org.id, {
        name: "FROM_ORG",
        value: "org-value",
        scopes: ["web", "user"],
      });
      await secrets.setOrgSecret(admin, org.id, { name: "FROM_ORG", value: "org-live", env: "live" });
      await secrets.setSiteSecret(admin, site.id, { name: "OWN", value: "own", scopes: ["web"] });
      await secrets.setSiteSecret(admin, site.id, { name: "OWN", value: "own-test", env: "test" });
      await secrets.setOrgSecret(admin, org.id, { name: "SHADOWED", value: "org-shadow", scopes: ["web"] });
      await secrets.setSiteSecret(admin, site.id, {
        name: "SHADOWED",
        type: "env",
        value: "site-shadow",
        scopes: ["user"],
      });
      expect(await secrets.localSecretsFile(admin, site.id)).toEqual({
        EntityType: "sites",
        EntityId: site.id,
        Secrets: {
          FROM_ORG: {
            Type: "runtime",
            Value: "org-value",
            Scopes: ["web", "user"],
            EnvValues: {},
            OrgValues: { default: "org-value", live: "org-live" },
            Owner: "org",
          },
          OWN: {
            Type: "runtime",
            Value: null,
            Scopes: ["web"],
            EnvValues: { test: null },
            OrgValues: {},
            Owner: "site",
          },
          SHADOWED: {
            Type: "env",
            Value: "site-shadow",
            Scopes: ["user"],
            EnvValues: {},
            OrgValues: { default: null },
            Owner: "site",
            OrgScopes: ["web"],
          },
        },
      });
      expect((await stores.audit.listAudit({ siteId: site.id, limit: 1 }))[0]?.action).toBe(
        "secret.local-generate",
      );
    });

    it("redacts resolve output unless the winning secret has the user scope", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setOrgSecret(admin, org.id, { name: "A", value: "org-a", scopes: ["web", "user"] });
      await secrets.setSiteSecret(admin, site.id, { name: "A", value: "site-a", scopes: ["web"] });
      expect(await secrets.resolveForPeople(admin, site.id, "dev", "web")).toEqual([
        { name: "A", type: "runtime", scopes: ["web"], value: null, source: "site" },
      ]);
    });

    it("resolves the base values when no environment is given: no override wins", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setOrgSecret(admin, org.id, { name: "O", value: "org-o", scopes: ["web", "user"] });
      await secrets.setOrgSecret(admin, org.id, { name: "O", value: "org-o-live", env: "live" });
      await secrets.setSiteSecret(admin, site.id, { name: "S", value: "site-s", scopes: ["web", "user"] });
      await secrets.setSiteSecret(admin, site.id, { name: "S", value: "site-s-live", env: "live" });
      expect(await secrets.resolveForPeople(admin, site.id, undefined, "web")).toEqual([
        { name: "O", type: "runtime", scopes: ["web", "user"], value: "org-o", source: "org" },
        { name: "S", type: "runtime", scopes: ["web", "user"], value: "site-s", source: "site" },
      ]);
      expect((await secrets.resolveForPeople(admin, site.id, "live", "web")).map((s) => s.value)).toEqual([
        "org-o-live",
        "site-s-live",
      ]);
      const [event] = await stores.audit.listAudit({ siteId: site.id, limit: 2 });
      expect(event?.action).toBe("secret.resolve");
    });
  });
});
