import { randomBytes, randomUUID } from "node:crypto";
import type { OwnerRef } from "@lockbox/core";
import type { AuditEvent } from "../audit/records.js";
import { type Caller, callerOf } from "../directory/caller.js";
import type { OrgRow, SiteRow, UserRow } from "../directory/records.js";
import { createLockbox, type Lockbox } from "../lockbox.js";
import type { TokenRow } from "../tokens/records.js";
import type { TestDatabase } from "./test-databases.js";

/** A new random master key, base64, as `LOCKBOX_MASTER_KEY` takes it. */
export function randomMasterKey(): string {
  return randomBytes(32).toString("base64");
}

/**
 * Lockbox wired by the composition root over a test database, with a random master key (or the
 * one given, to open the same database again), delivery audit events written every 20 ms, and
 * `now` as the clock of token expiry when given.
 */
export function createTestLockbox(
  database: TestDatabase,
  options: { masterKey?: string; env?: Record<string, string>; now?: (() => Date) | undefined } = {},
): Promise<Lockbox> {
  return createLockbox({
    db: database.location,
    env: { LOCKBOX_MASTER_KEY: options.masterKey ?? randomMasterKey(), ...options.env },
    auditFlushIntervalMs: 20,
    now: options.now,
  });
}

/**
 * A caller for service tests: a new user stored in `lockbox` (the platform admin with `admin`),
 * acting through a user token that is not stored (services read only its id and kind).
 */
export async function testCaller(
  lockbox: Pick<Lockbox, "stores">,
  options: { email?: string; admin?: boolean } = {},
): Promise<Caller> {
  const user = await lockbox.stores.users.insertUser({
    id: randomUUID(),
    email: options.email ?? `${randomUUID().slice(0, 8)}@example.com`,
    isAdmin: options.admin ?? false,
  });
  return callerOf(user, testToken(user), "req-test");
}

/** A user token row for `user`, as a caller carries it (not stored). */
export function testToken(user: UserRow): TokenRow {
  return {
    id: randomUUID(),
    kind: "user",
    hash: "",
    userId: user.id,
    userEmail: user.email,
    siteId: null,
    siteName: null,
    environmentId: null,
    environmentName: null,
    createdBy: null,
    createdAt: new Date().toISOString(),
    expiresAt: null,
    lastUsedAt: null,
    revokedAt: null,
  };
}

/** The error `promise` rejects with, or undefined when it resolves. */
export function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** The audit events `fn` appended (it must not run beside other writers). */
export async function auditOf(
  lockbox: Pick<Lockbox, "stores">,
  fn: () => Promise<unknown>,
): Promise<AuditEvent[]> {
  const [head] = await lockbox.stores.audit.listAudit({ limit: 1 });
  await fn();
  return lockbox.stores.audit.readAuditChain(head?.seq ?? 0, 1000);
}

/**
 * Stores a `runtime` secret of scope `web` below the services: a base value `base` and one override
 * `value-<env>` per environment, sealed under its owner's data key. Returns the secret's id.
 */
export function putSecret(
  lockbox: Pick<Lockbox, "stores" | "vault">,
  owner: OwnerRef,
  name: string,
  overrideEnvs: readonly string[] = [],
): Promise<string> {
  return lockbox.stores.transaction(async (tx) => {
    const id = randomUUID();
    await tx.secrets.insertSecret({ id, owner, name, type: "runtime", scopes: ["web"] });
    await tx.secrets.putValue(
      id,
      null,
      await lockbox.vault.seal(owner, { secretId: id, env: null }, "base", tx.dataKeys),
    );
    for (const env of overrideEnvs) {
      await tx.secrets.putValue(
        id,
        env,
        await lockbox.vault.seal(owner, { secretId: id, env }, `value-${env}`, tx.dataKeys),
      );
    }
    return id;
  });
}

/** A site of `owner` (an org or a user) with a random name and its own data key, straight in the store. */
export async function insertSite(
  lockbox: Lockbox,
  owner: { orgId: string } | { userId: string },
  name?: string,
): Promise<SiteRow> {
  const id = randomUUID();
  return lockbox.stores.sites.insertSite({
    id,
    name: name ?? `site-${id.slice(0, 8)}`,
    owner,
    dataKey: await lockbox.vault.newDataKey({ kind: "site", id }),
  });
}

/** An org with a random name and its own data key, with `members` (user id → role), straight in the store. */
export async function insertOrg(
  lockbox: Lockbox,
  members: Readonly<Record<string, "admin" | "member">> = {},
  name?: string,
): Promise<OrgRow> {
  const id = randomUUID();
  const org = await lockbox.stores.orgs.insertOrg({
    id,
    name: name ?? `org-${id.slice(0, 8)}`,
    dataKey: await lockbox.vault.newDataKey({ kind: "org", id }),
  });
  for (const [userId, role] of Object.entries(members)) {
    await lockbox.stores.orgs.upsertMembership(org.id, userId, role);
  }
  return org;
}
