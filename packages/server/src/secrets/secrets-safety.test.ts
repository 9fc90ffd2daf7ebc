import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { Scope } from "@lockbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Caller } from "../directory/caller.js";
import type { SiteRow } from "../directory/records.js";
import type { Lockbox } from "../lockbox.js";
import type { LockboxStores } from "../stores.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { createTestLockbox, errorOf, insertOrg, insertSite, testCaller } from "../testing/test-lockbox.js";
import type { SecretsService } from "./secrets-service.js";

/*
 * What SecretsService guarantees around the rules of SPEC §2 (secrets-service.test.ts): who may do
 * what (SPEC §5, decided by the service itself), the audit of every write and read, consistency
 * under concurrent writes, and encryption at rest.
 */
describe.each(await contractDatabases())("SecretsService safety ($name)", ({ create }) => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  let stores: LockboxStores;
  let secrets: SecretsService;
  /** The platform admin, for the tests not about access. */
  let admin: Caller;

  beforeAll(async () => {
    database = await create();
    lockbox = await createTestLockbox(database);
    stores = lockbox.stores;
    secrets = lockbox.secrets;
    admin = await testCaller(lockbox, { admin: true });
  });
  afterAll(async () => {
    await lockbox?.close();
    await database?.drop();
  });

  const _tag = () => randomUUID().slice(0, 8);
  const makeOrg = (name?: string) => insertOrg(lockbox, {}, name);
  const makeSite = (owner: { orgId: string } | { userId: string }, name?: string) =>
    insertSite(lockbox, owner, name);
  const resolveMap = async (site: SiteRow, env: string, scope: Scope) =>
    Object.fromEntries(
      ((await secrets.resolveForDelivery(site.id, env, scope)) ?? []).map((s) => [s.name, s.value]),
    );
  const auditLength = async () => (await stores.audit.readAuditChain(0, 1_000_000)).length;

  describe("access (SPEC §5)", () => {
    const notFound = (kind: "Site" | "Organization", ref: string) => ({
      code: kind === "Site" ? "SITE_NOT_FOUND" : "ORG_NOT_FOUND",
      message: `${kind} '${ref}' was not found, or you do not have access to it.`,
    });

    it("lets everyone who can see a site manage its secrets, audited as themselves", async () => {
      const org = await makeOrg();
      const supporting = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await stores.sites.addSupportingOrg(site.id, supporting.id);
      const ownerMember = await testCaller(lockbox);
      await stores.orgs.upsertMembership(org.id, ownerMember.user.id, "member");
      const supporter = await testCaller(lockbox);
      await stores.orgs.upsertMembership(supporting.id, supporter.user.id, "member");
      const teamMember = await testCaller(lockbox);
      await stores.sites.addTeamMember(site.id, teamMember.user.id);
      const person = await testCaller(lockbox);
      const personal = await makeSite({ userId: person.user.id });

      const cases: Array<[Caller, SiteRow]> = [
        [ownerMember, site],
        [supporter, site],
        [teamMember, site],
        [person, personal],
      ];
      for (const [i, [caller, target]] of cases.entries()) {
        const name = `BY_${i}`;
        await secrets.setSiteSecret(caller, target.name, { name, value: "base", scopes: ["web", "user"] });
        await secrets.setSiteSecret(caller, target.id, { name, value: "live", env: "live" });
        expect((await secrets.listSiteSecrets(caller, target.name)).map((row) => row.name)).toContain(name);
        expect(await secrets.resolveForPeople(caller, target.id, "live")).toContainEqual(
          expect.objectContaining({ name, value: "live", source: "site-override" }),
        );
        expect(Object.keys((await secrets.localSecretsFile(caller, target.id)).Secrets)).toContain(name);
        await secrets.deleteSiteSecret(caller, target.id, name, "live");
        await secrets.deleteSiteSecret(caller, target.name, name);
        const events = await stores.audit.listAudit({ siteId: target.id, limit: 7 });
        expect(events.map((e) => [e.action, e.actor])).toEqual(
          [
            "secret.set",
            "secret.override.set",
            "secret.list",
            "secret.resolve",
            "secret.local-generate",
            "secret.override.delete",
            "secret.delete",
          ]
            .reverse()
            .map((action) => [action, `user:${caller.user.id}`]),
        );
      }
      expect(await resolveMap(site, "live", "web")).toEqual({});
      // Seeing a site does not make its owner org visible.
      expect(await errorOf(secrets.listOrgSecrets(teamMember, org.name))).toMatchObject(
        notFound("Organization", org.name),
      );
    });

    it("lets an org's members read its secrets and only its admins change them (403), writing nothing", async () => {
      const org = await makeOrg();
      const member = await testCaller(lockbox);
      const orgAdmin = await testCaller(lockbox);
      await stores.orgs.upsertMembership(org.id, member.user.id, "member");
      await stores.orgs.upsertMembership(org.id, orgAdmin.user.id, "admin");
      await secrets.setOrgSecret(orgAdmin, org.name, { name: "SHARED", value: "v", scopes: ["web", "user"] });
      await secrets.setOrgSecret(orgAdmin, org.id, { name: "SHARED", value: "v-live", env: "live" });
      const rows = [
        {
          name: "SHARED",
          type: "runtime",
          scopes: ["web", "user"],
          value: "v",
          envValues: { live: "v-live" },
        },
      ];

      const before = await auditLength();
      const attempts = [
        () => secrets.setOrgSecret(member, org.name, { name: "SHARED", value: "changed" }),
        () => secrets.setOrgSecret(member, org.id, { name: "NEW", value: "x" }),
        () => secrets.setOrgSecret(member, org.id, { name: "SHARED", value: "changed", env: "live" }),
        () => secrets.deleteOrgSecret(member, org.name, "SHARED", "live"),
        () => secrets.deleteOrgSecret(member, org.id, "SHARED"),
      ];
      for (const attempt of attempts) {
        expect(await errorOf(attempt())).toMatchObject({
          code: "FORBIDDEN",
          message: `Only an admin of organization '${org.name}' can change its secrets.`,
        });
      }
      expect(await auditLength()).toBe(before);

      expect(await secrets.listOrgSecrets(member, org.name)).toEqual(rows);
      expect(await secrets.listOrgSecrets(member, org.id)).toEqual(rows);
      const [read] = await stores.audit.listAudit({ orgId: org.id, limit: 1 });
      expect(read).toMatchObject({ action: "secret.list", actor: `user:${member.user.id}`, orgId: org.id });
      await secrets.deleteOrgSecret(orgAdmin, org.id, "SHARED");
      expect(await secrets.listOrgSecrets(member, org.id)).toEqual([]);
    });

    it("answers a stranger 404 on every operation, as for what does not exist, and writes nothing", async () => {
      const org = await makeOrg();
      const site = await makeSite({ orgId: org.id });
      await secrets.setOrgSecret(admin, org.id, { name: "ORG_KEY", value: "org", scopes: ["web"] });
      await secrets.setOrgSecret(admin, org.id, { name: "ORG_KEY", value: "org-live", env: "live" });
      await secrets.setSiteSecret(admin, site.id, { name: "KEY", value: "site", scopes: ["web"] });
      await secrets.setSiteSecret(admin, site.id, { name: "KEY", value: "site-live", env: "live" });
      // Members of another org, even one the site's owner org has nothing to do with, are strangers.
      const other = await makeOrg();
      const stranger = await testCaller(lockbox);
      await stores.orgs.upsertMembership(other.id, stranger.user.id, "admin");

      const before = await auditLength();
      for (const ref of [site.name, site.id, "no-such-site", randomUUID()]) {
        const attempts = [
          () => secrets.setSiteSecret(stranger, ref, { name: "KEY", value: "x" }),
          () => secrets.setSiteSecret(stranger, ref, { name: "NEW", value: "x" }),
          () => secrets.setSiteSecret(stranger, ref, { name: "KEY", value: "x", env: "live" }),
          () => secrets.deleteSiteSecret(stranger, ref, "KEY", "live"),
          () => secrets.deleteSiteSecret(stranger, ref, "KEY"),
          () => secrets.listSiteSecrets(stranger, ref),
          () => secrets.listSiteSecrets(stranger, ref, "live"),
          () => secrets.localSecretsFile(stranger, ref),
          () => secrets.resolveForPeople(stranger, ref, "live"),
        ];
        for (const attempt of attempts) expect(await errorOf(attempt())).toMatchObject(notFound("Site", ref));
      }
      for (const ref of [org.name, org.id, "no-such-org", randomUUID()]) {
        const attempts = [
          () => secrets.setOrgSecret(stranger, ref, { name: "ORG_KEY", value: "x" }),
          () => secrets.setOrgSecret(stranger, ref, { name: "NEW", value: "x" }),
          () => secrets.setOrgSecret(stranger, ref, { name: "ORG_KEY", value: "x", env: "live" }),
          () => secrets.deleteOrgSecret(stranger, ref, "ORG_KEY", "live"),
          () => secrets.deleteOrgSecret(stranger, ref, "ORG_KEY"),
          () => secrets.listOrgSecrets(stranger, ref),
        ];
        for (const attempt of attempts) {
          expect(await errorOf(attempt())).toMatchObject(notFound("Organization", ref));
        }
      }

      expect(await auditLength()).toBe(before);
      expect((await stores.secrets.listSecrets({ kind: "site", id: site.id })).map((s) => s.name)).toEqual([
        "KEY",
      ]);
      expect((await stores.secrets.listSecrets({ kind: "org", id: org.id })).map((s) => s.name)).toEqual([
        "ORG_KEY",
      ]);
      expect(await resolveMap(site, "live", "web")).toEqual({ KEY: "site-live", ORG_KEY: "org-live" });
      expect(await resolveMap(site, "dev", "web")).toEqual({ KEY: "site", ORG_KEY: "org" });
    });
  });

  describe("races", () => {
    it("lets exactly one of many concurrent creators of a name decide its type", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      const attempts = Array.from({ length: 16 }, (_, i) =>
        i % 2 === 0 ? ("env" as const) : ("runtime" as const),
      );
      const results = await Promise.allSettled(
        attempts.map((type, i) =>
          secrets.setSiteSecret(admin, site.id, { name: "RACE", value: `v${i}`, type }),
        ),
      );
      const stored = await stores.secrets.findSecret({ kind: "site", id: site.id }, "RACE");
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
        await secrets.setSiteSecret(admin, site.id, { name: "BASE", value: "b", scopes: ["web"] });
        const outcomes = await Promise.allSettled([
          secrets.setSiteSecret(admin, site.id, { name: "BASE", value: "o1", env: "live" }),
          secrets.deleteSiteSecret(admin, site.id, "BASE"),
          secrets.setSiteSecret(admin, site.id, { name: "BASE", value: "o2", env: "test" }),
        ]);
        for (const outcome of outcomes) {
          if (outcome.status === "rejected")
            expect(outcome.reason).toMatchObject({ code: "SECRET_NOT_FOUND" });
        }
        expect(await stores.secrets.findSecret({ kind: "site", id: site.id }, "BASE")).toBeUndefined();
        const orphans = await lockbox.db.kysely
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
      await secrets.setOrgSecret(admin, org.id, { name: "M0", value: markers[0] ?? "" });
      await secrets.setOrgSecret(admin, org.id, { name: "M0", value: markers[1] ?? "", env: "live" });
      await secrets.setSiteSecret(admin, site.id, {
        name: "M1",
        value: markers[2] ?? "",
        type: "env",
        scopes: ["ic", "web"],
      });
      await secrets.setSiteSecret(admin, site.id, { name: "M1", value: markers[3] ?? "", env: "test" });
      await secrets.setSiteSecret(admin, site.id, {
        name: "M2",
        value: `prefix ${markers[4]} suffix ${"é".repeat(100)}`,
      });
      await secrets.setSiteSecret(admin, site.id, { name: "M2", value: markers[5] ?? "" });
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
      await secrets.setSiteSecret(admin, site.id, { name: "T", value: "tamper-me", scopes: ["web"] });
      const secret = await stores.secrets.findSecret({ kind: "site", id: site.id }, "T");
      const row = await lockbox.db.kysely
        .selectFrom("secret_values")
        .select("ciphertext")
        .where("secret_id", "=", secret?.id ?? "")
        .executeTakeFirstOrThrow();
      const altered = Buffer.from(row.ciphertext);
      altered[altered.length - 20] = (altered[altered.length - 20] ?? 0) ^ 0x01;
      await lockbox.db.kysely
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
      await secrets.setSiteSecret(admin, site.id, { name: "SRC", value: "source", scopes: ["web"] });
      await secrets.setSiteSecret(admin, site.id, { name: "DST", value: "dest", scopes: ["web"] });
      await secrets.setSiteSecret(admin, site.id, { name: "DST", value: "dest-live", env: "live" });
      const idOf = async (name: string) =>
        (await stores.secrets.findSecret({ kind: "site", id: site.id }, name))?.id ?? "";
      const read = (id: string, env = "") =>
        lockbox.db.kysely
          .selectFrom("secret_values")
          .select("ciphertext")
          .where("secret_id", "=", id)
          .where("env", "=", env)
          .executeTakeFirstOrThrow()
          .then((r) => r.ciphertext);
      // A write behind the server's back: the server sees it when it next reads the site from the
      // store (a restart, or the site's next change), which is when it must refuse it.
      const write = async (id: string, env: string, ciphertext: Buffer) => {
        await lockbox.db.kysely
          .updateTable("secret_values")
          .set({ ciphertext })
          .where("secret_id", "=", id)
          .where("env", "=", env)
          .execute();
        lockbox.delivery.applyChange({ kind: "site", id: site.id });
      };

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
      await secrets.deleteSiteSecret(admin, site.id, "DST");

      // Replay: the old ciphertext written into the row of a secret re-created with the same name.
      await secrets.setSiteSecret(admin, site.id, { name: "DST", value: "new", scopes: ["web"] });
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
      const before = (await stores.audit.readAuditChain(0, 1_000_000)).length;
      await secrets.setSiteSecret(admin, site.id, {
        name: "AUD",
        value: "audit-secret-value",
        scopes: ["web"],
      });
      await secrets.setSiteSecret(admin, site.id, { name: "AUD", value: "audit-secret-live", env: "live" });
      await secrets.deleteSiteSecret(admin, site.id, "AUD", "live");
      await secrets.deleteSiteSecret(admin, site.id, "AUD");
      await errorOf(secrets.deleteSiteSecret(admin, site.id, "AUD"));
      const events = (await stores.audit.readAuditChain(0, 1_000_000)).slice(before);
      const actor = `user:${admin.user.id}`;
      expect(events.map((e) => [e.action, e.environment, e.siteId, e.orgId, e.actor, e.requestId])).toEqual([
        ["secret.set", null, site.id, org.id, actor, "req-test"],
        ["secret.override.set", "live", site.id, org.id, actor, "req-test"],
        ["secret.override.delete", "live", site.id, org.id, actor, "req-test"],
        ["secret.delete", null, site.id, org.id, actor, "req-test"],
      ]);
      expect(JSON.stringify(events)).not.toContain("audit-secret");
    });

    it("records people-facing reads of values", async () => {
      const site = await makeSite({ orgId: (await makeOrg()).id });
      await secrets.listSiteSecrets(admin, site.id);
      await secrets.resolveForPeople(admin, site.id, "live", "web");
      const [resolve, list] = await stores.audit.listAudit({ siteId: site.id, limit: 2 });
      expect([list?.action, resolve?.action, resolve?.environment]).toEqual([
        "secret.list",
        "secret.resolve",
        "live",
      ]);
    });
  });
});
