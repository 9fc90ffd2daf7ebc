import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { isLockboxError, type Scope } from "@lockbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KyselyStore } from "../db/kysely-store.js";
import type { OrgRow, SiteRow, UserRow } from "../db/secret-store.js";
import type { RequestContext } from "../directory/caller.js";
import { Keyring } from "../keys/index.js";
import { Vault } from "../keys/vault.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { SecretsService } from "./secrets-service.js";

const ctx: RequestContext = { actor: "user:test", requestId: "req-1" };

describe.each(await contractDatabases())("SecretsService ($name)", ({ create }) => {
  let database: TestDatabase;
  let store: KyselyStore;
  let vault: Vault;
  let secrets: SecretsService;

  beforeAll(async () => {
    database = await create();
    store = await database.open();
    vault = new Vault(Keyring.fromKeys(randomBytes(32)), store);
    secrets = new SecretsService(store, vault);
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const tag = () => randomUUID().slice(0, 8);
  const makeOrg = (name = `org-${tag()}`): Promise<OrgRow> => {
    const id = randomUUID();
    return store.insertOrg({ id, name, dataKey: vault.newDataKey({ kind: "org", id }) });
  };
  const makeUser = (): Promise<UserRow> =>
    store.insertUser({ id: randomUUID(), email: `${tag()}@example.com`, isAdmin: false });
  const makeSite = (
    owner: { orgId: string } | { userId: string },
    name = `site-${tag()}`,
  ): Promise<SiteRow> => {
    const id = randomUUID();
    return store.insertSite({ id, name, owner, dataKey: vault.newDataKey({ kind: "site", id }) });
  };
  const resolveMap = async (site: SiteRow, env: string, scope: Scope) =>
    Object.fromEntries(
      ((await secrets.resolveForDelivery(site.id, env, scope)) ?? []).map((s) => [s.name, s.value]),
    );
  const sources = async (site: SiteRow, env: string, scope: Scope) =>
    Object.fromEntries(
      (await secrets.resolveForPeople(ctx, site, env, scope)).map((s) => [s.name, s.source]),
    );
  const errorOf = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error,
    );

  describe("the seed's example", () => {
    it("gives my-org-site its own and my-org's ic secrets, and my-personal-site only its own", async () => {
      const suffix = tag();
      const myOrg = await makeOrg(`my-org-${suffix}`);
      const person = await makeUser();
      const orgSite = await makeSite({ orgId: myOrg.id }, `my-org-site-${suffix}`);
      const personalSite = await makeSite({ userId: person.id }, `my-personal-site-${suffix}`);
      await secrets.setOrgSecret(ctx, myOrg, {
        name: "github-oauth.github.com",
        value: "org-token",
        type: "composer",
        scopes: ["ic"],
      });
      await secrets.setOrgSecret(ctx, myOrg, { name: "foo", value: "org-foo", type: "env", scopes: ["ic"] });
      await secrets.setSiteSecret(ctx, orgSite, {
        name: "foo",
        value: "site-foo",
        type: "env",
        scopes: ["ic"],
      });
      await secrets.setSiteSecret(ctx, personalSite, {
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
          ? secrets.setSiteSecret(ctx, site, { name: "KEY", value, scopes: ["web"], env })
          : secrets.setOrgSecret(ctx, org, { name: "KEY", value, scopes: ["web"], env });
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
      await secrets.setOrgSecret(ctx, org, { name: "API", value: "org", scopes: ["web"] });
      await secrets.setOrgSecret(ctx, org, { name: "API", value: "org-live", env: "live" });
      await secrets.setSiteSecret(ctx, site, { name: "API", value: "site", scopes: ["web"] });
      expect(await resolveMap(site, "live", "web")).toEqual({ API: "site" });
    });

    it("filters by scope before merging: a site secret without the scope does not hide the org's", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setOrgSecret(ctx, org, { name: "TOKEN", value: "org-web", scopes: ["web"] });
      await secrets.setSiteSecret(ctx, site, {
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
      await store.addSupportingOrg(site.id, supporting.id);
      await secrets.setOrgSecret(ctx, supporting, {
        name: "SUPPORT",
        value: "s",
        scopes: ["web", "ic"],
        type: "env",
      });
      await secrets.setOrgSecret(ctx, owner, { name: "OWNER", value: "o", scopes: ["web"] });
      expect(await resolveMap(site, "dev", "web")).toEqual({ OWNER: "o" });
      expect(await resolveMap(site, "dev", "ic")).toEqual({});

      const person = await makeUser();
      const personal = await makeSite({ userId: person.id });
      expect(await resolveMap(personal, "dev", "web")).toEqual({});
    });

    it("does not filter by type: the web scope alone decides what the runtime sees", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setSiteSecret(ctx, site, { name: "R", value: "r", type: "runtime", scopes: ["web"] });
      await secrets.setSiteSecret(ctx, site, { name: "E", value: "e", type: "env", scopes: ["web"] });
      await secrets.setSiteSecret(ctx, site, {
        name: "bearer.example.com",
        value: "b",
        type: "composer",
        scopes: ["ic", "web"],
      });
      await secrets.setSiteSecret(ctx, site, {
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
      await secrets.setOrgSecret(ctx, org, { name: "DB", value: "org", scopes: ["web"] });
      await secrets.setSiteSecret(ctx, site, { name: "DB", value: "site", scopes: ["web"] });
      await secrets.setSiteSecret(ctx, site, { name: "DB", value: "site-live", env: "live" });
      expect(await resolveMap(site, "live", "web")).toEqual({ DB: "site-live" });
      await secrets.deleteSiteSecret(ctx, site, "DB");
      expect(await resolveMap(site, "live", "web")).toEqual({ DB: "org" });
    });

    it("follows a transfer: the site inherits from its new owner only", async () => {
      const first = await makeOrg();
      const second = await makeOrg();
      const site = await makeSite({ orgId: first.id });
      await secrets.setOrgSecret(ctx, first, { name: "FROM", value: "first", scopes: ["web"] });
      await secrets.setOrgSecret(ctx, second, { name: "FROM", value: "second", scopes: ["web"] });
      expect(await resolveMap(site, "dev", "web")).toEqual({ FROM: "first" });
      await store.updateSiteOwner(site.id, { orgId: second.id });
      expect(await resolveMap(site, "dev", "web")).toEqual({ FROM: "second" });
    });

    it("keeps org overrides for an environment name after a multidev of that name is deleted", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await store.insertEnvironment(site.id, "feature");
      await secrets.setOrgSecret(ctx, org, { name: "X", value: "org", scopes: ["web"] });
      await secrets.setOrgSecret(ctx, org, { name: "X", value: "org-feature", env: "feature" });
      await secrets.setSiteSecret(ctx, site, { name: "Y", value: "site", scopes: ["web"] });
      await secrets.setSiteSecret(ctx, site, { name: "Y", value: "site-feature", env: "feature" });
      await store.deleteEnvironment(site.id, "feature");
      await store.insertEnvironment(site.id, "feature");
      expect(await resolveMap(site, "feature", "web")).toEqual({ X: "org-feature", Y: "site" });
    });
  });

  describe("set (SPEC §2.1)", () => {
    it("creates with type runtime and scope user by default, then replaces the value", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      const first = await secrets.setSiteSecret(ctx, site, { name: "PLAIN", value: "one" });
      expect(first).toMatchObject({ created: true, type: "runtime", scopes: ["user"] });
      expect(first.notes).toEqual(["Applications will not see 'PLAIN': it has no web scope."]);
      const second = await secrets.setSiteSecret(ctx, site, { name: "PLAIN", value: "two" });
      expect(second).toMatchObject({ created: false, notes: [] });
      expect(await resolveMap(site, "dev", "user")).toEqual({ PLAIN: "two" });
    });

    it("accepts the same type and scopes again, in any order and with duplicates", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await secrets.setSiteSecret(ctx, site, { name: "S", value: "1", type: "env", scopes: ["web", "user"] });
      const again = await secrets.setSiteSecret(ctx, site, {
        name: "S",
        value: "2",
        type: "env",
        scopes: ["user", "web"],
      });
      expect(again.created).toBe(false);
    });

    it("refuses to change type or scopes with the exact message, and changes nothing", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await secrets.setSiteSecret(ctx, site, { name: "NAME", value: "keep", scopes: ["web", "user"] });
      const message =
        "Secret 'NAME' already exists with type 'runtime' and scopes 'web, user'. Type and scopes cannot be changed: delete the secret and create it again.";
      for (const change of [{ type: "env" as const }, { scopes: ["web"] as Scope[] }]) {
        const error = await errorOf(
          secrets.setSiteSecret(ctx, site, { name: "NAME", value: "changed", ...change }),
        );
        expect(error).toMatchObject({ code: "CONFLICT", message });
        const overrideError = await errorOf(
          secrets.setSiteSecret(ctx, site, { name: "NAME", value: "changed", env: "live", ...change }),
        );
        expect(overrideError).toMatchObject({ code: "CONFLICT", message });
      }
      expect(await resolveMap(site, "live", "user")).toEqual({ NAME: "keep" });
    });

    it("requires the ic scope for composer secrets", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      const error = await errorOf(
        secrets.setSiteSecret(ctx, site, {
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
        await store.findSecret({ kind: "site", id: site.id }, "github-oauth.github.com"),
      ).toBeUndefined();
    });

    it("refuses an override without a base at the same owner, for sites and orgs", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setOrgSecret(ctx, org, { name: "ORG_ONLY", value: "o", scopes: ["web"] });
      expect(
        await errorOf(secrets.setSiteSecret(ctx, site, { name: "ORG_ONLY", value: "x", env: "live" })),
      ).toMatchObject({
        code: "SECRET_NOT_FOUND",
        message: `Secret 'ORG_ONLY' does not exist on site '${site.name}'. You should create the default secret value first.`,
      });
      expect(
        await errorOf(secrets.setOrgSecret(ctx, org, { name: "NOPE", value: "x", env: "live" })),
      ).toMatchObject({
        code: "SECRET_NOT_FOUND",
        message: `Secret 'NOPE' does not exist on organization '${org.name}'. You should create the default secret value first.`,
      });
      expect(await resolveMap(site, "live", "web")).toEqual({ ORG_ONLY: "o" });
    });

    it("requires the environment to exist on the site, but accepts any valid environment name for an org", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setSiteSecret(ctx, site, { name: "K", value: "v" });
      expect(
        await errorOf(secrets.setSiteSecret(ctx, site, { name: "K", value: "x", env: "nosuch" })),
      ).toMatchObject({
        code: "ENVIRONMENT_NOT_FOUND",
        message: `Environment 'nosuch' does not exist on site '${site.name}'.`,
      });
      await secrets.setOrgSecret(ctx, org, { name: "K", value: "v" });
      await expect(
        secrets.setOrgSecret(ctx, org, { name: "K", value: "x", env: "nosuch" }),
      ).resolves.toMatchObject({
        created: false,
      });
      expect(
        await errorOf(secrets.setOrgSecret(ctx, org, { name: "K", value: "x", env: "Not Valid" })),
      ).toMatchObject({
        code: "VALIDATION_FAILED",
      });
    });

    it("warns that builds never read a composer override for test or live", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await secrets.setSiteSecret(ctx, site, {
        name: "bearer.repo.example.com",
        value: "t",
        type: "composer",
        scopes: ["ic"],
      });
      const result = await secrets.setSiteSecret(ctx, site, {
        name: "bearer.repo.example.com",
        value: "t2",
        env: "live",
      });
      expect(result.notes).toEqual([
        "Integrated Composer builds never run in 'live', so builds will not use this override of 'bearer.repo.example.com'.",
      ]);
    });

    it("accepts a value of exactly 16384 UTF-8 bytes and rejects 16385, counting multi-byte characters", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      const twoByte = "é".repeat(8192);
      const fourByte = "😀".repeat(4096);
      await secrets.setSiteSecret(ctx, site, { name: "MAX2", value: twoByte });
      await secrets.setSiteSecret(ctx, site, { name: "MAX4", value: fourByte });
      expect(await resolveMap(site, "dev", "user")).toEqual({ MAX2: twoByte, MAX4: fourByte });
      for (const value of [`${twoByte}a`, `a${fourByte}`]) {
        expect(await errorOf(secrets.setSiteSecret(ctx, site, { name: "OVER", value }))).toMatchObject({
          code: "VALIDATION_FAILED",
          message: "Secret values can be at most 16384 bytes; this value has 16385 bytes.",
        });
      }
      expect(await store.findSecret({ kind: "site", id: site.id }, "OVER")).toBeUndefined();
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
        const error = await errorOf(secrets.setSiteSecret(ctx, site, attempt));
        expect(isLockboxError(error, "VALIDATION_FAILED"), attempt.name).toBe(true);
        expect(String((error as Error).message)).not.toContain(attempt.value);
      }
      expect(
        (await errorOf(secrets.setSiteSecret(ctx, site, attempts[3] ?? { name: "", value: "" }))) as Error,
      ).toMatchObject({
        message:
          "Invalid key name '1nvalid': Environment variable names must start with a letter or underscore, and can only contain letters, numbers, and underscores.",
      });
      expect(await store.listSecrets({ kind: "site", id: site.id })).toEqual([]);
    });
  });

  describe("delete (SPEC §2.2)", () => {
    it("deletes a secret with its overrides and answers 404 for a missing one", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await secrets.setSiteSecret(ctx, site, { name: "GONE", value: "v" });
      await secrets.setSiteSecret(ctx, site, { name: "GONE", value: "l", env: "live" });
      await secrets.deleteSiteSecret(ctx, site, "GONE");
      expect(await store.findSecret({ kind: "site", id: site.id }, "GONE")).toBeUndefined();
      expect(await errorOf(secrets.deleteSiteSecret(ctx, site, "GONE"))).toMatchObject({
        code: "SECRET_NOT_FOUND",
        message: `Secret 'GONE' does not exist on site '${site.name}'.`,
      });
    });

    it("deletes an override idempotently once the base exists", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await secrets.setSiteSecret(ctx, site, { name: "O", value: "base", scopes: ["web"] });
      await secrets.setSiteSecret(ctx, site, { name: "O", value: "live", env: "live" });
      await secrets.deleteSiteSecret(ctx, site, "O", "live");
      await secrets.deleteSiteSecret(ctx, site, "O", "live");
      expect(await resolveMap(site, "live", "web")).toEqual({ O: "base" });
      expect(await errorOf(secrets.deleteSiteSecret(ctx, site, "MISSING", "live"))).toMatchObject({
        code: "SECRET_NOT_FOUND",
      });
      expect(await errorOf(secrets.deleteSiteSecret(ctx, site, "O", "nosuch"))).toMatchObject({
        code: "ENVIRONMENT_NOT_FOUND",
      });
    });
  });

  describe("list (SPEC §2.3)", () => {
    it("lists own and inherited rows with redaction by each secret's own scopes", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setOrgSecret(ctx, org, { name: "SHARED", value: "org-shared", scopes: ["web"] });
      await secrets.setOrgSecret(ctx, org, { name: "SHARED", value: "org-shared-live", env: "live" });
      await secrets.setOrgSecret(ctx, org, {
        name: "INHERITED",
        value: "org-visible",
        scopes: ["web", "user"],
      });
      await secrets.setSiteSecret(ctx, site, {
        name: "SHARED",
        value: "site-shared",
        scopes: ["web", "user"],
      });
      await secrets.setSiteSecret(ctx, site, { name: "SHARED", value: "site-shared-test", env: "test" });
      await secrets.setSiteSecret(ctx, site, { name: "QUIET", value: "hidden", scopes: ["web"] });
      await secrets.setSiteSecret(ctx, site, { name: "QUIET", value: "hidden-live", env: "live" });

      expect(await secrets.listSiteSecrets(ctx, site)).toEqual([
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
      expect(await secrets.listSiteSecrets(ctx, site, "live")).toEqual([
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
      expect(await secrets.listOrgSecrets(ctx, org)).toEqual([
        { name: "INHERITED", type: "runtime", scopes: ["web", "user"], value: "org-visible", envValues: {} },
        { name: "SHARED", type: "runtime", scopes: ["web"], value: null, envValues: { live: null } },
      ]);
    });

    it("writes the local development file from the same rows and redaction, audited apart", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setOrgSecret(ctx, org, { name: "FROM_ORG", value: "org-value", scopes: ["web", "user"] });
      await secrets.setOrgSecret(ctx, org, { name: "FROM_ORG", value: "org-live", env: "live" });
      await secrets.setSiteSecret(ctx, site, { name: "OWN", value: "own", scopes: ["web"] });
      await secrets.setSiteSecret(ctx, site, { name: "OWN", value: "own-test", env: "test" });
      expect(await secrets.localSecretsFile(ctx, site)).toEqual({
        EntityType: "sites",
        EntityId: site.id,
        Secrets: {
          FROM_ORG: {
            Type: "runtime",
            Value: "org-value",
            Scopes: ["web", "user"],
            EnvValues: {},
            OrgValues: { default: "org-value", live: "org-live" },
          },
          OWN: { Type: "runtime", Value: null, Scopes: ["web"], EnvValues: { test: null }, OrgValues: {} },
        },
      });
      expect((await store.listAudit({ siteId: site.id, limit: 1 }))[0]?.action).toBe("secret.local-generate");
    });

    it("redacts resolve output unless the winning secret has the user scope", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setOrgSecret(ctx, org, { name: "A", value: "org-a", scopes: ["web", "user"] });
      await secrets.setSiteSecret(ctx, site, { name: "A", value: "site-a", scopes: ["web"] });
      expect(await secrets.resolveForPeople(ctx, site, "dev", "web")).toEqual([
        { name: "A", type: "runtime", scopes: ["web"], value: null, source: "site" },
      ]);
    });
  });

  describe("races", () => {
    it("lets exactly one of many concurrent creators of a name decide its type", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      const attempts = Array.from({ length: 16 }, (_, i) =>
        i % 2 === 0 ? ("env" as const) : ("runtime" as const),
      );
      const results = await Promise.allSettled(
        attempts.map((type, i) => secrets.setSiteSecret(ctx, site, { name: "RACE", value: `v${i}`, type })),
      );
      const stored = await store.findSecret({ kind: "site", id: site.id }, "RACE");
      const created = results.filter((r) => r.status === "fulfilled" && r.value.created);
      expect(created).toHaveLength(1);
      results.forEach((result, i) => {
        if (result.status === "fulfilled") expect(attempts[i]).toBe(stored?.type);
        else expect(result.reason).toMatchObject({ code: "CONFLICT" });
      });
    });

    it("never leaves an override without its base when overrides race a delete", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      for (let round = 0; round < 5; round++) {
        await secrets.setSiteSecret(ctx, site, { name: "BASE", value: "b", scopes: ["web"] });
        const outcomes = await Promise.allSettled([
          secrets.setSiteSecret(ctx, site, { name: "BASE", value: "o1", env: "live" }),
          secrets.deleteSiteSecret(ctx, site, "BASE"),
          secrets.setSiteSecret(ctx, site, { name: "BASE", value: "o2", env: "test" }),
        ]);
        for (const outcome of outcomes) {
          if (outcome.status === "rejected")
            expect(outcome.reason).toMatchObject({ code: "SECRET_NOT_FOUND" });
        }
        expect(await store.findSecret({ kind: "site", id: site.id }, "BASE")).toBeUndefined();
        const orphans = await store.kysely
          .selectFrom("secret_values")
          .leftJoin("secrets", "secrets.id", "secret_values.secret_id")
          .select("secret_values.secret_id")
          .where("secrets.id", "is", null)
          .execute();
        expect(orphans).toEqual([]);
      }
    });
  });

  describe("encryption at rest", () => {
    it("keeps every value out of the database files and dumps", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      const markers = Array.from({ length: 6 }, () => `MARKER${randomBytes(12).toString("hex")}`);
      await secrets.setOrgSecret(ctx, org, { name: "M0", value: markers[0] ?? "" });
      await secrets.setOrgSecret(ctx, org, { name: "M0", value: markers[1] ?? "", env: "live" });
      await secrets.setSiteSecret(ctx, site, {
        name: "M1",
        value: markers[2] ?? "",
        type: "env",
        scopes: ["ic", "web"],
      });
      await secrets.setSiteSecret(ctx, site, { name: "M1", value: markers[3] ?? "", env: "test" });
      await secrets.setSiteSecret(ctx, site, {
        name: "M2",
        value: `prefix ${markers[4]} suffix ${"é".repeat(100)}`,
      });
      await secrets.setSiteSecret(ctx, site, { name: "M2", value: markers[5] ?? "" });
      // The markers do come back, so the check below is not vacuous.
      expect(Object.values(await resolveMap(site, "test", "web"))).toContain(markers[3]);

      let raw: string;
      if (database.dialect === "sqlite") {
        raw = ["", "-wal", "-shm", "-journal"]
          .map((suffix) => `${database.location}${suffix}`)
          .filter((path) => existsSync(path))
          .map((path) => readFileSync(path).toString("latin1"))
          .join("\n");
        expect(raw).toContain("M1"); // the names are in the file, so it was really read
      } else {
        raw = execFileSync("pg_dump", ["--data-only", "--inserts", database.location], {
          encoding: "utf8",
          maxBuffer: 1 << 28,
        });
        expect(raw).toContain("M1");
      }
      for (const marker of markers) expect(raw).not.toContain(marker);
    });

    it("fails with a clear error when a ciphertext was altered", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await secrets.setSiteSecret(ctx, site, { name: "T", value: "tamper-me", scopes: ["web"] });
      const secret = await store.findSecret({ kind: "site", id: site.id }, "T");
      const row = await store.kysely
        .selectFrom("secret_values")
        .select("ciphertext")
        .where("secret_id", "=", secret?.id ?? "")
        .executeTakeFirstOrThrow();
      const altered = Buffer.from(row.ciphertext);
      altered[altered.length - 20] = (altered[altered.length - 20] ?? 0) ^ 0x01;
      await store.kysely
        .updateTable("secret_values")
        .set({ ciphertext: altered })
        .where("secret_id", "=", secret?.id ?? "")
        .execute();
      const error = await errorOf(secrets.resolveForDelivery(site.id, "dev", "web"));
      expect(error).toMatchObject({ code: "INTEGRITY_FAILED" });
      expect(String((error as Error).message)).not.toContain("tamper-me");
    });

    it("refuses a ciphertext moved to another row, or replayed after delete and re-create", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await secrets.setSiteSecret(ctx, site, { name: "SRC", value: "source", scopes: ["web"] });
      await secrets.setSiteSecret(ctx, site, { name: "DST", value: "dest", scopes: ["web"] });
      await secrets.setSiteSecret(ctx, site, { name: "DST", value: "dest-live", env: "live" });
      const idOf = async (name: string) =>
        (await store.findSecret({ kind: "site", id: site.id }, name))?.id ?? "";
      const read = (id: string, env = "") =>
        store.kysely
          .selectFrom("secret_values")
          .select("ciphertext")
          .where("secret_id", "=", id)
          .where("env", "=", env)
          .executeTakeFirstOrThrow()
          .then((r) => r.ciphertext);
      const write = (id: string, env: string, ciphertext: Buffer) =>
        store.kysely
          .updateTable("secret_values")
          .set({ ciphertext })
          .where("secret_id", "=", id)
          .where("env", "=", env)
          .execute();

      const src = await read(await idOf("SRC"));
      const dstId = await idOf("DST");
      const dstBase = await read(dstId);
      // Another secret's base value copied over this one's base value.
      await write(dstId, "", src);
      expect(await errorOf(secrets.resolveForDelivery(site.id, "dev", "web"))).toMatchObject({
        code: "INTEGRITY_FAILED",
      });
      // This secret's own base value copied over its live override.
      await write(dstId, "", dstBase);
      await write(dstId, "live", dstBase);
      expect(await errorOf(secrets.resolveForDelivery(site.id, "live", "web"))).toMatchObject({
        code: "INTEGRITY_FAILED",
      });
      await secrets.deleteSiteSecret(ctx, site, "DST");

      // Replay: the old ciphertext written into the row of a secret re-created with the same name.
      await secrets.setSiteSecret(ctx, site, { name: "DST", value: "new", scopes: ["web"] });
      await write(await idOf("DST"), "", dstBase);
      expect(await errorOf(secrets.resolveForDelivery(site.id, "dev", "web"))).toMatchObject({
        code: "INTEGRITY_FAILED",
      });
    });
  });

  describe("audit", () => {
    it("appends one event per write, in the same transaction, without values", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      const before = (await store.readAuditChain(0, 1_000_000)).length;
      await secrets.setSiteSecret(ctx, site, { name: "AUD", value: "audit-secret-value", scopes: ["web"] });
      await secrets.setSiteSecret(ctx, site, { name: "AUD", value: "audit-secret-live", env: "live" });
      await secrets.deleteSiteSecret(ctx, site, "AUD", "live");
      await secrets.deleteSiteSecret(ctx, site, "AUD");
      await errorOf(secrets.deleteSiteSecret(ctx, site, "AUD"));
      const events = (await store.readAuditChain(0, 1_000_000)).slice(before);
      expect(events.map((e) => [e.action, e.environment, e.siteId, e.orgId, e.actor, e.requestId])).toEqual([
        ["secret.set", null, site.id, org.id, "user:test", "req-1"],
        ["secret.override.set", "live", site.id, org.id, "user:test", "req-1"],
        ["secret.override.delete", "live", site.id, org.id, "user:test", "req-1"],
        ["secret.delete", null, site.id, org.id, "user:test", "req-1"],
      ]);
      expect(JSON.stringify(events)).not.toContain("audit-secret");
    });

    it("records people-facing reads of values", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await secrets.listSiteSecrets(ctx, site);
      await secrets.resolveForPeople(ctx, site, "live", "web");
      const [resolve, list] = await store.listAudit({ siteId: site.id, limit: 2 });
      expect([list?.action, resolve?.action, resolve?.environment]).toEqual([
        "secret.list",
        "secret.resolve",
        "live",
      ]);
    });
  });
});
