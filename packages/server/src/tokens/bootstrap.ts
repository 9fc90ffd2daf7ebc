import { randomUUID } from "node:crypto";
import { LockboxError } from "@lockbox/core";
import type { AuditStore } from "../audit/audit-store.js";
import { userTarget } from "../audit/audit-targets.js";
import type { RequestContext } from "../audit/request-context.js";
import type { Transactional } from "../db/ports.js";
import type { UserStore } from "../directory/directory-store.js";
import type { UserRow } from "../directory/records.js";
import { generateToken, hashToken, parseTokenKind } from "./token-format.js";
import type { TokenStore } from "./token-store.js";

/** What the bootstrap reads and writes: users, and a transaction that creates the admin with its token. */
export interface BootstrapStores extends Transactional<BootstrapTx> {
  readonly users: Pick<UserStore, "findFirstAdmin">;
}
export interface BootstrapTx {
  readonly users: Pick<UserStore, "insertUser">;
  readonly tokens: Pick<TokenStore, "insertToken">;
  readonly audit: Pick<AuditStore, "appendAudit">;
}

/** The platform admin's email (SPEC §5). */
export const ADMIN_EMAIL = "admin@localhost";

/** What {@link bootstrapAdmin} did. */
export type BootstrapResult =
  | {
      readonly created: true;
      readonly admin: UserRow;
      /** Shown once; null when it came from the operator. */
      readonly token: string | null;
    }
  | {
      readonly created: false;
      readonly admin: UserRow;
      /** The operator's token was ignored. */
      readonly ignoredToken: boolean;
    };

/**
 * On an empty store, creates the platform admin (`admin@localhost`) and its first user token: the
 * operator's `LOCKBOX_BOOTSTRAP_TOKEN` when given (stored only as its hash), else a new one that
 * the caller prints once. Once an admin exists, does nothing. Several servers starting together on
 * one PostgreSQL create one admin: the unique email settles the race, and the losers find it.
 */
export async function bootstrapAdmin(
  ctx: RequestContext,
  store: BootstrapStores,
  options: { token?: string | undefined } = {},
): Promise<BootstrapResult> {
  if (options.token !== undefined && parseTokenKind(options.token) !== "user") {
    throw new LockboxError(
      "VALIDATION_FAILED",
      "LOCKBOX_BOOTSTRAP_TOKEN must be a user token: 'lbx_' followed by 43 base64url characters (32 random bytes).",
    );
  }
  const existing = await store.users.findFirstAdmin();
  if (existing) return { created: false, admin: existing, ignoredToken: options.token !== undefined };
  try {
    return await store.transaction(async (tx) => {
      const admin = await tx.users.insertUser({ id: randomUUID(), email: ADMIN_EMAIL, isAdmin: true });
      const token = options.token ?? generateToken("user");
      await insertAdminToken(ctx, tx, admin, token, "admin.bootstrap");
      return { created: true as const, admin, token: options.token === undefined ? token : null };
    });
  } catch (error) {
    const winner = await store.users.findFirstAdmin();
    if (winner) return { created: false, admin: winner, ignoredToken: options.token !== undefined };
    throw error;
  }
}

/**
 * `admin:token`: a new user token for the platform admin, minted offline on the server's machine
 * when the admin's token is lost. Audited.
 */
export async function mintAdminToken(ctx: RequestContext, store: BootstrapStores): Promise<string> {
  const admin = await store.users.findFirstAdmin();
  if (!admin) {
    throw new LockboxError(
      "NOT_FOUND",
      "This store has no platform admin yet: start the server once to create it.",
    );
  }
  const token = generateToken("user");
  await store.transaction((tx) => insertAdminToken(ctx, tx, admin, token, "token.create"));
  return token;
}

/** Stores the admin's token (only its hash) and audits it, inside the caller's transaction. */
async function insertAdminToken(
  ctx: RequestContext,
  tx: BootstrapTx,
  admin: UserRow,
  token: string,
  action: "admin.bootstrap" | "token.create",
): Promise<void> {
  const row = await tx.tokens.insertToken({
    id: randomUUID(),
    kind: "user",
    hash: hashToken(token),
    userId: admin.id,
    environmentId: null,
    createdBy: null,
    expiresAt: null,
  });
  await tx.audit.appendAudit({
    actor: ctx.actor,
    requestId: ctx.requestId ?? null,
    action,
    target: `${userTarget(admin)}/token:${row.id}`,
    outcome: "success",
  });
}
