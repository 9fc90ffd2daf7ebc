import type { AuditStore } from "../audit/audit-store.js";
import type { RequestContext } from "../audit/request-context.js";
import type { Transactional } from "../db/ports.js";
import type { DataKeyStore } from "./data-key-store.js";
import { type Keyring, type RewrapResult, rewrapAllDataKeys } from "./index.js";

/** What the rotation needs: the data keys, and transactions recording the new key's check and its audit event. */
export interface KeyRotationStore extends Transactional<KeyRotationTx> {
  readonly dataKeys: DataKeyStore;
}
export interface KeyRotationTx {
  readonly dataKeys: Pick<DataKeyStore, "writeKeyCheck">;
  readonly audit: Pick<AuditStore, "appendAudit">;
}

/**
 * `keys:rotate`: makes the keyring's current master key the store's current key, then re-wraps
 * every data key under it (the keyring must also hold the keys they are wrapped by now), in batches
 * with compare-and-swap so servers keep serving. Values are never re-encrypted: data keys do not
 * change, only their wrapping. Safe to re-run after an interruption.
 *
 * The switch comes first, in its own transaction: servers wrap new data keys under the store's
 * current key, read in the creating transaction and held until it commits (`lockKeyCheck`). So a
 * data key created before the switch is committed before it and listed by the re-wrap that follows,
 * and one created after it is wrapped by the new key (or refused by a server without it): none is
 * left under the old key once this resolves.
 */
export async function rotateMasterKey(
  ctx: RequestContext,
  store: KeyRotationStore,
  keyring: Keyring,
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<RewrapResult> {
  await store.transaction(async (tx) => {
    await tx.dataKeys.writeKeyCheck(JSON.stringify(keyring.currentKeyCheck()));
  });
  const result = await rewrapAllDataKeys(store.dataKeys, keyring, options);
  await store.transaction(async (tx) => {
    await tx.audit.appendAudit({
      actor: ctx.actor,
      requestId: ctx.requestId ?? null,
      action: "keys.rotate",
      target: `master-key:${keyring.currentKeyId}`,
      outcome: "success",
    });
  });
  return result;
}
