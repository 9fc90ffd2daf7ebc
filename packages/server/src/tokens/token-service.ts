import { randomUUID } from "node:crypto";
import {
  buildEnvironmentError,
  environmentNotFoundMessage,
  isBuildEnvironment,
  LockboxError,
  notFoundError,
  parseTokenLifetime,
} from "@lockbox/core";
import type { AuditStore } from "../audit/audit-store.js";
import { auditBase, siteTarget, userTarget } from "../audit/audit-targets.js";
import type { ChangeRecorder, OwnerLocks, PageRequest, Transactional } from "../db/ports.js";
import { type AccessPolicy, forbiddenError } from "../directory/access-policy.js";
import { type Caller, callerOf } from "../directory/caller.js";
import { lockSite } from "../directory/directory-rules.js";
import type { EnvironmentStore, SiteStore, UserStore } from "../directory/directory-store.js";
import { findUserByRef } from "../directory/lookups.js";
import type { SiteRow, UserRow } from "../directory/records.js";
import { isTokenActive, type TokenKind, type TokenRow } from "./records.js";
import { generateToken, hashToken, parseTokenKind } from "./token-format.js";
import type { TokenStore } from "./token-store.js";

const UNAUTHENTICATED_MESSAGE = "The token is invalid, expired or revoked.";

/** A token just minted: the plaintext, shown once and never stored, and its stored row. */
export interface IssuedToken {
  readonly token: string;
  readonly row: TokenRow;
}

/** What `token:create` asks for: a user token (for the caller or, for the admin, anyone) or a site environment's token. */
export interface CreateTokenRequest {
  readonly kind: TokenKind;
  /** For a user token: whose (email or UUID); the caller's own when absent. */
  readonly user?: string | undefined;
  /** For a runtime or build token: the site (name or UUID) and its environment. */
  readonly site?: string | undefined;
  readonly env?: string | undefined;
  /**
   * Lifetime from now, such as `30m`, `12h` or `90d` (core's `parseTokenLifetime`: at most 365 days);
   * without it the token lasts until revoked.
   */
  readonly expiresIn?: string | undefined;
}

/** What the token service reads and writes. */
export interface TokenStores extends Transactional<TokensTx> {
  readonly tokens: Pick<TokenStore, "findTokenByHash" | "findTokenById" | "listTokens">;
  readonly users: Pick<UserStore, "findUserById" | "findUserByEmail">;
  readonly sites: Pick<SiteStore, "findSiteById">;
}
export interface TokensTx extends OwnerLocks, ChangeRecorder {
  readonly tokens: TokenStore;
  readonly users: Pick<UserStore, "findUserById">;
  readonly sites: Pick<SiteStore, "findSiteById">;
  readonly environments: Pick<EnvironmentStore, "findEnvironment">;
  readonly audit: Pick<AuditStore, "appendAudit">;
}

/**
 * API tokens (SPEC §5): user tokens for people, runtime tokens bound to a site environment for
 * `GET /site/secrets`, build tokens bound to `dev` or a multidev for builds. A token is shown once
 * when minted and stored only as its hash; minting and revoking are audited in the same
 * transaction, never with the token. Who may mint, list and revoke is decided here: people manage
 * their own user tokens (the platform admin anyone's), and the tokens of the sites they can see.
 */
export class TokenService {
  readonly #now: () => Date;

  /** `now` is the clock expiry is measured with (the system clock by default). */
  constructor(
    private readonly stores: TokenStores,
    private readonly policy: AccessPolicy,
    options: { now?: () => Date } = {},
  ) {
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * `token:create`, `token:runtime:create`, `token:build:create`. Audited as `token.create`.
   * @throws {LockboxError} `BAD_REQUEST` for a user token with a site, or a site token without one;
   * `FORBIDDEN` for another user's token (unless platform admin); `USER_NOT_FOUND`/`SITE_NOT_FOUND`;
   * `ENVIRONMENT_NOT_FOUND`; `VALIDATION_FAILED` for a build token of `test` or `live`, a bad
   * `expiresIn` (naming the accepted format and the maximum), or a user token that would outlive the
   * expiring token making the request (which, without `expiresIn`, it expires with).
   */
  async createToken(caller: Caller, request: CreateTokenRequest): Promise<IssuedToken> {
    if (request.kind === "user") {
      if (request.site !== undefined || request.env !== undefined) {
        throw new LockboxError(
          "BAD_REQUEST",
          "A user token is not bound to a site: leave out 'site' and 'env'.",
        );
      }
      const user =
        request.user === undefined
          ? caller.user
          : await this.#userFor(
              caller,
              request.user,
              "Only the platform admin can create tokens for other users.",
            );
      return this.#createUserToken(caller, user, this.#userTokenExpiry(caller, request.expiresIn));
    }
    if (request.site === undefined || request.env === undefined || request.user !== undefined) {
      throw new LockboxError(
        "BAD_REQUEST",
        `A ${request.kind} token needs 'site' and 'env' (and no 'user').`,
      );
    }
    const { site } = await this.policy.site(caller, request.site);
    if (request.kind === "build" && !isBuildEnvironment(request.env))
      throw buildEnvironmentError(request.env);
    return this.#createSiteToken(caller, request.kind, site, request.env, request.expiresIn);
  }

  /**
   * `token:list`: tokens in id order, revoked ones included, never a plaintext: of one site the
   * caller can see, of one user (the caller's own, or anyone's for the platform admin), or by
   * default the caller's own.
   */
  async list(
    caller: Caller,
    filter: { user?: string | undefined; site?: string | undefined } & PageRequest = {},
  ): Promise<TokenRow[]> {
    const query: { userId?: string; siteId?: string } & PageRequest = {
      ...(filter.limit !== undefined ? { limit: filter.limit } : {}),
      ...(filter.after !== undefined ? { after: filter.after } : {}),
    };
    if (filter.site !== undefined) query.siteId = (await this.policy.site(caller, filter.site)).site.id;
    if (filter.user !== undefined) {
      query.userId = (
        await this.#userFor(caller, filter.user, "Only the platform admin can list other users' tokens.")
      ).id;
    }
    if (filter.site === undefined && filter.user === undefined) query.userId = caller.user.id;
    return this.stores.tokens.listTokens(query);
  }

  /**
   * `token:revoke`: revokes a token the caller may see (its own, its sites', any for the platform
   * admin); revoking a revoked token changes nothing and succeeds. Returns the token as it is now.
   * Audited as `token.revoke`.
   * @throws {LockboxError} `TOKEN_NOT_FOUND` when there is no such token or the caller may not see it.
   */
  async revoke(caller: Caller, tokenId: string): Promise<TokenRow> {
    const token = await this.stores.tokens.findTokenById(tokenId);
    if (!token || !(await this.#maySee(caller, token))) throw notFoundError("token", tokenId);
    return this.stores.transaction(async (tx) => {
      const existing = await tx.tokens.findTokenById(token.id);
      if (!existing) throw notFoundError("token", tokenId);
      await tx.tokens.revokeToken(existing.id, this.#now().toISOString());
      const site = existing.siteId === null ? undefined : await tx.sites.findSiteById(existing.siteId);
      const row = (await tx.tokens.findTokenById(existing.id)) ?? existing;
      await tx.recordChange({ kind: "token", id: row.id });
      await tx.audit.appendAudit({
        ...auditBase(caller),
        action: "token.revoke",
        target: site ? `${siteTarget(site)}/${tokenTarget(row)}` : tokenTarget(row),
        environment: row.environmentName,
        siteId: row.siteId,
        orgId: site?.ownerOrgId ?? null,
      });
      return row;
    });
  }

  /**
   * Who `token` is. The format is checked before anything is hashed or read, and the plaintext is
   * never compared: the lookup is by hash.
   * @throws {LockboxError} `UNAUTHENTICATED` (`The token is invalid, expired or revoked.`, the same
   * for every cause) for a malformed, unknown, revoked or expired token.
   */
  async authenticate(token: string): Promise<TokenRow> {
    const kind = parseTokenKind(token);
    if (kind === undefined) throw unauthenticated();
    const row = await this.stores.tokens.findTokenByHash(hashToken(token));
    if (!row || row.kind !== kind || !isTokenActive(row, this.#now().getTime())) throw unauthenticated();
    return row;
  }

  /**
   * The person behind a user token, for the management API.
   * @throws {LockboxError} `UNAUTHENTICATED` as {@link authenticate}, or when the user is gone;
   * `FORBIDDEN` for a runtime or build token, naming the endpoint it can read.
   */
  async authenticateUser(token: string, requestId?: string | null): Promise<Caller> {
    const row = await this.authenticate(token);
    if (row.kind !== "user" || row.userId === null) {
      throw forbiddenError(
        `A ${row.kind} token can only read ${row.kind === "runtime" ? "GET /site/secrets" : "GET /v1/build/secrets"}: use a user token (lbx_…) for the management API.`,
      );
    }
    const user = await this.stores.users.findUserById(row.userId);
    if (!user) throw unauthenticated();
    return callerOf(user, row, requestId);
  }

  /** The user `ref` names, if the caller may act for it (itself, or anyone for the platform admin). */
  async #userFor(caller: Caller, ref: string, forbidden: string): Promise<UserRow> {
    const target = await findUserByRef(this.stores.users, ref);
    if (!caller.user.isAdmin && target?.id !== caller.user.id) throw forbiddenError(forbidden);
    if (!target) throw notFoundError("user", ref);
    return target;
  }

  /** Whether the caller may see (and revoke) a token: its own, its sites', or any for the admin. */
  async #maySee(caller: Caller, token: TokenRow): Promise<boolean> {
    if (caller.user.isAdmin || token.userId === caller.user.id) return true;
    if (token.siteId === null) return false;
    const site = await this.stores.sites.findSiteById(token.siteId);
    return site !== undefined && (await this.policy.siteAccessOf(caller, site)) !== undefined;
  }

  async #createUserToken(caller: Caller, user: UserRow, expiresAt: string | null): Promise<IssuedToken> {
    return this.stores.transaction(async (tx) => {
      if (!(await tx.users.findUserById(user.id))) throw notFoundError("user", user.email);
      const token = generateToken("user");
      const row = await tx.tokens.insertToken({
        id: randomUUID(),
        kind: "user",
        hash: hashToken(token),
        userId: user.id,
        environmentId: null,
        createdBy: caller.user.id,
        expiresAt,
      });
      await tx.audit.appendAudit({
        ...auditBase(caller),
        action: "token.create",
        target: `${userTarget(user)}/${tokenTarget(row)}`,
      });
      return { token, row };
    });
  }

  async #createSiteToken(
    caller: Caller,
    kind: "runtime" | "build",
    site: SiteRow,
    envName: string,
    expiresIn?: string,
  ): Promise<IssuedToken> {
    const expiresAt = this.#expiry(expiresIn);
    return this.stores.transaction(async (tx) => {
      // The lock keeps the environment from being deleted before the token references it.
      const current = await lockSite(tx, site);
      const environment = await tx.environments.findEnvironment(current.id, envName);
      if (!environment) {
        throw new LockboxError("ENVIRONMENT_NOT_FOUND", environmentNotFoundMessage(envName, current.name));
      }
      const token = generateToken(kind);
      const row = await tx.tokens.insertToken({
        id: randomUUID(),
        kind,
        hash: hashToken(token),
        userId: null,
        environmentId: environment.id,
        createdBy: caller.user.id,
        expiresAt,
      });
      await tx.audit.appendAudit({
        ...auditBase(caller),
        action: "token.create",
        target: `${siteTarget(current)}/env:${envName}/${tokenTarget(row)}`,
        environment: envName,
        siteId: current.id,
        orgId: current.ownerOrgId,
      });
      return { token, row };
    });
  }

  /**
   * A user token made with an expiring token expires no later than that token: without `expiresIn`
   * it gets the same expiry; an `expiresIn` that would outlive it is refused. Otherwise a stolen
   * short-lived token (a dashboard session) could mint one that never expires.
   */
  #userTokenExpiry(caller: Caller, expiresIn: string | undefined): string | null {
    const requested = this.#expiry(expiresIn);
    const limit = caller.token.expiresAt;
    if (limit === null) return requested;
    if (requested === null) return limit;
    if (Date.parse(requested) <= Date.parse(limit)) return requested;
    throw new LockboxError(
      "VALIDATION_FAILED",
      `expiresIn '${expiresIn}' would outlive the token making this request, which expires at ${limit}: ` +
        "a user token made with an expiring token expires no later than it. Use a shorter expiresIn, " +
        "leave it out (the new token then expires with this one), or make it with a token that does not expire.",
    );
  }

  #expiry(expiresIn: string | undefined): string | null {
    if (expiresIn === undefined) return null;
    const seconds = parseTokenLifetime(expiresIn, "expiresIn");
    return new Date(this.#now().getTime() + seconds * 1000).toISOString();
  }
}

function unauthenticated(): LockboxError {
  return new LockboxError("UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE);
}

/** A token in audit targets: its id and kind, never the token. */
export function tokenTarget(row: Pick<TokenRow, "id" | "kind">): string {
  return `token:${row.id}:${row.kind}`;
}
