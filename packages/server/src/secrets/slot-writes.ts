import type { SecretVersionAction } from "@lockbox/core";
import type { AuditEventInput } from "../audit/records.js";
import { SYSTEM_CONTEXT } from "../audit/request-context.js";
import type { Vault } from "../keys/vault.js";
import type { SecretRow } from "./secret-store.js";
import { recordDeleteVersions, recordVersion, type SecretSlot } from "./secret-versions.js";
import type { SecretsTx } from "./secrets-service.js";

/*
 * The one way a value slot (a secret's base value or one override) is written or emptied: the
 * sealed value, its version, the audit event and the change record that keeps caches right. Set,
 * import, rollback, delete and restore all go through here, inside the caller's transaction under
 * the owner's lock.
 */

/** The audit fields a write shares with its request: who, which request, which site and org. */
export type SlotAuditBase = Omit<AuditEventInput, "action" | "target" | "environment">;

/** The stores a slot write uses, from the caller's transaction. */
export type SlotWriteTx = Pick<
  SecretsTx,
  "secrets" | "secretVersions" | "deletedSecrets" | "dataKeys" | "audit" | "recordChange"
>;

/** Who writes, and the audit target of the owner (`site:<id>:<name>` or `org:<id>:<name>`). */
export interface SlotWriter {
  readonly audit: SlotAuditBase;
  readonly ownerTarget: string;
}

/** `secret.set`, `secret.override.set`, `secret.rollback`, …: the audit action of a slot write. */
export function slotAuditAction(env: string | null, action: SecretVersionAction): string {
  return `${env === null ? "secret" : "secret.override"}.${action}`;
}

/**
 * Makes `value` the slot's current value: seals and stores it, appends it as the slot's next
 * version (`action`), audits the write and records the change. Returns the new version's number.
 */
export async function writeSlot(
  tx: SlotWriteTx,
  vault: Vault,
  writer: SlotWriter,
  slot: SecretSlot,
  action: Exclude<SecretVersionAction, "delete">,
  value: string,
): Promise<number> {
  const lastVersion = await keepValueWithoutHistory(tx, vault, slot);
  const sealed = await vault.seal(slot.owner, { secretId: slot.secretId, env: slot.env }, value, tx.dataKeys);
  await tx.secrets.putValue(slot.secretId, slot.env, sealed);
  const version = await recordVersion(tx, vault, writer.audit, slot, action, value, lastVersion);
  await tx.audit.appendAudit({
    ...writer.audit,
    action: slotAuditAction(slot.env, action),
    target: `${writer.ownerTarget}/secret:${slot.name}`,
    environment: slot.env,
  });
  await tx.recordChange(slot.owner);
  return version;
}

/**
 * Empties slots: with `env` undefined the whole secret (its base value and every override), else
 * one override (nothing when it has none). Each emptied slot gets a `delete` version; the history
 * itself is kept. One audit event; returns the slots emptied.
 */
export async function deleteSlots(
  tx: SlotWriteTx,
  vault: Vault,
  writer: SlotWriter,
  secret: SecretRow,
  env: string | undefined,
): Promise<(string | null)[]> {
  const slot = { secretId: secret.id, owner: secret.owner, name: secret.name };
  const slots =
    env === undefined ? [null, ...secret.overrideEnvs] : secret.overrideEnvs.filter((e) => e === env);
  for (const slotEnv of slots) await keepValueWithoutHistory(tx, vault, { ...slot, env: slotEnv });
  let emptied: (string | null)[];
  if (env === undefined) {
    await tx.secrets.deleteSecret(secret.id);
    // Kept for the retention period, with its values in its history, so it can be restored.
    await tx.deletedSecrets.insertDeleted({
      secretId: secret.id,
      owner: secret.owner,
      name: secret.name,
      type: secret.type,
      scopes: secret.scopes,
      envs: secret.overrideEnvs,
      createdAt: secret.createdAt,
      deletedBy: writer.audit.actor,
    });
    emptied = [null, ...secret.overrideEnvs];
  } else {
    emptied = (await tx.secrets.deleteOverride(secret.id, env)) ? [env] : [];
  }
  await recordDeleteVersions(tx, writer.audit, slot, emptied);
  await tx.recordChange(slot.owner);
  await tx.audit.appendAudit({
    ...writer.audit,
    action: slotAuditAction(env ?? null, "delete"),
    target: `${writer.ownerTarget}/secret:${slot.name}`,
    environment: env ?? null,
  });
  return emptied;
}

/**
 * A slot last written before versions existed (migration 0002) has no history: its current value is
 * recorded as its first version (a `set` by `system`) before a write replaces it or a delete empties
 * it, so that a rollback or a restore can bring it back like any other. Not a migration: a version
 * is sealed under its own associated data, which takes the owner's data key, so the master key.
 * Answers the slot's last version number afterwards (0: no history and no value).
 */
async function keepValueWithoutHistory(tx: SlotWriteTx, vault: Vault, slot: SecretSlot): Promise<number> {
  const lastVersion = await tx.secretVersions.lastVersion(slot.secretId, slot.env);
  if (lastVersion > 0) return lastVersion;
  const sealed = await tx.secrets.findValue(slot.secretId, slot.env);
  if (!sealed) return 0;
  const value = await vault.open(slot.owner, { secretId: slot.secretId, env: slot.env }, sealed, tx.dataKeys);
  return recordVersion(tx, vault, SYSTEM_CONTEXT, slot, "set", value, 0);
}
