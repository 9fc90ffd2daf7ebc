import { randomUUID } from "node:crypto";
import { isLockboxError, type OwnerRef } from "@lockbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditEventHash, GENESIS_HASH } from "../../audit/audit-hash.js";
import type { SecretStore, SiteOwner } from "../secret-store.js";
import type { TestDatabase } from "./test-databases.js";

const key = (label: string) => ({ wrapped: Buffer.from(`wrapped:${label}`), masterKeyId: "mk-1" });

/**
 * The contract every {@link SecretStore} implementation must pass, run against each dialect with
 * `secretStoreContract(name, createDatabase)`. It checks the port's semantics (absence, cascades,
 * constraints, ordering) and its race safety: rules that read then write stay whole under
 * concurrent transactions, and audit appends form one gapless chain.
 */
export function secretStoreContract(name: string, createDatabase: () => Promise<TestDatabase>): void {
  describe(`SecretStore contract (${name})`, () => {
    let database: TestDatabase;
    let store: SecretStore;

    beforeAll(async () => {
      database = await createDatabase();
      store = await database.open();
    });
    afterAll(async () => {
      await store?.close();
      await database?.drop();
    });

    const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
    const newUser = (email = `${unique("u")}@example.com`) =>
      store.insertUser({ id: randomUUID(), email, isAdmin: false });
    const newOrg = (name = unique("org")) => store.insertOrg({ id: randomUUID(), name, dataKey: key(name) });
    const newSite = (owner: SiteOwner, name = unique("site")) =>
      store.insertSite({ id: randomUUID(), name, owner, dataKey: key(name) });
    const newSecret = async (owner: OwnerRef, name: string, base = "base") => {
      const secret = await store.insertSecret({
        id: randomUUID(),
        owner,
        name,
        type: "runtime",
        scopes: ["web", "user"],
      });
      await store.putValue(secret.id, null, Buffer.from(base));
      return secret;
    };

    it("finds users by email regardless of case and refuses a duplicate email", async () => {
      const user = await newUser("Mixed.Case@Example.com");
      expect(user.email).toBe("mixed.case@example.com");
      expect((await store.findUserByEmail("MIXED.case@example.com"))?.id).toBe(user.id);
      await expect(newUser("mixed.case@example.com")).rejects.toMatchObject({ code: "CONFLICT" });
      expect(await store.findUserById(randomUUID())).toBeUndefined();
    });

    it("creates a site with dev, test and live environments in that order", async () => {
      const org = await newOrg();
      const site = await newSite({ orgId: org.id });
      expect((await store.listEnvironments(site.id)).map((e) => e.name)).toEqual(["dev", "test", "live"]);
      await store.insertEnvironment(site.id, "feature");
      await store.insertEnvironment(site.id, "alpha");
      expect((await store.listEnvironments(site.id)).map((e) => [e.name, e.kind])).toEqual([
        ["dev", "standard"],
        ["test", "standard"],
        ["live", "standard"],
        ["alpha", "multidev"],
        ["feature", "multidev"],
      ]);
      await expect(store.insertEnvironment(site.id, "alpha")).rejects.toMatchObject({ code: "CONFLICT" });
    });

    it("refuses a second site or org with the same name", async () => {
      const org = await newOrg();
      await expect(newOrg(org.name)).rejects.toMatchObject({ code: "CONFLICT" });
      const site = await newSite({ orgId: org.id });
      await expect(newSite({ orgId: org.id }, site.name)).rejects.toMatchObject({ code: "CONFLICT" });
    });

    it("keeps secret names unique per owner and case-sensitive", async () => {
      const org = await newOrg();
      const site = await newSite({ orgId: org.id });
      await newSecret({ kind: "site", id: site.id }, "API_KEY");
      await newSecret({ kind: "site", id: site.id }, "api_key");
      await newSecret({ kind: "org", id: org.id }, "API_KEY");
      await expect(newSecret({ kind: "site", id: site.id }, "API_KEY")).rejects.toMatchObject({
        code: "CONFLICT",
      });
      expect((await store.listSecrets({ kind: "site", id: site.id })).map((s) => s.name)).toEqual([
        "API_KEY",
        "api_key",
      ]);
    });

    it("stores base values and overrides and reports which environments override", async () => {
      const org = await newOrg();
      const site = await newSite({ orgId: org.id });
      const secret = await newSecret({ kind: "site", id: site.id }, "TOKEN", "b");
      await store.putValue(secret.id, "live", Buffer.from("l"));
      await store.putValue(secret.id, "dev", Buffer.from("d"));
      await store.putValue(secret.id, "live", Buffer.from("l2"));
      const found = await store.findSecret({ kind: "site", id: site.id }, "TOKEN");
      expect(found?.overrideEnvs).toEqual(["dev", "live"]);
      expect(found?.scopes).toEqual(["web", "user"]);
      const [listed] = await store.listSecrets({ kind: "site", id: site.id });
      expect(listed?.base.toString()).toBe("b");
      expect([...(listed?.overrides ?? [])].map(([env, v]) => [env, v.toString()])).toEqual([
        ["dev", "d"],
        ["live", "l2"],
      ]);
      expect(await store.deleteOverride(secret.id, "live")).toBe(true);
      expect(await store.deleteOverride(secret.id, "live")).toBe(false);
      expect(await store.deleteSecret(secret.id)).toBe(true);
      expect(await store.findSecret({ kind: "site", id: site.id }, "TOKEN")).toBeUndefined();
      expect(await store.listSecrets({ kind: "site", id: site.id })).toEqual([]);
    });

    it("loads a site's secrets with its owner org's and never a supporting org's", async () => {
      const owner = await newOrg();
      const supporting = await newOrg();
      const site = await newSite({ orgId: owner.id });
      await store.addSupportingOrg(site.id, supporting.id);
      await newSecret({ kind: "site", id: site.id }, "SITE_ONLY");
      await newSecret({ kind: "org", id: owner.id }, "FROM_OWNER");
      await newSecret({ kind: "org", id: supporting.id }, "FROM_SUPPORTING");
      const loaded = await store.loadSiteSecrets(site.id);
      expect(loaded?.ownerOrg?.id).toBe(owner.id);
      expect(loaded?.siteSecrets.map((s) => s.name)).toEqual(["SITE_ONLY"]);
      expect(loaded?.orgSecrets.map((s) => s.name)).toEqual(["FROM_OWNER"]);
      expect(await store.loadSiteSecrets(randomUUID())).toBeUndefined();
    });

    it("loads no org secrets for a personal site", async () => {
      const person = await newUser();
      const site = await newSite({ userId: person.id });
      await newSecret({ kind: "site", id: site.id }, "MINE");
      const loaded = await store.loadSiteSecrets(site.id);
      expect(loaded?.ownerOrg).toBeUndefined();
      expect(loaded?.orgSecrets).toEqual([]);
    });

    it("transfers a site: the new owner org stops supporting it and resolution reads the new owner", async () => {
      const first = await newOrg();
      const second = await newOrg();
      const site = await newSite({ orgId: first.id });
      await store.addSupportingOrg(site.id, second.id);
      await newSecret({ kind: "org", id: second.id }, "SECOND");
      expect(await store.updateSiteOwner(site.id, { orgId: second.id })).toBe(true);
      expect(await store.listSupportingOrgs(site.id)).toEqual([]);
      expect((await store.loadSiteSecrets(site.id))?.orgSecrets.map((s) => s.name)).toEqual(["SECOND"]);
      const person = await newUser();
      await store.updateSiteOwner(site.id, { userId: person.id });
      const site2 = await store.findSiteById(site.id);
      expect([site2?.ownerOrgId, site2?.ownerUserId]).toEqual([null, person.id]);
      expect((await store.loadSiteSecrets(site.id))?.orgSecrets).toEqual([]);
    });

    it("refuses to delete an org that owns a site, and otherwise takes its secrets, members and links", async () => {
      const org = await newOrg();
      const other = await newOrg();
      const site = await newSite({ orgId: org.id });
      await expect(store.deleteOrg(org.id)).rejects.toMatchObject({ code: "CONFLICT" });
      expect(await store.countSitesOwnedByOrg(org.id)).toBe(1);

      const member = await newUser();
      await store.upsertMembership(other.id, member.id, "member");
      await store.addSupportingOrg(site.id, other.id);
      const secret = await newSecret({ kind: "org", id: other.id }, "GONE");
      expect(await store.deleteOrg(other.id)).toBe(true);
      expect(await store.findOrgById(other.id)).toBeUndefined();
      expect(await store.findMembership(other.id, member.id)).toBeUndefined();
      expect(await store.listSupportingOrgs(site.id)).toEqual([]);
      expect(await store.findSecret({ kind: "org", id: other.id }, secret.name)).toBeUndefined();
      expect(await store.deleteOrg(other.id)).toBe(false);
    });

    it("deletes a site with its environments, secrets, tokens and data key", async () => {
      const org = await newOrg();
      const site = await newSite({ orgId: org.id });
      const secret = await newSecret({ kind: "site", id: site.id }, "X");
      const live = await store.findEnvironment(site.id, "live");
      const token = await store.insertToken({
        id: randomUUID(),
        kind: "runtime",
        hash: randomUUID(),
        userId: null,
        environmentId: live?.id ?? null,
        createdBy: null,
        expiresAt: null,
      });
      expect(await store.deleteSite(site.id)).toBe(true);
      expect(await store.findSiteById(site.id)).toBeUndefined();
      expect(await store.listEnvironments(site.id)).toEqual([]);
      expect(await store.findSecret({ kind: "site", id: site.id }, secret.name)).toBeUndefined();
      expect(await store.findTokenById(token.id)).toBeUndefined();
      expect(await store.findDataKey({ kind: "site", id: site.id })).toBeUndefined();
      expect(await store.deleteSite(site.id)).toBe(false);
    });

    it("deletes a multidev with the site's overrides and tokens for it, keeping org overrides", async () => {
      const org = await newOrg();
      const site = await newSite({ orgId: org.id });
      const env = await store.insertEnvironment(site.id, "feature");
      const siteSecret = await newSecret({ kind: "site", id: site.id }, "S");
      const orgSecret = await newSecret({ kind: "org", id: org.id }, "O");
      await store.putValue(siteSecret.id, "feature", Buffer.from("sf"));
      await store.putValue(siteSecret.id, "live", Buffer.from("sl"));
      await store.putValue(orgSecret.id, "feature", Buffer.from("of"));
      const token = await store.insertToken({
        id: randomUUID(),
        kind: "build",
        hash: randomUUID(),
        userId: null,
        environmentId: env.id,
        createdBy: null,
        expiresAt: null,
      });
      expect(await store.deleteEnvironment(site.id, "feature")).toBe(true);
      expect((await store.findSecret({ kind: "site", id: site.id }, "S"))?.overrideEnvs).toEqual(["live"]);
      expect((await store.findSecret({ kind: "org", id: org.id }, "O"))?.overrideEnvs).toEqual(["feature"]);
      expect(await store.findTokenById(token.id)).toBeUndefined();
      expect(await store.deleteEnvironment(site.id, "feature")).toBe(false);
    });

    it("lists sites visible to a user: personal, team, owner-org and supporting-org membership only", async () => {
      const user = await newUser();
      const stranger = await newUser();
      const ownerOrg = await newOrg();
      const supportingOrg = await newOrg();
      const otherOrg = await newOrg();
      await store.upsertMembership(ownerOrg.id, user.id, "member");
      await store.upsertMembership(supportingOrg.id, user.id, "admin");
      const personal = await newSite({ userId: user.id });
      const viaOwner = await newSite({ orgId: ownerOrg.id });
      const viaSupport = await newSite({ orgId: otherOrg.id });
      await store.addSupportingOrg(viaSupport.id, supportingOrg.id);
      const viaTeam = await newSite({ orgId: otherOrg.id });
      await store.addTeamMember(viaTeam.id, user.id);
      const hidden = await newSite({ orgId: otherOrg.id });
      const visible = (await store.listSites({ visibleToUserId: user.id, limit: 1000 })).map((s) => s.id);
      expect(new Set(visible)).toEqual(new Set([personal.id, viaOwner.id, viaSupport.id, viaTeam.id]));
      expect(visible).not.toContain(hidden.id);
      expect(await store.listSites({ visibleToUserId: stranger.id })).toEqual([]);
      expect((await store.listSites({ orgId: supportingOrg.id })).map((s) => s.id)).toEqual([viaSupport.id]);
    });

    it("pages lists by name with a cursor", async () => {
      const prefix = unique("page");
      const org = await newOrg();
      for (const n of ["c", "a", "b"]) await newSite({ orgId: org.id }, `${prefix}-${n}`);
      const first = await store.listSites({ orgId: org.id, limit: 2 });
      expect(first.map((s) => s.name)).toEqual([`${prefix}-a`, `${prefix}-b`]);
      const next = await store.listSites({ orgId: org.id, limit: 2, after: first[1]?.name ?? "" });
      expect(next.map((s) => s.name)).toEqual([`${prefix}-c`]);
    });

    it("finds tokens by hash, lists them by site, revokes once and records last use", async () => {
      const org = await newOrg();
      const site = await newSite({ orgId: org.id });
      const dev = await store.findEnvironment(site.id, "dev");
      const hash = randomUUID();
      const token = await store.insertToken({
        id: randomUUID(),
        kind: "runtime",
        hash,
        userId: null,
        environmentId: dev?.id ?? null,
        createdBy: null,
        expiresAt: null,
      });
      const found = await store.findTokenByHash(hash);
      expect([found?.id, found?.siteId, found?.environmentName]).toEqual([token.id, site.id, "dev"]);
      expect((await store.listTokens({ siteId: site.id })).map((t) => t.id)).toEqual([token.id]);
      await store.touchTokens([{ id: token.id, at: "2026-01-02T00:00:00.000Z" }]);
      await store.touchTokens([{ id: token.id, at: "2026-01-01T00:00:00.000Z" }]);
      expect((await store.findTokenById(token.id))?.lastUsedAt).toBe("2026-01-02T00:00:00.000Z");
      expect(await store.revokeToken(token.id, "2026-01-03T00:00:00.000Z")).toBe(true);
      expect(await store.revokeToken(token.id, "2026-01-04T00:00:00.000Z")).toBe(false);
      expect((await store.findTokenByHash(hash))?.revokedAt).toBe("2026-01-03T00:00:00.000Z");
    });

    it("rewraps data keys only when they still hold the expected bytes", async () => {
      const org = await newOrg();
      const owner: OwnerRef = { kind: "org", id: org.id };
      const before = await store.findDataKey(owner);
      expect(before?.masterKeyId).toBe("mk-1");
      const pending = await store.listDataKeysNotWrappedBy("mk-2", 100_000);
      expect(pending.some((r) => r.owner.id === org.id)).toBe(true);
      expect(await store.replaceWrappedDataKey(owner, Buffer.from("stale"), Buffer.from("new"), "mk-2")).toBe(
        false,
      );
      expect(
        await store.replaceWrappedDataKey(
          owner,
          before?.wrapped ?? Buffer.alloc(0),
          Buffer.from("new"),
          "mk-2",
        ),
      ).toBe(true);
      expect(await store.findDataKey(owner)).toEqual({ wrapped: Buffer.from("new"), masterKeyId: "mk-2" });
      expect(await store.countDataKeys()).toBeGreaterThan(0);
    });

    it("rolls a transaction back whole, audit event included, when it throws", async () => {
      const org = await newOrg();
      const before = (await store.readAuditChain(0, 100_000)).length;
      await expect(
        store.transaction(async (tx) => {
          await tx.lockOwner({ kind: "org", id: org.id });
          await tx.insertSecret({
            id: randomUUID(),
            owner: { kind: "org", id: org.id },
            name: "ROLLED",
            type: "env",
            scopes: ["ic"],
          });
          await tx.appendAudit({ actor: "system", action: "test.rollback", target: "x", outcome: "success" });
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect(await store.findSecret({ kind: "org", id: org.id }, "ROLLED")).toBeUndefined();
      expect((await store.readAuditChain(0, 100_000)).length).toBe(before);
    });

    it("reports a missing owner from lockOwner", async () => {
      expect(await store.transaction((tx) => tx.lockOwner({ kind: "site", id: randomUUID() }))).toBe(false);
    });

    it("serializes concurrent read-then-write transactions on one owner", async () => {
      const org = await newOrg();
      const owner: OwnerRef = { kind: "org", id: org.id };
      const counter = await newSecret(owner, "COUNTER", "0");
      const writers = 12;
      await Promise.all(
        Array.from({ length: writers }, () =>
          store.transaction(async (tx) => {
            await tx.lockOwner(owner);
            const [current] = await tx.listSecrets(owner);
            const next = Number(current?.base.toString() ?? "0") + 1;
            await new Promise((resolve) => setTimeout(resolve, 2));
            await tx.putValue(counter.id, null, Buffer.from(String(next)));
          }),
        ),
      );
      const [final] = await store.listSecrets(owner);
      expect(final?.base.toString()).toBe(String(writers));
    });

    it("chains audit events with hashes, gapless under concurrent appends, and records the head", async () => {
      const org = await newOrg();
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.transaction((tx) =>
            tx.appendAudit({
              actor: "system",
              action: "test.append",
              target: `n:${i}`,
              orgId: org.id,
              environment: i % 2 ? "live" : null,
              outcome: "success",
            }),
          ),
        ),
      );
      const chain = await store.readAuditChain(0, 100_000);
      let prev = GENESIS_HASH;
      chain.forEach((event, index) => {
        expect(event.seq).toBe(index + 1);
        expect(event.prevHash).toBe(prev);
        const { hash, ...rest } = event;
        expect(hash).toBe(auditEventHash(rest));
        prev = hash;
      });
      const last = chain.at(-1);
      expect(await store.getMeta("audit.head")).toBe(`${last?.seq}:${last?.hash}`);
      const forOrg = await store.listAudit({ orgId: org.id, limit: 5 });
      expect(forOrg).toHaveLength(5);
      expect(forOrg[0]?.seq).toBeGreaterThan(forOrg[1]?.seq ?? Number.POSITIVE_INFINITY);
      expect(await store.listAudit({ orgId: randomUUID() })).toEqual([]);
    });

    it("publishes recorded changes to listeners after commit, and never after a rollback", async () => {
      const seen: string[] = [];
      const unsubscribe = store.onChange((change) => seen.push(`${change.kind}:${change.id}`));
      await store.transaction(async (tx) => {
        await tx.recordChange({ kind: "site", id: "committed" });
        expect(seen).toEqual([]);
      });
      expect(seen).toEqual(["site:committed"]);
      await store
        .transaction(async (tx) => {
          await tx.recordChange({ kind: "org", id: "rolled-back" });
          throw new Error("abort");
        })
        .catch(() => {});
      unsubscribe();
      await store.transaction((tx) => tx.recordChange({ kind: "token", id: "after-unsubscribe" }));
      expect(seen).toEqual(["site:committed"]);
    });

    it("answers ping while open", async () => {
      expect(await store.ping()).toBe(true);
    });

    it("throws CONFLICT, not a driver error, for a constraint broken inside a transaction", async () => {
      const org = await newOrg();
      const error = await store
        .transaction(async (tx) => {
          await tx.insertOrg({ id: randomUUID(), name: org.name, dataKey: key("dup") });
        })
        .catch((e: unknown) => e);
      expect(isLockboxError(error, "CONFLICT")).toBe(true);
    });
  });
}
