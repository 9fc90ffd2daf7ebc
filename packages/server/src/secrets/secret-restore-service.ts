import { LockboxError, quoteIdentifier, type Scope, type SecretType } from "@lockbox/core";
import type { Transactional } from "../db/ports.js";
import type { AccessPolicy } from "../directory/access-policy.js";
import type { Caller } from "../directory/caller.js";
import type { Vault } from "../keys/vault.js";
import type { DeletedSecret, DeletedSecretStore } from "./deleted-secret-store.js";
import {
  lockOrThrow,
  type OwnerTarget,
  orgOwner,
  type SecretsTx,
  siteOwner,
  slotWriter,
} from "./secrets-service.js";
import { writeSlot } from "./slot-writes.js";

/** A deleted secret as people see it: never a value. */
export interface DeletedSecretView {
  readonly id: string;
  readonly name: string;
  readonly type: SecretType;
  readonly scopes: readonly Scope[];
  readonly envs: readonly string[];
  readonly deletedAt: string;
  /** The deleter's email (the audit actor once the user is gone). */
  readonly deletedBy: string;
}

export interface RestoreResult {
  readonly name: string;
  readonly type: SecretType;
  readonly scopes: readonly Scope[];
  /** The environments whose overrides came back. */
  readonly envs: readonly string[];
  /** What did not come back and why (an override of a multidev deleted since). Never a value. */
  readonly notes: readonly string[];
}

/** What the restore service reads outside its transactions. */
export interface RestoreStores extends Transactional<SecretsTx> {
  readonly deletedSecrets: Pick<DeletedSecretStore, "listDeleted">;
}

/**
 * Deleted secrets (kept, with their history, for the retention period) and their restore. Access is
 * the secret's: listing them is listing (site managers; org members; no value is shown), a restore
 * is a set (site managers; org admins). A restore writes every slot the secret had when deleted —
 * base value and overrides — as `restore` versions, audited and seen by caches like any write.
 */
export class SecretRestoreService {
  constructor(
    private readonly stores: RestoreStores,
    private readonly vault: Vault,
    private readonly policy: AccessPolicy,
  ) {}

  /** `secret:site:list <site> --deleted`. @throws {LockboxError} SITE_NOT_FOUND. */
  async listDeletedSite(caller: Caller, siteRef: string): Promise<DeletedSecretView[]> {
    const { site } = await this.policy.site(caller, siteRef);
    return this.#list(siteOwner(site));
  }

  /** `secret:org:list <org> --deleted` (org members). */
  async listDeletedOrg(caller: Caller, orgRef: string): Promise<DeletedSecretView[]> {
    const { org } = await this.policy.org(caller, orgRef);
    return this.#list(orgOwner(org));
  }

  /** `secret:site:restore`: the newest deleted secret `name` (or deleted secret `id`) comes back. */
  async restoreSite(caller: Caller, siteRef: string, name: string, id?: string): Promise<RestoreResult> {
    const { site } = await this.policy.site(caller, siteRef);
    return this.#restore(caller, siteOwner(site), name, id);
  }

  /** `secret:org:restore` (org admins). */
  async restoreOrg(caller: Caller, orgRef: string, name: string, id?: string): Promise<RestoreResult> {
    const org = await this.policy.administeredOrg(
      caller,
      orgRef,
      (o) => `Only an admin of organization ${quoteIdentifier(o.name)} can change its secrets.`,
    );
    return this.#restore(caller, orgOwner(org), name, id);
  }

  async #list(owner: OwnerTarget): Promise<DeletedSecretView[]> {
    const deleted = await this.stores.deletedSecrets.listDeleted(owner.ref);
    return deleted.map(view);
  }

  async #restore(caller: Caller, owner: OwnerTarget, name: string, id?: string): Promise<RestoreResult> {
    return this.stores.transaction(async (tx) => {
      await lockOrThrow(tx, owner);
      const kind = owner.ref.kind === "org" ? "organization" : "site";
      const where = `${kind} ${quoteIdentifier(owner.name)}`;
      const command = owner.ref.kind === "org" ? "secret:org" : "secret:site";
      const candidates = await tx.deletedSecrets.findDeleted(owner.ref, name);
      const deleted = id === undefined ? candidates[0] : candidates.find((c) => c.secretId === id);
      if (!deleted) {
        const which = id === undefined ? "" : ` with id ${quoteIdentifier(id)}`;
        throw new LockboxError(
          "SECRET_NOT_FOUND",
          `No deleted secret ${quoteIdentifier(name)}${which} on ${where} to restore (deleted secrets are kept for the retention period): list them with 'lockbox ${command}:list ${owner.name} --deleted'.`,
        );
      }
      if (await tx.secrets.findSecret(owner.ref, name)) {
        throw new LockboxError(
          "CONFLICT",
          `Cannot restore secret ${quoteIdentifier(name)}: ${where} has a secret of that name, created after the delete. Delete it first ('lockbox ${command}:delete ${owner.name} ${name}'), then restore with --id=${deleted.secretId}.`,
        );
      }
      const notes: string[] = [];
      const envs: string[] = [];
      for (const env of deleted.envs) {
        // A site's override comes back only to an environment the site still has (a multidev may be gone).
        if (owner.ref.kind === "site" && !(await tx.environments.findEnvironment(owner.ref.id, env))) {
          notes.push(
            `The override in ${quoteIdentifier(env)} was not restored: the site no longer has that environment.`,
          );
          continue;
        }
        // The multidev was deleted (its overrides' history with it) and one of that name made since:
        // a new environment, which the old override does not attach to (SPEC §1, by UUID).
        if (owner.ref.kind === "site" && !(await tx.secretVersions.latestValue(deleted.secretId, env))) {
          notes.push(
            `The override in ${quoteIdentifier(env)} was not restored: that environment was deleted since, and the one of that name now is a new one.`,
          );
          continue;
        }
        envs.push(env);
      }
      await tx.secrets.insertSecret({
        id: deleted.secretId,
        owner: owner.ref,
        name,
        type: deleted.type,
        scopes: deleted.scopes,
      });
      const writer = slotWriter(caller, owner);
      for (const env of [null, ...envs]) {
        const last = await tx.secretVersions.latestValue(deleted.secretId, env);
        if (!last?.sealed) {
          // Retention keeps each slot's newest value, so this is a store that lost rows.
          throw new LockboxError(
            "CONFLICT",
            `Cannot restore secret ${quoteIdentifier(name)}: its history no longer holds the value of ${env === null ? "its base value" : `its override in ${quoteIdentifier(env)}`}.`,
          );
        }
        const binding = { secretId: deleted.secretId, env, version: last.version };
        const value = await this.vault.open(owner.ref, binding, last.sealed, tx.dataKeys);
        const slot = { secretId: deleted.secretId, owner: owner.ref, name, env };
        await writeSlot(tx, this.vault, writer, slot, "restore", value);
      }
      await tx.deletedSecrets.removeDeleted(deleted.secretId);
      return { name, type: deleted.type, scopes: deleted.scopes, envs, notes };
    });
  }
}

function view(d: DeletedSecret): DeletedSecretView {
  return {
    id: d.secretId,
    name: d.name,
    type: d.type,
    scopes: d.scopes,
    envs: d.envs,
    deletedAt: d.deletedAt,
    deletedBy: d.deletedByEmail ?? d.deletedBy,
  };
}
