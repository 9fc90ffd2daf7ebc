/** Audit events (SPEC §5), as the chain stores them. */

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
/** An event as `audit:list` answers it: with the email of its actor when that is a known user. */
export interface ListedAuditEvent extends AuditEvent {
  /** The email of the user in `actor` (`user:<uuid>`); `null` for a token, `system` or an unknown user. */
  readonly actorEmail: string | null;
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
