import { randomUUID } from "node:crypto";
import { type Insertable, type Selectable, sql } from "kysely";
import type { Database } from "../db/database.js";
import { type KyselyContext, limitOf, now } from "../db/lockbox-db.js";
import { auditEventHash, GENESIS_HASH } from "./audit-hash.js";
import type { AuditStore } from "./audit-store.js";
import type { AuditEvent, AuditEventInput, AuditFilter, AuditOutcome } from "./records.js";

/** The `meta` key of the chain head recorded with every append. */
const AUDIT_HEAD_META_KEY = "audit.head";

/** Rows per INSERT statement on SQLite (13 parameters each: well under its limit). */
const INSERT_ROWS = 500;

/** {@link AuditStore} over Kysely. */
export class KyselyAuditStore implements AuditStore {
  constructor(private readonly context: KyselyContext) {}

  async appendAudit(input: AuditEventInput): Promise<AuditEvent> {
    const [event] = await this.appendAuditEvents([input]);
    return event as AuditEvent;
  }

  async appendAuditEvents(inputs: readonly AuditEventInput[]): Promise<AuditEvent[]> {
    if (inputs.length === 0) return [];
    const { db, driver } = this.context;
    await driver.lockAudit(db);
    const last = await db
      .selectFrom("audit_events")
      .select(["seq", "hash"])
      .orderBy("seq", "desc")
      .limit(1)
      .executeTakeFirst();
    let seq = last ? Number(last.seq) : 0;
    let prevHash = last?.hash ?? GENESIS_HASH;
    const events = inputs.map((input): AuditEvent => {
      const unhashed = {
        seq: ++seq,
        id: randomUUID(),
        at: input.at ?? now(),
        actor: input.actor,
        action: input.action,
        target: input.target,
        environment: input.environment ?? null,
        orgId: input.orgId ?? null,
        siteId: input.siteId ?? null,
        outcome: input.outcome,
        requestId: input.requestId ?? null,
        prevHash,
      };
      prevHash = auditEventHash(unhashed);
      return { ...unhashed, hash: prevHash };
    });
    await this.#insert(events);
    const head = events[events.length - 1] as AuditEvent;
    const headValue = `${head.seq}:${head.hash}`;
    await db
      .insertInto("meta")
      .values({ key: AUDIT_HEAD_META_KEY, value: headValue })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value: headValue }))
      .execute();
    return events;
  }

  /**
   * Inserts `events`. On PostgreSQL, one statement with one array parameter per column: after an
   * org-wide change, first deliveries come in batches of hundreds of rows, which as one parameter
   * per value would be statements of thousands of parameters to build, send and parse.
   */
  async #insert(events: readonly AuditEvent[]): Promise<void> {
    const { db, driver } = this.context;
    if (driver.dialect === "postgres") {
      const column = <K extends keyof AuditEvent>(key: K) => events.map((event) => event[key]);
      await sql`insert into audit_events
          (seq, id, at, actor, action, target, environment, org_id, site_id, outcome, request_id, prev_hash, hash)
        select * from unnest(
          ${column("seq")}::bigint[], ${column("id")}::text[], ${column("at")}::text[],
          ${column("actor")}::text[], ${column("action")}::text[], ${column("target")}::text[],
          ${column("environment")}::text[], ${column("orgId")}::text[], ${column("siteId")}::text[],
          ${column("outcome")}::text[], ${column("requestId")}::text[], ${column("prevHash")}::text[],
          ${column("hash")}::text[])`.execute(db);
      return;
    }
    for (let i = 0; i < events.length; i += INSERT_ROWS) {
      await db
        .insertInto("audit_events")
        .values(events.slice(i, i + INSERT_ROWS).map(toRow))
        .execute();
    }
  }

  async listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    let q = this.context.db
      .selectFrom("audit_events")
      .selectAll()
      .orderBy("seq", "desc")
      .limit(limitOf(filter));
    if (filter.orgId !== undefined) q = q.where("org_id", "=", filter.orgId);
    if (filter.siteId !== undefined) q = q.where("site_id", "=", filter.siteId);
    if (filter.since !== undefined) q = q.where("at", ">=", filter.since);
    if (filter.beforeSeq !== undefined) q = q.where("seq", "<", filter.beforeSeq);
    return (await q.execute()).map(toAudit);
  }

  async readAuditChain(afterSeq: number, limit: number): Promise<AuditEvent[]> {
    const rows = await this.context.db
      .selectFrom("audit_events")
      .selectAll()
      .where("seq", ">", afterSeq)
      .orderBy("seq")
      .limit(limit)
      .execute();
    return rows.map(toAudit);
  }

  async readAuditHead(): Promise<string | undefined> {
    const row = await this.context.db
      .selectFrom("meta")
      .select("value")
      .where("key", "=", AUDIT_HEAD_META_KEY)
      .executeTakeFirst();
    return row?.value;
  }
}

function toRow(event: AuditEvent): Insertable<Database["audit_events"]> {
  return {
    seq: event.seq,
    id: event.id,
    at: event.at,
    actor: event.actor,
    action: event.action,
    target: event.target,
    environment: event.environment,
    org_id: event.orgId,
    site_id: event.siteId,
    outcome: event.outcome,
    request_id: event.requestId,
    prev_hash: event.prevHash,
    hash: event.hash,
  };
}

function toAudit(r: Selectable<Database["audit_events"]>): AuditEvent {
  return {
    seq: Number(r.seq),
    id: r.id,
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    environment: r.environment,
    orgId: r.org_id,
    siteId: r.site_id,
    outcome: r.outcome as AuditOutcome,
    requestId: r.request_id,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
