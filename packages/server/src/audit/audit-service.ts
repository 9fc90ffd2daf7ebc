import { type AuditQuery, LockboxError, quoteIdentifier } from "@lockbox/core";
import type { AccessPolicy } from "../directory/access-policy.js";
import type { Caller } from "../directory/caller.js";
import type { AuditReader } from "./audit-store.js";
import { type AuditVerification, verifyAuditChain } from "./audit-verify.js";
import type { AuditEvent, AuditFilter } from "./records.js";

/**
 * Reading the audit log (SPEC §5): an org's events for its admins, a site's for everyone who can
 * see the site, the whole log and its verification for the platform admin.
 */
export class AuditService {
  constructor(
    private readonly store: AuditReader,
    private readonly policy: AccessPolicy,
  ) {}

  /**
   * `audit:list`: events newest first.
   * @throws {LockboxError} `ORG_NOT_FOUND`/`SITE_NOT_FOUND`; `FORBIDDEN` for an org's log without
   * being its admin, or the whole log without being the platform admin; `VALIDATION_FAILED` for an
   * unreadable `since`.
   */
  async list(caller: Caller, query: AuditQuery): Promise<AuditEvent[]> {
    const filter: { -readonly [K in keyof AuditFilter]: AuditFilter[K] } = {};
    if (query.org !== undefined) {
      const org = await this.policy.administeredOrg(
        caller,
        query.org,
        (o) => `Only an admin of organization ${quoteIdentifier(o.name)} can read its audit log.`,
      );
      filter.orgId = org.id;
    }
    if (query.site !== undefined) filter.siteId = (await this.policy.site(caller, query.site)).site.id;
    if (filter.orgId === undefined && filter.siteId === undefined) {
      this.policy.requirePlatformAdmin(
        caller,
        "Only the platform admin can read the whole audit log: filter by org or site.",
      );
    }
    if (query.since !== undefined) {
      const since = Date.parse(query.since);
      if (Number.isNaN(since)) {
        throw new LockboxError(
          "VALIDATION_FAILED",
          `Invalid 'since' time ${quoteIdentifier(query.since)}: use an ISO date such as 2026-11-01.`,
        );
      }
      filter.since = new Date(since).toISOString();
    }
    if (query.limit !== undefined) filter.limit = query.limit;
    if (query.before !== undefined) filter.beforeSeq = query.before;
    return this.store.listAudit(filter);
  }

  /** `audit:verify` (platform admin): walks the hash chain and names the first altered or missing event. */
  async verify(caller: Caller): Promise<AuditVerification> {
    this.policy.requirePlatformAdmin(caller, "Only the platform admin can verify the audit log.");
    return verifyAuditChain(this.store);
  }
}
