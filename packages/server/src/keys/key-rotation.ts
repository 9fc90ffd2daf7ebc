import type { SecretStore } from "../db/secret-store.js";
import type { RequestContext } from "../directory/caller.js";
import { type Keyring, type RewrapResult, rewrapAllDataKeys } from "./index.js";
import { MASTER_KEY_CHECK_META } from "./vault.js";

/**
 * `keys:rotate`: re-wraps every data key under the keyring's current master key (which the
 * keyring must hold together with the key the data keys are wrapped by now), in batches with
 * compare-and-swap so servers keep serving, then records the new key's check value so that the
 * store from now on starts only with the new key. Values are never re-encrypted: data keys do not
 * change, only their wrapping. Safe to re-run after an interruption.
 */
export async function rotateMasterKey(
  ctx: RequestContext,
  store: SecretStore,
  keyring: Keyring,
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<RewrapResult> {
  const result = await rewrapAllDataKeys(store, keyring, options);
  await store.transaction(async (tx) => {
    await tx.setMeta(MASTER_KEY_CHECK_META, JSON.stringify(keyring.currentKeyCheck()));
    await tx.appendAudit({
      actor: ctx.actor,
      requestId: ctx.requestId ?? null,
      action: "keys.rotate",
      target: `master-key:${keyring.currentKeyId}`,
      outcome: "success",
    });
  });
  return result;
}
