import { randomUUID } from "node:crypto";
import { LockboxError } from "@lockbox/core";
import { userTarget } from "../audit/audit-targets.js";
import type { SecretStore, StoreTx, UserRow } from "../db/secret-store.js";
import type { RequestContext } from "../directory/caller.js";
import { generateToken, hashToken, parseTokenKind } from "./token-service.js";

/** The platform admin's email (SPEC §5). */
export const ADMIN_EMAIL = "admin@localhost";

/** What {@link bootstrapAdmin} did. */
export type BootstrapResult =
  | {
      readonly created: true;
      readonly admin: UserRow /** Shown once; null when it came from the operator. */;
      readonly token: string | null;
    }
  | {
      readonly created: false;
      readonly admin: UserRow /** The operator's token was ignored. */;
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
  store: SecretStore,
  options: { token?: string | undefined } = {},
): Promise<BootstrapResult> {
  if (options.token !== undefined && parseTokenKind(options.token) !== "user") {
    throw new LockboxError(
      "VALIDATION_FAILED",
      "LOCKBOX_BOOTSTRAP_TOKEN must be a user token: 'lbx_' followed by 43 base64url characters (32 random bytes).",
    );
  }
  const existing = await store.findFirstAdmin();
  if (existing) return { created: false, admin: existing, ignoredToken: options.token !== undefined };
  try {
    return await store.transaction(async (tx) => {
      const admin = await tx.insertUser({ id: randomUUID(), email: ADMIN_EMAIL, isAdmin: true });
      const token = options.token ?? generateToken("user");
      await insertAdminToken(ctx, tx, admin, token, "admin.bootstrap");
      return { created: true as const, admin, token: options.token === undefined ? token : null };
    });
  } catch (error) {
    const winner = await store.findFirstAdmin();
    if (winner) return { created: false, admin: winner, ignoredToken: options.token !== undefined };
    throw error;
  }
}

/**
 * `admin:token`: a new user token for the platform admin, minted offline on the server's machine
 * when the admin's token is lost. Audited.
 */
export async function mintAdminToken(ctx: RequestContext, store: SecretStore): Promise<string> {
  const admin = await store.findFirstAdmin();
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
  tx: StoreTx,
  admin: UserRow,
  token: string,
  action: "admin.bootstrap" | "token.create",
): Promise<void> {
  const row = await tx.insertToken({
    id: randomUUID(),
    kind: "user",
    hash: hashToken(token),
    userId: admin.id,
    environmentId: null,
    createdBy: null,
    expiresAt: null,
  });
  await tx.appendAudit({
    actor: ctx.actor,
    requestId: ctx.requestId ?? null,
    action,
    target: `${userTarget(admin)}/token:${row.id}`,
    outcome: "success",
  });
}
