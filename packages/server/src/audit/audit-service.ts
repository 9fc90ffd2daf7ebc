import { type AuditQuery, isUuid, LockboxError, quoteIdentifier } from "@lockbox/core";
import type { AccessPolicy } from "../directory/access-policy.js";
import type { Caller } from "../directory/caller.js";
import type { UserStore } from "../directory/directory-store.js";
import type { AuditReader } from "./audit-store.js";
import { type AuditVerification, verifyAuditChain } from "./audit-verify.js";
import type { AuditEvent, AuditFilter, ListedAuditEvent } from "./records.js";

/**
 * Reading the audit log (SPEC §5): an org's events for its admins, a site's for everyone who can
 * see the site, the whole log and its verification for the platform admin.
 */
export class AuditService {
  constructor(
    private readonly store: AuditReader,
    private readonly policy: AccessPolicy,
    private readonly users: Pick<UserStore, "findUserById">,
  ) {}

  /**
   * `audit:list`: events newest first, each with its actor's email when the actor is a known user.
   * @throws {LockboxError} `ORG_NOT_FOUND`/`SITE_NOT_FOUND`; `FORBIDDEN` for an org's log without
   * being its admin, or the whole log without being the platform admin; `VALIDATION_FAILED` for an
   * unreadable `since`.
   */
  async list(caller: Caller, query: AuditQuery): Promise<ListedAuditEvent[]> {
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
    return this.#withActorEmails(await this.store.listAudit(filter));
  }

  /** Looks each distinct user actor of `events` up once; the chain itself keeps only the UUID. */
  async #withActorEmails(events: readonly AuditEvent[]): Promise<ListedAuditEvent[]> {
    const ids = new Set(events.map((event) => userIdOf(event.actor)).filter((id) => id !== undefined));
    const emails = new Map<string, string>();
    for (const id of ids) {
      const user = await this.users.findUserById(id);
      if (user !== undefined) emails.set(id, user.email);
    }
    return events.map((event) => {
      const id = userIdOf(event.actor);
      return { ...event, actorEmail: (id === undefined ? undefined : emails.get(id)) ?? null };
    });
  }

  /** `audit:verify` (platform admin): walks the hash chain and names the first altered or missing event. */
  async verify(caller: Caller): Promise<AuditVerification> {
    this.policy.requirePlatformAdmin(caller, "Only the platform admin can verify the audit log.");
    return verifyAuditChain(this.store);
  }
}

/** The UUID in a `user:<uuid>` actor; `undefined` for a token, `system` or anything else. */
function userIdOf(actor: string): string | undefined {
  const id = actor.startsWith("user:") ? actor.slice("user:".length) : undefined;
  return id !== undefined && isUuid(id) ? id.toLowerCase() : undefined;
}
