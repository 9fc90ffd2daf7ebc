import type { OwnerRef, Scope, SecretRecord, SecretType } from "@lockbox/core";

/**
 * The storage port of Lockbox. One implementation ({@link KyselyStore}) serves SQLite and
 * PostgreSQL; the contract suite in `contract/` is what any implementation must pass.
 *
 * Conventions:
 * - Everything binds by UUID. Names are looked up once, at the edge, and never stored as references.
 * - `findX` returns `undefined` when absent; nothing here throws for a missing row.
 * - Writes that break a database constraint throw `LockboxError("CONFLICT")`; services check first
 *   so that users see the precise message, and the constraint only settles races.
 * - Values arrive and leave sealed (`Buffer` envelopes): the store never sees plaintext.
 * - Timestamps are ISO-8601 UTC strings, so both dialects sort and compare them alike.
 */
export interface SecretStore extends StoreQueries {
  /** `"sqlite"` or `"postgres"`, for messages and for tests that reach under the port. */
  readonly dialect: StoreDialect;

  /**
   * Runs `fn` in one read-write transaction and commits when it resolves (rolls back when it
   * throws, rethrowing the error). A rule that reads and then writes must run in here and call
   * {@link StoreTx.lockOwner} first: on SQLite the transaction starts with `BEGIN IMMEDIATE`
   * (writers are serialized), on PostgreSQL the lock is a row lock on the owner, so two writers
   * of the same owner run one after the other. Transactions do not nest.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;

  /**
   * Calls `listener` with every change committed through this store object, synchronously right
   * after its transaction commits (so a caller can drop caches before it answers). Changes by
   * other processes arrive through {@link listenForChanges} on PostgreSQL. Returns an unsubscribe.
   */
  onChange(listener: (change: StoreChange) => void): () => void;

  /** Whether the database answers a trivial query (for `/readyz`). Never throws. */
  ping(): Promise<boolean>;

  /** Closes every connection. The store is unusable afterwards. */
  close(): Promise<void>;
}

export type StoreDialect = "sqlite" | "postgres";

/** What can be done inside a transaction: every query, plus locks and audit appends. */
export interface StoreTx extends StoreQueries {
  /**
   * Locks the owner's row until the transaction ends, so that rules over its secrets, environments
   * and tokens cannot race. Returns false when the owner does not exist (any more).
   */
  lockOwner(owner: OwnerRef): Promise<boolean>;

  /**
   * Appends one event to the audit chain. Appends are serialized across every process sharing the
   * database (PostgreSQL: a transaction-scoped advisory lock taken here, so call it last), each
   * event carrying the hash of the previous one. The event commits or rolls back with the
   * transaction, so a write and its audit event are atomic.
   */
  appendAudit(event: AuditEventInput): Promise<AuditEvent>;

  /**
   * Records that this transaction changes what a site resolves, or who a token is. After commit
   * the change goes to this store's {@link SecretStore.onChange} listeners; on PostgreSQL it is
   * also sent with NOTIFY, which the database delivers to every listening process only if the
   * transaction commits.
   */
  recordChange(change: StoreChange): Promise<void>;
}

/**
 * A committed change that can alter resolution results or token identities. Ids only: payloads
 * cross processes (PostgreSQL NOTIFY, under 8000 bytes) and never carry names or values.
 * `site`: a site's secrets, owner, environments or tokens changed; `org`: an org's secrets
 * changed (every site it owns); `token`: a token was revoked.
 */
export type StoreChange =
  | { readonly kind: "site"; readonly id: string }
  | { readonly kind: "org"; readonly id: string }
  | { readonly kind: "token"; readonly id: string };

/** Queries available on the store (each in its own implicit transaction) and inside a transaction. */
export interface StoreQueries {
  // --- metadata -------------------------------------------------------------------------------
  /** A value of the store's own key/value table (e.g. the master key check value). */
  getMeta(key: string): Promise<string | undefined>;
  /** Sets a metadata value, replacing any previous one. */
  setMeta(key: string, value: string): Promise<void>;

  // --- users ----------------------------------------------------------------------------------
  insertUser(user: NewUser): Promise<UserRow>;
  findUserById(id: string): Promise<UserRow | undefined>;
  /** Looks a user up by email, compared in lower case. */
  findUserByEmail(email: string): Promise<UserRow | undefined>;
  listUsers(page: PageRequest): Promise<UserRow[]>;
  /** The first platform admin created, if any. */
  findFirstAdmin(): Promise<UserRow | undefined>;

  // --- organizations --------------------------------------------------------------------------
  /** Creates an org with its wrapped data key. */
  insertOrg(org: NewOrg): Promise<OrgRow>;
  findOrgById(id: string): Promise<OrgRow | undefined>;
  findOrgByName(name: string): Promise<OrgRow | undefined>;
  /** Orgs in name order; with `memberUserId`, only orgs that user is a member of. */
  listOrgs(filter: { memberUserId?: string } & PageRequest): Promise<OrgRow[]>;
  /** Number of sites the org owns (as primary org). */
  countSitesOwnedByOrg(orgId: string): Promise<number>;
  /**
   * Deletes an org with its secrets, memberships and supporting links. Throws CONFLICT if it still
   * owns a site (the foreign key settles a concurrent transfer). Returns false when absent.
   */
  deleteOrg(orgId: string): Promise<boolean>;

  // --- memberships ----------------------------------------------------------------------------
  /** Adds a member or changes their role. */
  upsertMembership(orgId: string, userId: string, role: OrgRole): Promise<MembershipRow>;
  findMembership(orgId: string, userId: string): Promise<MembershipRow | undefined>;
  /** Returns false when the user was not a member. */
  deleteMembership(orgId: string, userId: string): Promise<boolean>;
  /** Members of an org with their emails, in email order. */
  listMemberships(orgId: string): Promise<MemberRow[]>;

  // --- sites ----------------------------------------------------------------------------------
  /** Creates a site with its wrapped data key and its `dev`, `test`, `live` environments. */
  insertSite(site: NewSite): Promise<SiteRow>;
  findSiteById(id: string): Promise<SiteRow | undefined>;
  findSiteByName(name: string): Promise<SiteRow | undefined>;
  /**
   * Sites in name order. With `visibleToUserId`, only sites that user can see: owned personally,
   * on its team, or owned or supported by an org the user belongs to.
   */
  listSites(filter: { visibleToUserId?: string; orgId?: string } & PageRequest): Promise<SiteRow[]>;
  /**
   * Moves a site to a new owner (exactly one of the two ids). If the new owner org supported the
   * site, it stops supporting it. Returns false when the site is absent.
   */
  updateSiteOwner(siteId: string, owner: SiteOwner): Promise<boolean>;
  /** Deletes a site with its environments, secrets, tokens, links and data key. */
  deleteSite(siteId: string): Promise<boolean>;
  /** Adds a supporting org; a no-op when already supporting. */
  addSupportingOrg(siteId: string, orgId: string): Promise<void>;
  removeSupportingOrg(siteId: string, orgId: string): Promise<boolean>;
  listSupportingOrgs(siteId: string): Promise<OrgRow[]>;
  addTeamMember(siteId: string, userId: string): Promise<void>;
  removeTeamMember(siteId: string, userId: string): Promise<boolean>;
  listTeamMembers(siteId: string): Promise<UserRow[]>;
  isTeamMember(siteId: string, userId: string): Promise<boolean>;

  // --- environments ---------------------------------------------------------------------------
  insertEnvironment(siteId: string, name: string): Promise<EnvironmentRow>;
  findEnvironment(siteId: string, name: string): Promise<EnvironmentRow | undefined>;
  /** `dev`, `test`, `live` first, then multidevs by name. */
  listEnvironments(siteId: string): Promise<EnvironmentRow[]>;
  /**
   * Deletes a multidev with the site's overrides for it and the tokens bound to it. Org overrides
   * for that environment name stay. Returns false when absent.
   */
  deleteEnvironment(siteId: string, name: string): Promise<boolean>;

  // --- data keys ------------------------------------------------------------------------------
  /** The owner's wrapped data key, or undefined when the owner does not exist. */
  findDataKey(owner: OwnerRef): Promise<WrappedDataKey | undefined>;
  /** Data keys not wrapped by `masterKeyId`, at most `limit`, for rotation. */
  listDataKeysNotWrappedBy(masterKeyId: string, limit: number): Promise<WrappedDataKeyRecord[]>;
  /**
   * Compare-and-swap of a wrapped data key: replaces it only if it still equals `expected`.
   * Returns whether it was replaced.
   */
  replaceWrappedDataKey(
    owner: OwnerRef,
    expected: Buffer,
    next: Buffer,
    masterKeyId: string,
  ): Promise<boolean>;
  countDataKeys(): Promise<number>;

  // --- secrets --------------------------------------------------------------------------------
  /** A secret's metadata by owner and exact (case-sensitive) name. */
  findSecret(owner: OwnerRef, name: string): Promise<SecretRow | undefined>;
  /** Every secret of one owner with its sealed values, in name order. */
  listSecrets(owner: OwnerRef): Promise<StoredSecret[]>;
  /**
   * What resolution of one site needs, in two indexed reads: the site's secrets and those of its
   * current owner org (none for a personal site), each with sealed values. Supporting orgs are
   * never read. Undefined when the site does not exist.
   */
  loadSiteSecrets(siteId: string): Promise<SiteSecrets | undefined>;
  /** Creates a secret's metadata; its base value is written with {@link putValue}. */
  insertSecret(secret: NewSecret): Promise<SecretRow>;
  /** Deletes a secret with its base value and every override. Returns false when absent. */
  deleteSecret(secretId: string): Promise<boolean>;
  /** Writes the base value (`env` null) or an override, replacing any previous one. */
  putValue(secretId: string, env: string | null, sealed: Buffer): Promise<void>;
  /** Deletes one override. Returns false when there was none. */
  deleteOverride(secretId: string, env: string): Promise<boolean>;

  // --- tokens ---------------------------------------------------------------------------------
  insertToken(token: NewToken): Promise<TokenRow>;
  /** A token by the hash of its secret part, revoked or not (callers check `revokedAt`). */
  findTokenByHash(hash: string): Promise<TokenRow | undefined>;
  findTokenById(id: string): Promise<TokenRow | undefined>;
  listTokens(filter: { userId?: string; siteId?: string } & PageRequest): Promise<TokenRow[]>;
  /** Marks a token revoked. Returns false when absent or already revoked. */
  revokeToken(id: string, at: string): Promise<boolean>;
  /** Records last use of tokens, in one statement per call (batched by the caller). */
  touchTokens(uses: ReadonlyArray<{ id: string; at: string }>): Promise<void>;

  // --- audit ----------------------------------------------------------------------------------
  /** Audit events, newest first, filtered. */
  listAudit(filter: AuditFilter): Promise<AuditEvent[]>;
  /** Audit events in chain order with `seq > afterSeq`, at most `limit`, for verification. */
  readAuditChain(afterSeq: number, limit: number): Promise<AuditEvent[]>;
}

export interface PageRequest {
  /** Maximum rows, 1–1000 (default 100). */
  readonly limit?: number | undefined;
  /** Rows whose sort key is strictly after this cursor (the last row's name, email or id). */
  readonly after?: string | undefined;
}

export interface NewUser {
  readonly id: string;
  readonly email: string;
  readonly isAdmin: boolean;
}
export interface UserRow {
  readonly id: string;
  readonly email: string;
  readonly isAdmin: boolean;
  readonly createdAt: string;
}

export interface WrappedDataKey {
  readonly wrapped: Buffer;
  readonly masterKeyId: string;
}
export interface WrappedDataKeyRecord extends WrappedDataKey {
  readonly owner: OwnerRef;
}

export interface NewOrg {
  readonly id: string;
  readonly name: string;
  readonly dataKey: WrappedDataKey;
}
export interface OrgRow {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
}

export type OrgRole = "admin" | "member";
export interface MembershipRow {
  readonly orgId: string;
  readonly userId: string;
  readonly role: OrgRole;
  readonly createdAt: string;
}
export interface MemberRow extends MembershipRow {
  readonly email: string;
}

/** Exactly one of the two is set. */
export type SiteOwner =
  | { readonly orgId: string; readonly userId?: undefined }
  | { readonly userId: string; readonly orgId?: undefined };

export interface NewSite {
  readonly id: string;
  readonly name: string;
  readonly owner: SiteOwner;
  readonly dataKey: WrappedDataKey;
}
export interface SiteRow {
  readonly id: string;
  readonly name: string;
  readonly ownerOrgId: string | null;
  readonly ownerUserId: string | null;
  readonly createdAt: string;
}

export type EnvironmentKind = "standard" | "multidev";
export interface EnvironmentRow {
  readonly id: string;
  readonly siteId: string;
  readonly name: string;
  readonly kind: EnvironmentKind;
  readonly createdAt: string;
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
export interface SiteSecrets {
  readonly site: SiteRow;
  /** The current owner org, undefined for a personal site. */
  readonly ownerOrg: OrgRow | undefined;
  readonly siteSecrets: StoredSecret[];
  readonly orgSecrets: StoredSecret[];
}

export type TokenKind = "user" | "runtime" | "build";
export interface NewToken {
  readonly id: string;
  readonly kind: TokenKind;
  /** Hex SHA-256 of the whole token string. */
  readonly hash: string;
  /** For user tokens: whose. */
  readonly userId: string | null;
  /** For runtime and build tokens: the environment they are bound to (its site follows). */
  readonly environmentId: string | null;
  /** The user who minted it (null for the bootstrap admin token). */
  readonly createdBy: string | null;
  readonly expiresAt: string | null;
}
export interface TokenRow {
  readonly id: string;
  readonly kind: TokenKind;
  readonly hash: string;
  readonly userId: string | null;
  readonly siteId: string | null;
  readonly environmentId: string | null;
  readonly environmentName: string | null;
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

export type AuditOutcome = "success" | "denied" | "failure";
export interface AuditEventInput {
  /** Who: `user:<uuid>`, `token:<id>` or `system`. */
  readonly actor: string;
  /** What, dotted: `secret.set`, `site.delete`, `runtime.deliver` … */
  readonly action: string;
  /** On what, by UUID and name: `site:<uuid>:my-site/secret:API_KEY`. Never a value. */
  readonly target: string;
  readonly environment?: string | null;
  /** The org and site the event concerns, for filtering (`audit:list --org/--site`). */
  readonly orgId?: string | null;
  readonly siteId?: string | null;
  readonly outcome: AuditOutcome;
  readonly requestId?: string | null;
  /** Defaults to now. */
  readonly at?: string;
}
export interface AuditEvent {
  readonly seq: number;
  readonly id: string;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly environment: string | null;
  readonly orgId: string | null;
  readonly siteId: string | null;
  readonly outcome: AuditOutcome;
  readonly requestId: string | null;
  readonly prevHash: string;
  readonly hash: string;
}
export interface AuditFilter {
  /** Events concerning this org or site. */
  readonly orgId?: string;
  readonly siteId?: string;
  /** ISO time; events at or after it. */
  readonly since?: string;
  /** Events with `seq` below this (paging backwards). */
  readonly beforeSeq?: number;
  readonly limit?: number;
}
