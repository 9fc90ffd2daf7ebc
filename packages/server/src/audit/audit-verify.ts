import { auditEventHash, GENESIS_HASH } from "./audit-hash.js";
import type { AuditReader } from "./audit-store.js";
import type { AuditEvent } from "./records.js";

/** The outcome of {@link verifyAuditChain}. */
export type AuditVerification =
  | { readonly ok: true; readonly checked: number }
  | {
      readonly ok: false;
      readonly checked: number;
      /** The sequence number of the first event that is altered or missing. */
      readonly seq: number;
      readonly problem: "altered" | "missing" | "truncated";
      /** A sentence for people, naming the event. */
      readonly message: string;
    };

/**
 * Walks the whole audit chain in order and names the first event that was altered (its hash no
 * longer matches its fields, or the next event no longer links to it) or is missing (a gap in the
 * sequence, or events removed from the end, detected against the head recorded at every append).
 * Reads in batches of `batchSize`, so memory stays flat however long the chain is.
 */
export async function verifyAuditChain(
  store: Pick<AuditReader, "readAuditChain" | "readAuditHead">,
  options: { batchSize?: number } = {},
): Promise<AuditVerification> {
  const batchSize = options.batchSize ?? 1000;
  let previous: AuditEvent | undefined;
  let checked = 0;
  for (;;) {
    const batch = await store.readAuditChain(previous?.seq ?? 0, batchSize);
    for (const event of batch) {
      const expectedSeq = (previous?.seq ?? 0) + 1;
      if (event.seq !== expectedSeq) {
        return fail(
          checked,
          expectedSeq,
          "missing",
          `Audit event #${expectedSeq} is missing: the chain jumps to #${event.seq}.`,
        );
      }
      const { hash, ...fields } = event;
      if (auditEventHash(fields) !== hash) {
        return fail(
          checked,
          event.seq,
          "altered",
          `Audit event #${event.seq} was altered: its hash does not match its contents.`,
        );
      }
      if (event.prevHash !== (previous?.hash ?? GENESIS_HASH)) {
        const seq = previous?.seq ?? event.seq;
        return fail(
          checked,
          seq,
          "altered",
          `Audit event #${seq} was altered: event #${event.seq} no longer links to it.`,
        );
      }
      previous = event;
      checked++;
    }
    if (batch.length < batchSize) break;
  }
  const head = await store.readAuditHead();
  if (head !== undefined) {
    const [seqText, hash] = head.split(":");
    const headSeq = Number(seqText);
    const lastSeq = previous?.seq ?? 0;
    if (headSeq > lastSeq) {
      return fail(
        checked,
        lastSeq + 1,
        "truncated",
        `Audit events #${lastSeq + 1} to #${headSeq} are missing from the end of the chain.`,
      );
    }
    if (headSeq === lastSeq && previous !== undefined && hash !== previous.hash) {
      return fail(
        checked,
        lastSeq,
        "altered",
        `Audit event #${lastSeq} was altered: it is not the recorded head of the chain.`,
      );
    }
  }
  return { ok: true, checked };
}

function fail(
  checked: number,
  seq: number,
  problem: "altered" | "missing" | "truncated",
  message: string,
): AuditVerification {
  return { ok: false, checked, seq, problem, message };
}
