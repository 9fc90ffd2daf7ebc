import type { OwnerRef, Scope, SecretRecord, SecretType } from "@lockbox/core";

/**
 * The secrets' storage port (SPEC §2): secret metadata, sealed base values and sealed overrides,
 * per owner. The conventions of `db/ports.ts` apply. Implemented over Kysely in
 * `kysely-secret-store.ts`.
 */
export interface SecretStore {
  /** A secret's metadata by owner and exact (case-sensitive) name. */
  findSecret(owner: OwnerRef, name: string): Promise<SecretRow | undefined>;
  /** Every secret of one owner with its sealed values, in name order. */
  listSecrets(owner: OwnerRef): Promise<StoredSecret[]>;
  /**
   * What resolution of one site needs, on one snapshot: the site's secrets and those of its
   * current owner org (none for a personal site), each with sealed values. Supporting orgs are
   * never read. Undefined when the site does not exist.
   */
  loadSiteSecrets(siteId: string): Promise<SiteSecrets | undefined>;
  /**
   * The site's own secrets with sealed values and its current owner org, in one statement (so on
   * one snapshot) and without the org's rows: the cold delivery path takes those from its org
   * snapshot. Undefined when the site does not exist.
   */
  loadOwnSiteSecrets(siteId: string): Promise<OwnSiteSecrets | undefined>;
  /** Creates a secret's metadata; its base value is written with {@link putValue}. */
  insertSecret(secret: NewSecret): Promise<SecretRow>;
  /** Deletes a secret with its base value and every override. Returns false when absent. */
  deleteSecret(secretId: string): Promise<boolean>;
  /** The sealed base value (`env` null) or one override; undefined when the slot holds none. */
  findValue(secretId: string, env: string | null): Promise<Buffer | undefined>;
  /** Writes the base value (`env` null) or an override, replacing any previous one. */
  putValue(secretId: string, env: string | null, sealed: Buffer): Promise<void>;
  /** Deletes one override. Returns false when there was none. */
  deleteOverride(secretId: string, env: string): Promise<boolean>;
}

export interface NewSecret {
  readonly id: string;
  readonly owner: OwnerRef;
  readonly name: string;
  readonly type: SecretType;
  readonly scopes: readonly Scope[];
}
export interface SecretRow extends SecretRecord {
  readonly owner: OwnerRef;
  readonly createdAt: string;
  readonly updatedAt: string;
}
/** A secret with its sealed base value and sealed overrides by environment name. */
export interface StoredSecret extends SecretRow {
  readonly base: Buffer;
  readonly overrides: ReadonlyMap<string, Buffer>;
}
export interface OwnSiteSecrets {
  readonly siteId: string;
  /** The site's current owner org, undefined for a personal site. */
  readonly ownerOrgId: string | undefined;
  readonly siteSecrets: StoredSecret[];
}
export interface SiteSecrets {
  readonly siteId: string;
  /** The site's current owner org, undefined for a personal site. */
  readonly ownerOrgId: string | undefined;
  readonly siteSecrets: StoredSecret[];
  readonly orgSecrets: StoredSecret[];
}
