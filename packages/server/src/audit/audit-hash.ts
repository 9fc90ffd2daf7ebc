import { createHash } from "node:crypto";
import type { AuditEvent } from "./records.js";

/** The `prevHash` of the first event of a chain. */
export const GENESIS_HASH = "0".repeat(64);

/** The fields of an event that its hash covers: everything but the hash itself. */
export type HashedAuditFields = Omit<AuditEvent, "hash">;

/**
 * The SHA-256 (hex) of an event's canonical encoding: a JSON array of its fields in a fixed order,
 * so that the hash does not depend on property order or on the dialect that stored it. Changing any
 * field, or the event it follows, changes the hash.
 */
export function auditEventHash(event: HashedAuditFields): string {
  const canonical = JSON.stringify([
    "lockbox.audit.v1",
    event.seq,
    event.id,
    event.at,
    event.actor,
    event.action,
    event.target,
    event.environment,
    event.orgId,
    event.siteId,
    event.outcome,
    event.requestId,
    event.prevHash,
  ]);
  return createHash("sha256").update(canonical).digest("hex");
}
