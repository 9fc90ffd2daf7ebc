import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { LockboxDb } from "../db/lockbox-db.js";
import type { Caller } from "../directory/caller.js";
import type { OrgRow, SiteRow } from "../directory/records.js";
import type { Lockbox } from "../lockbox.js";
import { kyselyStores, type LockboxStores } from "../stores.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { createTestLockbox, errorOf, testCaller } from "../testing/test-lockbox.js";
import { AuditBatchWriter } from "./audit-batch-writer.js";
import { verifyAuditChain } from "./audit-verify.js";
import type { AuditEventInput } from "./records.js";

describe.each(await contractDatabases())("audit chain ($name)", ({ create }) => {
  let database: TestDatabase;
  let db: LockboxDb;
  let stores: LockboxStores;
  beforeEach(async () => {
    database = await create();
    db = await database.open();
    stores = kyselyStores(db);
  });
  afterEach(async () => {
    await db.close();
    await database.drop();
  });

  const append = (count: number) =>
    stores.transaction(async (tx) => {
      for (let i = 0; i < count; i++) {
        await tx.audit.appendAudit({
          actor: "user:1",
          action: "secret.set",
          target: `secret:${i}`,
          outcome: "success",
        });
      }
    });

  it("verify() accepts an untouched chain and an empty one", async () => {
    expect(await verifyAuditChain(stores.audit)).toEqual({ ok: true, checked: 0 });
    await append(25);
    expect(await verifyAuditChain(stores.audit, { batchSize: 7 })).toEqual({ ok: true, checked: 25 });
  });

  it("verify() names an event whose fields were altered", async () => {
    await append(10);
    await db.kysely
      .updateTable("audit_events")
      .set({ action: "secret.delete" })
      .where("seq", "=", 4)
      .execute();
    expect(await verifyAuditChain(stores.audit, { batchSize: 3 })).toMatchObject({
      ok: false,
      seq: 4,
      problem: "altered",
    });
  });

  it("verify() names an altered event even when its hash was recomputed", async () => {
    await append(10);
    await db.kysely
      .updateTable("audit_events")
      .set({ hash: "f".repeat(64) })
      .where("seq", "=", 6)
      .execute();
    expect(await verifyAuditChain(stores.audit)).toMatchObject({ ok: false, seq: 6, problem: "altered" });
  });

  it("verify() names a deleted event in the middle of the chain", async () => {
    await append(10);
    await db.kysely.deleteFrom("audit_events").where("seq", "=", 5).execute();
    const result = await verifyAuditChain(stores.audit);
    expect(result).toMatchObject({ ok: false, seq: 5, problem: "missing" });
    expect(result.ok ? "" : result.message).toBe("Audit event #5 is missing: the chain jumps to #6.");
  });

  it("verify() notices events removed from the end of the chain", async () => {
    await append(10);
    await db.kysely.deleteFrom("audit_events").where("seq", ">", 8).execute();
    expect(await verifyAuditChain(stores.audit)).toMatchObject({ ok: false, seq: 9, problem: "truncated" });
  });

  it("the batch writer appends every recorded event in order, off the caller's path", async () => {
    const writer = new AuditBatchWriter(stores, { maxBatch: 50, flushIntervalMs: 10 });
    for (let i = 0; i < 120; i++) {
      writer.record({ actor: "token:t", action: "runtime.deliver", target: `v:${i}`, outcome: "success" });
    }
    expect(writer.pending).toBeGreaterThan(0);
    await writer.close();
    const chain = await stores.audit.readAuditChain(0, 1000);
    expect(chain.map((e) => e.target)).toEqual(Array.from({ length: 120 }, (_, i) => `v:${i}`));
    expect(await verifyAuditChain(stores.audit)).toEqual({ ok: true, checked: 120 });
  });

  it("the batch writer keeps events and reports the error when the store fails", async () => {
    const errors: unknown[] = [];
    const writer = new AuditBatchWriter(stores, { onError: (e) => errors.push(e) });
    writer.record({ actor: "token:t", action: "runtime.deliver", target: "v", outcome: "success" });
    await db.close();
    await writer.flush();
    expect(errors).toHaveLength(1);
    expect(writer.pending).toBe(1);
    db = await database.open();
  });
});

describe.each(await contractDatabases())("AuditService ($name)", ({ create }) => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  let platformAdmin: Caller;
  beforeAll(async () => {
    database = await create();
    lockbox = await createTestLockbox(database);
    platformAdmin = await testCaller(lockbox, { admin: true });
  });
  afterAll(async () => {
    await lockbox?.close();
    await database?.drop();
  });

  const tag = () => randomUUID().slice(0, 8);
  const notFound = (kind: "Site" | "Organization", ref: string) => ({
    code: kind === "Site" ? "SITE_NOT_FOUND" : "ORG_NOT_FOUND",
    message: `${kind} '${ref}' was not found, or you do not have access to it.`,
  });

  /**
   * An org owning a site, another org supporting it, one user of each role, and events of the org
   * alone, of the site, and of neither (another org's).
   */
  const world = async () => {
    const { stores, vault } = lockbox;
    const makeOrg = async (): Promise<OrgRow> => {
      const id = randomUUID();
      return stores.orgs.insertOrg({
        id,
        name: `org-${tag()}`,
        dataKey: await vault.newDataKey({ kind: "org", id }),
      });
    };
    const org = await makeOrg();
    const supporting = await makeOrg();
    const other = await makeOrg();
    const siteId = randomUUID();
    const site: SiteRow = await stores.sites.insertSite({
      id: siteId,
      name: `site-${tag()}`,
      owner: { orgId: org.id },
      dataKey: await vault.newDataKey({ kind: "site", id: siteId }),
    });
    await stores.sites.addSupportingOrg(site.id, supporting.id);
    const orgAdmin = await testCaller(lockbox);
    const member = await testCaller(lockbox);
    const supporter = await testCaller(lockbox);
    const teamMember = await testCaller(lockbox);
    const stranger = await testCaller(lockbox);
    await stores.orgs.upsertMembership(org.id, orgAdmin.user.id, "admin");
    await stores.orgs.upsertMembership(org.id, member.user.id, "member");
    await stores.orgs.upsertMembership(supporting.id, supporter.user.id, "admin");
    await stores.sites.addTeamMember(site.id, teamMember.user.id);
    await stores.orgs.upsertMembership(other.id, stranger.user.id, "admin");
    const event = (target: string, scope: Partial<AuditEventInput>, at?: string): AuditEventInput => ({
      actor: "user:someone",
      action: "secret.set",
      target,
      outcome: "success",
      ...scope,
      ...(at !== undefined ? { at } : {}),
    });
    await stores.transaction(async (tx) => {
      for (const input of [
        event("org-event", { orgId: org.id }, "2026-01-01T00:00:00.000Z"),
        event("site-event-1", { orgId: org.id, siteId: site.id }, "2026-02-01T00:00:00.000Z"),
        event("other-event", { orgId: other.id }, "2026-03-01T00:00:00.000Z"),
        event("site-event-2", { orgId: org.id, siteId: site.id }, "2026-04-01T00:00:00.000Z"),
      ]) {
        await tx.audit.appendAudit(input);
      }
    });
    return { org, site, other, orgAdmin, member, supporter, teamMember, stranger };
  };
  const targets = async (caller: Caller, query: Parameters<Lockbox["audit"]["list"]>[1]) =>
    (await lockbox.audit.list(caller, query)).map((e) => e.target);

  it("lists an org's events, newest first, for its admins only: 403 for a member, 404 for anyone else", async () => {
    const w = await world();
    for (const caller of [w.orgAdmin, platformAdmin]) {
      for (const ref of [w.org.name, w.org.id]) {
        expect(await targets(caller, { org: ref })).toEqual(["site-event-2", "site-event-1", "org-event"]);
      }
    }
    expect(await errorOf(lockbox.audit.list(w.member, { org: w.org.name }))).toMatchObject({
      code: "FORBIDDEN",
      message: `Only an admin of organization '${w.org.name}' can read its audit log.`,
    });
    for (const caller of [w.supporter, w.teamMember, w.stranger]) {
      for (const ref of [w.org.name, w.org.id]) {
        expect(await errorOf(lockbox.audit.list(caller, { org: ref }))).toMatchObject(
          notFound("Organization", ref),
        );
      }
    }
    expect(await errorOf(lockbox.audit.list(w.orgAdmin, { org: "no-such-org" }))).toMatchObject(
      notFound("Organization", "no-such-org"),
    );
  });

  it("lists a site's events for everyone who can see the site, and 404 for anyone else", async () => {
    const w = await world();
    for (const caller of [w.orgAdmin, w.member, w.supporter, w.teamMember, platformAdmin]) {
      for (const ref of [w.site.name, w.site.id]) {
        expect(await targets(caller, { site: ref })).toEqual(["site-event-2", "site-event-1"]);
      }
    }
    for (const ref of [w.site.name, w.site.id, "no-such-site"]) {
      expect(await errorOf(lockbox.audit.list(w.stranger, { site: ref }))).toMatchObject(
        notFound("Site", ref),
      );
    }
  });

  it("gives each event its actor's email when the actor is a known user, else null", async () => {
    const w = await world();
    const unknown = randomUUID();
    await lockbox.stores.transaction(async (tx) => {
      for (const actor of [
        `user:${w.orgAdmin.user.id}`,
        "token:t-1",
        "system",
        `user:${unknown}`,
        "user:x",
      ]) {
        await tx.audit.appendAudit({
          actor,
          action: "secret.set",
          target: actor,
          outcome: "success",
          siteId: w.site.id,
        });
      }
    });
    const events = await lockbox.audit.list(w.teamMember, { site: w.site.name, limit: 5 });
    expect(events.map((event) => [event.actor, event.actorEmail])).toEqual([
      ["user:x", null],
      [`user:${unknown}`, null],
      ["system", null],
      ["token:t-1", null],
      [`user:${w.orgAdmin.user.id}`, w.orgAdmin.user.email],
    ]);
  });

  it("keeps the whole log and its verification for the platform admin (403 for anyone else)", async () => {
    const w = await world();
    for (const caller of [w.orgAdmin, w.member, w.stranger]) {
      expect(await errorOf(lockbox.audit.list(caller, {}))).toMatchObject({
        code: "FORBIDDEN",
        message: "Only the platform admin can read the whole audit log: filter by org or site.",
      });
      expect(await errorOf(lockbox.audit.list(caller, { since: "2026-01-01" }))).toMatchObject({
        code: "FORBIDDEN",
      });
      expect(await errorOf(lockbox.audit.verify(caller))).toMatchObject({
        code: "FORBIDDEN",
        message: "Only the platform admin can verify the audit log.",
      });
    }
    expect(await targets(platformAdmin, { limit: 4 })).toEqual([
      "site-event-2",
      "other-event",
      "site-event-1",
      "org-event",
    ]);
    const chain = await lockbox.stores.audit.readAuditChain(0, 1_000_000);
    expect(await lockbox.audit.verify(platformAdmin)).toEqual({ ok: true, checked: chain.length });
    await lockbox.db.kysely
      .updateTable("audit_events")
      .set({ action: "secret.delete" })
      .where("seq", "=", chain.at(-1)?.seq ?? 0)
      .execute();
    expect(await lockbox.audit.verify(platformAdmin)).toMatchObject({ ok: false, problem: "altered" });
    await lockbox.db.kysely
      .updateTable("audit_events")
      .set({ action: "secret.set" })
      .where("seq", "=", chain.at(-1)?.seq ?? 0)
      .execute();
    expect(await lockbox.audit.verify(platformAdmin)).toEqual({ ok: true, checked: chain.length });
  });

  it("filters by since and pages with limit and before; an unreadable since is VALIDATION_FAILED", async () => {
    const w = await world();
    expect(await targets(w.orgAdmin, { org: w.org.id, since: "2026-01-15" })).toEqual([
      "site-event-2",
      "site-event-1",
    ]);
    expect(await targets(w.teamMember, { site: w.site.id, since: "2026-03-01T00:00:00Z" })).toEqual([
      "site-event-2",
    ]);
    const [newest] = await lockbox.audit.list(w.orgAdmin, { org: w.org.id, limit: 1 });
    expect(newest?.target).toBe("site-event-2");
    expect(await targets(w.orgAdmin, { org: w.org.id, before: newest?.seq, limit: 1 })).toEqual([
      "site-event-1",
    ]);
    for (const since of [
      "yesterday",
      "2026-13-45",
      "",
      "2026-02-30",
      "99999-01-01",
      "+099999-01-01",
      "2026-03-01T24:00Z",
    ]) {
      expect(await errorOf(lockbox.audit.list(w.orgAdmin, { org: w.org.id, since }))).toMatchObject({
        code: "VALIDATION_FAILED",
        message: `Invalid 'since' time '${since}': use an ISO date such as 2026-11-01.`,
      });
    }
  });
});
