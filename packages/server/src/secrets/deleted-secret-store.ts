import type { OwnerRef, Scope, SecretType } from "@lockbox/core";

/**
 * Deleted secrets, kept for the retention period so they can be restored: the metadata a delete
 * removes from `secrets` (the values stay in `secret_versions`, by secret id). Implemented over
 * Kysely in `kysely-deleted-secret-store.ts`. The conventions of `db/ports.ts` apply.
 */
export interface DeletedSecretStore {
  /** Records a secret as deleted (its row in `secrets` is deleted in the same transaction). */
  insertDeleted(secret: NewDeletedSecret): Promise<void>;
  /** An owner's deleted secrets, by name, then newest deletion first. */
  listDeleted(owner: OwnerRef): Promise<DeletedSecret[]>;
  /** The owner's deleted secrets named `name`, newest deletion first. */
  findDeleted(owner: OwnerRef, name: string): Promise<DeletedSecret[]>;
  /** Forgets a deleted secret (restored); its versions stay. Returns false when absent. */
  removeDeleted(secretId: string): Promise<boolean>;
}

export interface NewDeletedSecret {
  readonly secretId: string;
  readonly owner: OwnerRef;
  readonly name: string;
  readonly type: SecretType;
  readonly scopes: readonly Scope[];
  /** The environments it had overrides in when deleted. */
  readonly envs: readonly string[];
  readonly createdAt: string;
  /** The audit actor who deleted it (`user:<uuid>`). */
  readonly deletedBy: string;
}

export interface DeletedSecret extends NewDeletedSecret {
  readonly deletedAt: string;
  /** The deleter's email, undefined when the actor is not (or no longer) a user. */
  readonly deletedByEmail: string | undefined;
}
