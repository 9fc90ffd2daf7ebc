import type { AuditEvent, AuditEventInput, AuditFilter } from "./records.js";

/**
 * The audit log's storage port (SPEC §5): one hash chain of events, appended inside the
 * transaction of the write it records. Implemented over Kysely in `kysely-audit-store.ts`.
 */
export interface AuditStore extends AuditReader {
  /**
   * Appends one event to the audit chain. Appends are serialized across every process sharing the
   * database (PostgreSQL: a transaction-scoped advisory lock taken here, so call it last in a
   * transaction), each event carrying the hash of the previous one, and the chain's head is
   * recorded with it. Inside a transaction, the event commits or rolls back with it, so a write
   * and its audit event are atomic.
   */
  appendAudit(event: AuditEventInput): Promise<AuditEvent>;
  /**
   * Appends events in order, as {@link appendAudit} appends each, with one lock, one read of the
   * chain's end and one head for the lot: how queued delivery events are written.
   */
  appendAuditEvents(events: readonly AuditEventInput[]): Promise<AuditEvent[]>;
}

/** Reading the chain: what may run outside a transaction. */
export interface AuditReader {
  /** Audit events, newest first, filtered. */
  listAudit(filter: AuditFilter): Promise<AuditEvent[]>;
  /** Audit events in chain order with `seq > afterSeq`, at most `limit`, for verification. */
  readAuditChain(afterSeq: number, limit: number): Promise<AuditEvent[]>;
  /** The head recorded with the last append, `"<seq>:<hash>"`, so truncation is visible; undefined before the first. */
  readAuditHead(): Promise<string | undefined>;
}
