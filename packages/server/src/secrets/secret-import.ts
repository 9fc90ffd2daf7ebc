import { randomUUID } from "node:crypto";
import {
  decideOverride,
  decideSet,
  type ImportPlanEntry,
  isLockboxError,
  type NamedOwner,
  noWebScopeNote,
  type Scope,
  type SecretType,
  type SetRequest,
  validateSecretInput,
} from "@lockbox/core";
import type { Vault } from "../keys/vault.js";
import type { StoredSecret } from "./secret-store.js";
import type { SecretsTx, SetSecretInput } from "./secrets-service.js";
import { type SlotWriter, writeSlot } from "./slot-writes.js";

/*
 * The plan and the writes of a bulk import (SPEC §2.1 for each entry, as a set would decide it),
 * inside the transaction the secrets service opened and locked. Kept apart from the service, which
 * is near its size limit; the service checks access, the owner and the environment first.
 */

/** What an import asks (`POST …/secrets/import`): secrets by name, set as {@link SetSecretInput} sets one. */
export interface ImportSecretsInput extends Omit<SetSecretInput, "name" | "value"> {
  readonly secrets: Readonly<Record<string, string>>;
  readonly dryRun?: boolean | undefined;
}

/** The plan of an import (values never in it) and whether it was written. */
export interface ImportSecretsResult {
  readonly plan: ImportPlanEntry[];
  readonly applied: boolean;
  readonly notes: string[];
}

/** What {@link planImport} needs: the owner as the rules name it, and what each entry is set with. */
export interface ImportTarget {
  readonly ref: { readonly kind: "site" | "org"; readonly id: string };
  readonly label: NamedOwner;
  /** Overrides of this environment instead of base values. */
  readonly env: string | null;
  readonly request: Omit<SetRequest, "name">;
}

/** One planned entry with what writing it needs (the value never leaves the server). */
export interface PlannedImport extends ImportPlanEntry {
  readonly value: string;
  readonly existing: StoredSecret | undefined;
  readonly type?: SecretType;
  readonly scopes?: readonly Scope[];
}

/**
 * Decides every entry, in name order, as `set` would (decideSet/decideOverride, then the name and
 * value rules), and compares with the current value to tell `unchanged` from `update`: the stored
 * values are opened here, in the transaction. A refused entry carries the rule's message.
 */
export async function planImport(
  tx: SecretsTx,
  vault: Vault,
  target: ImportTarget,
  secrets: Readonly<Record<string, string>>,
): Promise<PlannedImport[]> {
  const current = new Map((await tx.secrets.listSecrets(target.ref)).map((s) => [s.name, s]));
  const plan: PlannedImport[] = [];
  for (const name of Object.keys(secrets).sort()) {
    const value = secrets[name] as string;
    const existing = current.get(name);
    const request = { ...target.request, name };
    const decision =
      target.env === null ? decideSet(existing, request) : decideOverride(existing, request, target.label);
    if (decision.action === "reject") {
      plan.push({ name, action: "refused", reason: decision.error.message, value, existing });
      continue;
    }
    const { type, scopes } = decision;
    try {
      validateSecretInput({ name, type, scopes, value });
    } catch (error) {
      if (!isLockboxError(error)) throw error;
      plan.push({ name, action: "refused", reason: error.message, value, existing });
      continue;
    }
    const sealed = existing && (target.env === null ? existing.base : existing.overrides.get(target.env));
    let action: "create" | "update" | "unchanged" = "create";
    if (existing && sealed) {
      const binding = { secretId: existing.id, env: target.env };
      const stored = await vault.open(target.ref, binding, sealed, tx.dataKeys);
      action = stored === value ? "unchanged" : "update";
    }
    plan.push({ name, action, value, existing, type, scopes });
  }
  return plan;
}

/**
 * Writes the `create` and `update` entries of a plan with no refused entry: the secret's metadata
 * when new, its sealed value, its new version, and one audit event per secret, as a set does. Returns the notes of
 * the new secrets no application will see (no web scope), at most one line.
 */
export async function applyImport(
  tx: SecretsTx,
  vault: Vault,
  target: ImportTarget,
  plan: readonly PlannedImport[],
  writer: SlotWriter,
): Promise<string[]> {
  const hidden: string[] = [];
  for (const entry of plan) {
    if (entry.action !== "create" && entry.action !== "update") continue;
    const secretId = entry.existing?.id ?? randomUUID();
    if (!entry.existing) {
      const { type, scopes } = entry as Required<Pick<PlannedImport, "type" | "scopes">>;
      await tx.secrets.insertSecret({ id: secretId, owner: target.ref, name: entry.name, type, scopes });
      if (!scopes.includes("web")) hidden.push(entry.name);
    }
    // A version like any set's, so an import can be looked up and rolled back value by value.
    const slot = { secretId, owner: target.ref, name: entry.name, env: target.env };
    await writeSlot(tx, vault, writer, slot, "set", entry.value);
  }
  if (hidden.length === 0) return [];
  return [
    hidden.length === 1
      ? noWebScopeNote(hidden[0] as string)
      : `Applications will not see the ${hidden.length} new secrets: they have no web scope (import with --scope=web,user to give it).`,
  ];
}

/**
 * The plan as answered when nothing is written (a dry run, or a refused entry): a secret without
 * the `user` scope shows `update` even when `unchanged`, since no person may read its value and a
 * plan that told the two apart would confirm a guess of it, without a write or an audit event. An
 * applied import may say `unchanged`: a wrong guess there has overwritten the value, audited.
 */
export function unappliedPlan(plan: readonly PlannedImport[]): ImportPlanEntry[] {
  return plan.map((entry) =>
    entry.action === "unchanged" && !entry.existing?.scopes.includes("user")
      ? { name: entry.name, action: "update" }
      : entry,
  );
}
