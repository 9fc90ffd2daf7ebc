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
      const since = parseIsoTime(query.since);
      if (since === undefined) {
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

const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * An ISO 8601 date (`2026-11-01`, UTC midnight) or date and time (`2026-11-01T08:30:00Z`, with an
 * offset, or the server's local time without one) as epoch ms; undefined for anything else, a date
 * the calendar lacks (`2026-02-30`, which `Date.parse` moves to March) or a year of more than four
 * digits (whose ISO text would sort before every stored time).
 */
function parseIsoTime(text: string): number | undefined {
  const match = ISO_TIME.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = match
    .slice(1, 7)
    .map((part) => Number(part ?? 0));
  const date = new Date(Date.UTC(year as number, (month as number) - 1, day as number));
  const isCalendarDate =
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === (month as number) - 1 &&
    date.getUTCDate() === day;
  if (!isCalendarDate || (hour as number) > 23 || (minute as number) > 59 || (second as number) > 59) {
    return undefined;
  }
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : at;
}
