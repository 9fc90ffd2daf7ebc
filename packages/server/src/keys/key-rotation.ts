import type { AuditStore } from "../audit/audit-store.js";
import type { RequestContext } from "../audit/request-context.js";
import type { Transactional } from "../db/ports.js";
import type { DataKeyStore } from "./data-key-store.js";
import { type Keyring, type RewrapResult, rewrapAllDataKeys } from "./index.js";

/** What the rotation needs: the data keys, and a transaction recording the new key's check and its audit event. */
export interface KeyRotationStore extends Transactional<KeyRotationTx> {
  readonly dataKeys: DataKeyStore;
}
export interface KeyRotationTx {
  readonly dataKeys: Pick<DataKeyStore, "writeKeyCheck">;
  readonly audit: Pick<AuditStore, "appendAudit">;
}

/**
 * `keys:rotate`: re-wraps every data key under the keyring's current master key (which the
 * keyring must hold together with the key the data keys are wrapped by now), in batches with
 * compare-and-swap so servers keep serving, then records the new key's check value so that the
 * store from now on starts only with the new key. Values are never re-encrypted: data keys do not
 * change, only their wrapping. Safe to re-run after an interruption.
 */
export async function rotateMasterKey(
  ctx: RequestContext,
  store: KeyRotationStore,
  keyring: Keyring,
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<RewrapResult> {
  const result = await rewrapAllDataKeys(store.dataKeys, keyring, options);
  await store.transaction(async (tx) => {
    await tx.dataKeys.writeKeyCheck(JSON.stringify(keyring.currentKeyCheck()));
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
