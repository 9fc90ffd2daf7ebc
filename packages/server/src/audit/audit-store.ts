/**
 * The audit log's storage port (SPEC §5): one hash chain of events, appended inside the
 * transaction of the write it records. Implemented over Kysely in `kysely-audit-store.ts`.
 */
export interface AuditStore {
  /**
   * Appends one event to the audit chain. Appends are serialized across every process sharing the
   * database (PostgreSQL: a transaction-scoped advisory lock taken here, so call it last in a
   * transaction), each event carrying the hash of the previous one, and the chain's head is
   * recorded with it. Inside a transaction, the event commits or rolls back with it, so a write
   * and its audit event are atomic.
   */
  appendAudit(event: AuditEventInput): Promise<AuditEvent>;
  /** Audit events, newest first, filtered. */
  listAudit(filter: AuditFilter): Promise<AuditEvent[]>;
  /** Audit events in chain order with `seq > afterSeq`, at most `limit`, for verification. */
  readAuditChain(afterSeq: number, limit: number): Promise<AuditEvent[]>;
  /** The head recorded with the last append, `"<seq>:<hash>"`, so truncation is visible; undefined before the first. */
  readAuditHead(): Promise<string | undefined>;
}

export type AuditOutcome = "success" | "denied" | "failure";
export interface AuditEventInput {
  /** Who: `user:<uuid>`, `token:<id>` or `system`. */
  readonly actor: string;
  /** What, dotted: `secret.set`, `site.delete`, `runtime.deliver` … */
  readonly action: string;
  /** On what, by UUID and name: `site:<uuid>:my-site/secret:API_KEY`. Never a value. */
  readonly target: string;
  readonly environment?: string | null;
  /** The org and site the event concerns, for filtering (`audit:list --org/--site`). */
  readonly orgId?: string | null;
  readonly siteId?: string | null;
  readonly outcome: AuditOutcome;
  readonly requestId?: string | null;
  /** Defaults to now. */
  readonly at?: string;
}
export interface AuditEvent {
  readonly seq: number;
  readonly id: string;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly environment: string | null;
  readonly orgId: string | null;
  readonly siteId: string | null;
  readonly outcome: AuditOutcome;
  readonly requestId: string | null;
  readonly prevHash: string;
  readonly hash: string;
}
export interface AuditFilter {
  /** Events concerning this org or site. */
  readonly orgId?: string;
  readonly siteId?: string;
  /** ISO time; events at or after it. */
  readonly since?: string;
  /** Events with `seq` below this (paging backwards). */
  readonly beforeSeq?: number;
  readonly limit?: number;
}
