import { isLockboxError, LockboxError, notFoundError, quoteIdentifier } from "@lockbox/core";
import type { ZodType } from "zod";
import type { AuditStore } from "../audit/audit-store.js";
import { orgTarget, userTarget } from "../audit/audit-targets.js";
import type { ChangeRecorder, OwnerLocks, Transactional } from "../db/ports.js";
import type { KeyCheckReader, Vault } from "../keys/vault.js";
import { isTokenActive, type TokenRow } from "../tokens/records.js";
import type { TokenStore } from "../tokens/token-store.js";
import type { AccessPolicy } from "./access-policy.js";
import type { EnvironmentStore, OrgStore, SiteStore, UserStore } from "./directory-store.js";
import type { OrgRow, SiteOwner, SiteRow, UserRow } from "./records.js";

/** What the directory's services read and write: the directory's stores, and audit appends in their transactions. */
export interface DirectoryStores extends Transactional<DirectoryTx> {
  readonly users: UserStore;
  readonly orgs: OrgStore;
  readonly sites: SiteStore;
  readonly environments: EnvironmentStore;
}
export interface DirectoryTx extends OwnerLocks, ChangeRecorder {
  readonly users: UserStore;
  readonly orgs: OrgStore;
  readonly sites: SiteStore;
  readonly environments: EnvironmentStore;
  readonly audit: Pick<AuditStore, "appendAudit">;
  /** Which master key wraps a new org's or site's data key (the store's current one). */
  readonly dataKeys: KeyCheckReader;
  /** Read by a removal, to name the tokens the removed person minted that still work. */
  readonly tokens: Pick<TokenStore, "listUnrevokedSiteTokensMintedBy">;
}

/** What the directory's services are built from. */
export interface DirectoryDependencies {
  readonly stores: DirectoryStores;
  readonly vault: Vault;
  readonly policy: AccessPolicy;
  /** The clock token expiry is judged with (the system clock by default). */
  readonly now?: (() => Date) | undefined;
}

/** What removing a person from an organization or a site team leaves behind. */
export interface Removal {
  readonly user: UserRow;
  /** The organization's name, or the site's. */
  readonly fromName: string;
  /**
   * The runtime and build tokens the person minted for the sites concerned that still work. They
   * are left active on purpose: they are machine credentials an application or build runs on, and
   * minting them was a site manager's act; the remover decides, and revokes by id.
   */
  readonly tokensStillActive: readonly TokenRow[];
}

/** The runtime and build tokens `user` minted for `scope` (one site, or an org's sites) that still work. */
export async function tokensStillActive(
  deps: DirectoryDependencies,
  tx: DirectoryTx,
  user: UserRow,
  scope: { siteId: string } | { orgId: string },
): Promise<TokenRow[]> {
  const nowMs = (deps.now?.() ?? new Date()).getTime();
  const minted = await tx.tokens.listUnrevokedSiteTokensMintedBy({ createdBy: user.id, ...scope });
  return minted.filter((token) => isTokenActive(token, nowMs));
}

/** The value `schema` parses `text` to, or VALIDATION_FAILED with the message of its first issue. */
export function parseOrThrow(schema: ZodType<string, string>, text: string): string {
  const result = schema.safeParse(text);
  if (result.success) return result.data;
  throw new LockboxError("VALIDATION_FAILED", result.error.issues[0]?.message ?? "Invalid input.");
}

/**
 * Awaits a store write whose unique or foreign-key violation (a race the services' own checks
 * lost) should read as the precise message `conflict` gives.
 */
export async function rethrowConflict<T>(write: Promise<T>, conflict: () => LockboxError): Promise<T> {
  try {
    return await write;
  } catch (error) {
    if (isLockboxError(error, "CONFLICT")) throw conflict();
    throw error;
  }
}

export function ownerCannotSupport(org: OrgRow, siteName: string): LockboxError {
  return new LockboxError(
    "CONFLICT",
    `Organization ${quoteIdentifier(org.name)} owns site ${quoteIdentifier(siteName)} and cannot also support it.`,
  );
}

export async function lockOrg(tx: DirectoryTx, org: OrgRow): Promise<void> {
  if (!(await tx.lockOwner({ kind: "org", id: org.id }))) throw notFoundError("org", org.name);
}

/** Locks the site and returns it as it is under the lock (its owner may have changed since the lookup). */
export async function lockSite(
  tx: OwnerLocks & { readonly sites: Pick<SiteStore, "findSiteById"> },
  site: SiteRow,
): Promise<SiteRow> {
  const current =
    (await tx.lockOwner({ kind: "site", id: site.id })) && (await tx.sites.findSiteById(site.id));
  if (!current) throw notFoundError("site", site.name);
  return current;
}

export async function requireUser(tx: DirectoryTx, user: UserRow): Promise<void> {
  if (!(await tx.users.findUserById(user.id))) throw notFoundError("user", user.email);
}

export function ownerOf(site: SiteRow): SiteOwner {
  return site.ownerOrgId !== null ? { orgId: site.ownerOrgId } : { userId: site.ownerUserId ?? "" };
}

/**
 * A site owner's audit target. With `lock`, an owner org is locked, so that it cannot be deleted
 * between this check and the write that references it.
 */
export async function loadOwner(
  tx: DirectoryTx,
  owner: SiteOwner,
  lock: boolean,
): Promise<{ target: string }> {
  if (owner.orgId !== undefined) {
    const locked = !lock || (await tx.lockOwner({ kind: "org", id: owner.orgId }));
    const org = locked ? await tx.orgs.findOrgById(owner.orgId) : undefined;
    if (!org) throw notFoundError("org", owner.orgId);
    return { target: orgTarget(org) };
  }
  const user = await tx.users.findUserById(owner.userId);
  if (!user) throw notFoundError("user", owner.userId);
  return { target: userTarget(user) };
}
