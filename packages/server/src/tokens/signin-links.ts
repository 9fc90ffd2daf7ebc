import { randomBytes, randomUUID } from "node:crypto";
import { LockboxError } from "@lockbox/core";
import type { AuditStore } from "../audit/audit-store.js";
import { auditBase, userTarget } from "../audit/audit-targets.js";
import type { Transactional } from "../db/ports.js";
import type { Caller } from "../directory/caller.js";
import type { UserStore } from "../directory/directory-store.js";
import { isTokenActive } from "./records.js";
import type { SigninLinkStore } from "./signin-link-store.js";
import { generateToken, hashToken } from "./token-format.js";
import type { IssuedToken } from "./token-service.js";
import { tokenTarget } from "./token-service.js";
import type { TokenStore } from "./token-store.js";

/** How long a sign-in link works: 5 minutes. */
export const SIGNIN_LINK_LIFETIME_MS = 5 * 60 * 1000;
/** How long a dashboard session (the user token a link is exchanged for) lasts: 12 hours. */
export const UI_SESSION_LIFETIME_MS = 12 * 60 * 60 * 1000;

/** A sign-in link's secret: `lbs_` and 32 random bytes, base64url (like a token, but no token). */
const LINK_FORMAT = /^lbs_[A-Za-z0-9_-]{43}$/;
const INVALID_LINK =
  "The sign-in link is invalid, expired or already used: run 'lockbox ui' for a new one (links work once, for 5 minutes).";

/** A link just created: its secret, shown once, and when it stops working. */
export interface IssuedSigninLink {
  readonly secret: string;
  readonly expiresAt: string;
}

export interface SigninLinkStores extends Transactional<SigninLinkTx> {
  readonly signinLinks: Pick<SigninLinkStore, "findSigninLinkByHash">;
}
export interface SigninLinkTx {
  readonly signinLinks: SigninLinkStore;
  readonly tokens: Pick<TokenStore, "insertToken" | "findTokenById">;
  readonly users: Pick<UserStore, "findUserById">;
  readonly audit: Pick<AuditStore, "appendAudit">;
}

/**
 * Sign-in to the web dashboard without pasting a long-lived token: `lockbox ui` asks for a one-time
 * link for the logged-in user (valid 5 minutes, stored as the hash of its secret), and the page
 * exchanges it, once, for a session: a user token of that user that expires in 12 hours (or when the
 * token that made the link expires, if sooner), listed by `token:list` and revoked like any token.
 * Both steps are audited (`ui.link.create`, `ui.signin`).
 */
export class SigninLinkService {
  readonly #now: () => Date;

  constructor(
    private readonly stores: SigninLinkStores,
    options: { now?: () => Date } = {},
  ) {
    this.#now = options.now ?? (() => new Date());
  }

  /** A new sign-in link for the caller. */
  async create(caller: Caller): Promise<IssuedSigninLink> {
    const secret = `lbs_${randomBytes(32).toString("base64url")}`;
    const now = this.#now();
    const expiresAt = new Date(now.getTime() + SIGNIN_LINK_LIFETIME_MS).toISOString();
    await this.stores.transaction(async (tx) => {
      // The user's used and expired links go: the table holds at most their live links and the last.
      await tx.signinLinks.deleteSpentSigninLinks(caller.user.id, now.toISOString());
      await tx.signinLinks.insertSigninLink({
        id: randomUUID(),
        hash: hashToken(secret),
        userId: caller.user.id,
        createdAt: now.toISOString(),
        expiresAt,
        sessionExpiresAt: caller.token.expiresAt,
        createdByTokenId: caller.token.id,
      });
      await tx.audit.appendAudit({
        ...auditBase(caller),
        action: "ui.link.create",
        target: userTarget(caller.user),
      });
    });
    return { secret, expiresAt };
  }

  /**
   * Exchanges a link's secret for a session token, once.
   * @throws {LockboxError} `UNAUTHENTICATED` (one message for every cause) for a malformed, unknown,
   * expired or used link, or one whose user is gone.
   */
  async exchange(secret: string, requestId?: string | null): Promise<IssuedToken> {
    if (!LINK_FORMAT.test(secret)) throw new LockboxError("UNAUTHENTICATED", INVALID_LINK);
    const hash = hashToken(secret);
    const found = await this.stores.signinLinks.findSigninLinkByHash(hash);
    const now = this.#now();
    if (!found || found.usedAt !== null || !(Date.parse(found.expiresAt) > now.getTime())) {
      throw new LockboxError("UNAUTHENTICATED", INVALID_LINK);
    }
    // A session ends within 12 hours, and no later than the token that made the link: sessions
    // cannot be chained into a credential that outlives it.
    const sessionEndsMs = Math.min(
      now.getTime() + UI_SESSION_LIFETIME_MS,
      found.sessionExpiresAt === null ? Number.POSITIVE_INFINITY : Date.parse(found.sessionExpiresAt),
    );
    if (!(sessionEndsMs > now.getTime())) throw new LockboxError("UNAUTHENTICATED", INVALID_LINK);
    return this.stores.transaction(async (tx) => {
      const user = await tx.users.findUserById(found.userId);
      // A link is worth no more than the token that made it: revoked (or gone), it is spent too.
      const maker =
        found.createdByTokenId === null ? undefined : await tx.tokens.findTokenById(found.createdByTokenId);
      if (
        !user ||
        (found.createdByTokenId !== null && (maker === undefined || !isTokenActive(maker, now.getTime()))) ||
        !(await tx.signinLinks.useSigninLink(found.id, now.toISOString()))
      ) {
        throw new LockboxError("UNAUTHENTICATED", INVALID_LINK);
      }
      const token = generateToken("user");
      const row = await tx.tokens.insertToken({
        id: randomUUID(),
        kind: "user",
        hash: hashToken(token),
        userId: user.id,
        environmentId: null,
        createdBy: user.id,
        expiresAt: new Date(sessionEndsMs).toISOString(),
      });
      await tx.audit.appendAudit({
        ...auditBase({ actor: `user:${user.id}`, requestId: requestId ?? null }),
        action: "ui.signin",
        target: `${userTarget(user)}/${tokenTarget(row)}`,
      });
      return { token, row };
    });
  }
}
