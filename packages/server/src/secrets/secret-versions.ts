import type { OwnerRef, SecretVersionAction } from "@lockbox/core";
import type { RequestContext } from "../audit/request-context.js";
import type { DataKeyReader, Vault } from "../keys/vault.js";
import type { SecretVersionStore } from "./secret-version-store.js";

/** A secret's identity as its versions record it. */
export interface SecretSlotOwner {
  readonly secretId: string;
  readonly owner: OwnerRef;
  readonly name: string;
}
/** One value slot: the base value (`env` null) or one override. */
export interface SecretSlot extends SecretSlotOwner {
  readonly env: string | null;
}

interface VersionTx {
  readonly secretVersions: SecretVersionStore;
  readonly dataKeys: DataKeyReader;
}

/**
 * Appends the next version of a slot holding `value`, sealed with the owner's data key under the
 * version's own associated data. Call inside the write's transaction, under the owner's lock, so
 * numbers are gapless per slot and the version commits with the value. `lastVersion` is the slot's
 * last version number (0 for none), read by the caller. Returns the new number.
 */
export async function recordVersion(
  tx: VersionTx,
  vault: Vault,
  actor: RequestContext,
  slot: SecretSlot,
  action: Exclude<SecretVersionAction, "delete">,
  value: string,
  lastVersion: number,
): Promise<number> {
  const version = lastVersion + 1;
  const sealed = await vault.seal(
    slot.owner,
    { secretId: slot.secretId, env: slot.env, version },
    value,
    tx.dataKeys,
  );
  await tx.secretVersions.insertVersion({ ...slot, version, action, sealed, actor: actor.actor });
  return version;
}

/** Appends a `delete` version (no value) to each slot a delete emptied. */
export async function recordDeleteVersions(
  tx: VersionTx,
  actor: RequestContext,
  secret: SecretSlotOwner,
  envs: readonly (string | null)[],
): Promise<void> {
  for (const env of envs) {
    const version = (await tx.secretVersions.lastVersion(secret.secretId, env)) + 1;
    await tx.secretVersions.insertVersion({
      ...secret,
      env,
      version,
      action: "delete",
      sealed: null,
      actor: actor.actor,
    });
  }
}
