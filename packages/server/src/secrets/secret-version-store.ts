import type { OwnerRef, SecretVersionAction } from "@lockbox/core";

/**
 * The history port: one row per write to a value slot (a secret's base value, `env` null, or one
 * override), numbered 1, 2, … per slot. Rows outlive their secret (restore and retention read them);
 * they go with their owner. Implemented over Kysely in `kysely-secret-version-store.ts`.
 */
export interface SecretVersionStore {
  /** The highest version number of a slot, 0 when it has none. Call under the owner's lock. */
  lastVersion(secretId: string, env: string | null): Promise<number>;
  /** Appends a version; a `delete` version has no ciphertext. */
  insertVersion(version: NewSecretVersion): Promise<void>;
  /** One version of a slot, or undefined. */
  findVersion(
    secretId: string,
    env: string | null,
    version: number,
  ): Promise<StoredSecretVersion | undefined>;
  /** The newest version of a slot that holds a value (not a `delete`), or undefined. */
  latestValue(secretId: string, env: string | null): Promise<StoredSecretVersion | undefined>;
  /** A slot's versions, newest first, those below `beforeVersion` when given, at most `limit`. */
  listVersions(secretId: string, env: string | null, page: VersionPage): Promise<StoredSecretVersion[]>;
}

export interface VersionPage {
  readonly limit: number;
  readonly beforeVersion?: number | undefined;
}

export interface NewSecretVersion {
  readonly secretId: string;
  readonly owner: OwnerRef;
  /** The secret's name when written, so a deleted secret's history can be found by name. */
  readonly name: string;
  readonly env: string | null;
  readonly version: number;
  readonly action: SecretVersionAction;
  readonly sealed: Buffer | null;
  /** The audit actor (`user:<uuid>`). */
  readonly actor: string;
}

export interface StoredSecretVersion {
  readonly secretId: string;
  readonly env: string | null;
  readonly version: number;
  readonly action: SecretVersionAction;
  readonly sealed: Buffer | null;
  readonly actor: string;
  /** The actor's email, undefined when the actor is not (or no longer) a user. */
  readonly actorEmail: string | undefined;
  readonly at: string;
}
