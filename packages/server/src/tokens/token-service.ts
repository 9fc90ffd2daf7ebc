import { createHash, randomBytes, randomUUID } from "node:crypto";
import {
  buildEnvironmentError,
  environmentNotFoundMessage,
  isBuildEnvironment,
  LockboxError,
  notFoundError,
  quoteIdentifier,
} from "@lockbox/core";
import { siteTarget, userTarget } from "../audit/audit-targets.js";
import type { PageRequest, SecretStore, SiteRow, TokenKind, TokenRow, UserRow } from "../db/secret-store.js";
import type { RequestContext } from "../directory/caller.js";

/** The prefix of each kind of token (SPEC §5), so a token says what it is wherever it leaks. */
export const TOKEN_PREFIXES = {
  user: "lbx_",
  runtime: "lbr_",
  build: "lbb_",
} as const satisfies Record<TokenKind, string>;

/** Random bytes in a token: 32, which base64url writes as 43 characters. */
export const TOKEN_RANDOM_BYTES = 32;

/** A well-formed token: prefix, then 43 base64url characters. */
const TOKEN_FORMAT = /^lb([xrb])_[A-Za-z0-9_-]{43}$/;
const TOKEN_LENGTH = 4 + 43;
const KIND_BY_LETTER: Readonly<Record<string, TokenKind>> = { x: "user", r: "runtime", b: "build" };

/** The longest lifetime a token can be given: 100 years, so every expiry is a valid date. */
export const MAX_TOKEN_TTL_SECONDS = 100 * 365 * 24 * 60 * 60;

const UNAUTHENTICATED_MESSAGE = "The token is invalid, expired or revoked.";

/** A token just minted: the plaintext, shown once and never stored, and its stored row. */
export interface IssuedToken {
  readonly token: string;
  readonly row: TokenRow;
}

/** Who a valid token is. */
export interface AuthenticatedToken {
  readonly token: TokenRow;
}

/** Options of every `create*Token`. */
export interface CreateTokenOptions {
  /** Lifetime from now, 1 to {@link MAX_TOKEN_TTL_SECONDS}; without it the token lasts until revoked. */
  readonly ttlSeconds?: number | undefined;
}

/**
 * The kind a token claims by its prefix, or undefined when the string is not a well-formed token
 * (wrong prefix, length or alphabet). Says nothing about whether the token is valid.
 */
export function parseTokenKind(token: string): TokenKind | undefined {
  if (token.length !== TOKEN_LENGTH) return undefined;
  const match = TOKEN_FORMAT.exec(token);
  return match?.[1] === undefined ? undefined : KIND_BY_LETTER[match[1]];
}

/**
 * The form in which a token is stored and looked up: hex SHA-256 of the whole token string,
 * prefix included. Tokens carry 256 random bits, so a fast unsalted hash is enough: there is
 * nothing to guess, and a lookup by hash compares no secret byte by byte.
 */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A new token of `kind`: its prefix and 32 bytes from the system's CSPRNG, base64url. */
export function generateToken(kind: TokenKind): string {
  return `${TOKEN_PREFIXES[kind]}${randomBytes(TOKEN_RANDOM_BYTES).toString("base64url")}`;
}

/**
 * API tokens (SPEC §5): user tokens for people, runtime tokens bound to a site environment for
 * `GET /site/secrets`, build tokens bound to `dev` or a multidev for builds. A token is shown once
 * when minted and stored only as {@link hashToken}; minting and revoking are audited in the same
 * transaction, never with the token. Deleting the environment, site or user a token is bound to
 * deletes the token.
 */
export class TokenService {
  readonly #store: SecretStore;
  readonly #now: () => Date;

  /** `now` is the clock expiry is measured with (the system clock by default). */
  constructor(store: SecretStore, options: { now?: () => Date } = {}) {
    this.#store = store;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * `token:create`: a user token for `user`. Its `createdBy` is the user of `ctx.actor`
   * (`user:<uuid>`), else null. Audited as `token.create`.
   * @throws {LockboxError} `USER_NOT_FOUND` when the user no longer exists; `VALIDATION_FAILED`
   * for a bad `ttlSeconds`.
   */
  async createUserToken(
    ctx: RequestContext,
    user: UserRow,
    options: CreateTokenOptions = {},
  ): Promise<IssuedToken> {
    const expiresAt = this.#expiry(options);
    return this.#store.transaction(async (tx) => {
      if (!(await tx.findUserById(user.id))) throw notFoundError("user", user.email);
      const token = generateToken("user");
      const row = await tx.insertToken({
        id: randomUUID(),
        kind: "user",
        hash: hashToken(token),
        userId: user.id,
        environmentId: null,
        createdBy: actorUserId(ctx),
        expiresAt,
      });
      await tx.appendAudit({
        ...auditBase(ctx),
        action: "token.create",
        target: `${userTarget(user)}/${tokenTarget(row)}`,
      });
      return { token, row };
    });
  }

  /**
   * `token:runtime:create`: a runtime token bound to `envName` of `site`. Audited as `token.create`.
   * @throws {LockboxError} `SITE_NOT_FOUND`; `ENVIRONMENT_NOT_FOUND` when the site has no such
   * environment; `VALIDATION_FAILED` for a bad `ttlSeconds`.
   */
  createRuntimeToken(
    ctx: RequestContext,
    site: SiteRow,
    envName: string,
    options: CreateTokenOptions = {},
  ): Promise<IssuedToken> {
    return this.#createSiteToken(ctx, "runtime", site, envName, options);
  }

  /**
   * `token:build:create`: a build token bound to `envName` of `site`, which must be `dev` or a
   * multidev. Audited as `token.create`.
   * @throws {LockboxError} `VALIDATION_FAILED` for `test` or `live`
   * (`Integrated Composer builds run only in dev or a multidev environment, never in 'live'.`);
   * `SITE_NOT_FOUND`; `ENVIRONMENT_NOT_FOUND`.
   */
  createBuildToken(
    ctx: RequestContext,
    site: SiteRow,
    envName: string,
    options: CreateTokenOptions = {},
  ): Promise<IssuedToken> {
    if (!isBuildEnvironment(envName)) return Promise.reject(buildEnvironmentError(envName));
    return this.#createSiteToken(ctx, "build", site, envName, options);
  }

  /**
   * Who `token` is. The format is checked before anything is hashed or read, and the plaintext is
   * never compared: the lookup is by hash.
   * @throws {LockboxError} `UNAUTHENTICATED` (`The token is invalid, expired or revoked.`, the same
   * for every cause) for a malformed, unknown, revoked or expired token.
   */
  async authenticate(token: string): Promise<AuthenticatedToken> {
    const kind = parseTokenKind(token);
    if (kind === undefined) throw unauthenticated();
    const row = await this.#store.findTokenByHash(hashToken(token));
    if (!row || row.kind !== kind || row.revokedAt !== null) throw unauthenticated();
    // Written as "not still valid" so an unreadable expiry (NaN) counts as expired, never as forever.
    if (row.expiresAt !== null && !(Date.parse(row.expiresAt) > this.#now().getTime()))
      throw unauthenticated();
    return { token: row };
  }

  /**
   * `token:revoke`: revokes a token by id; revoking a revoked token changes nothing and succeeds.
   * Returns the token as it is now. Audited as `token.revoke`.
   * @throws {LockboxError} `TOKEN_NOT_FOUND` when there is no such token.
   */
  async revoke(ctx: RequestContext, tokenId: string): Promise<TokenRow> {
    return this.#store.transaction(async (tx) => {
      const existing = await tx.findTokenById(tokenId);
      if (!existing) throw notFoundError("token", tokenId);
      await tx.revokeToken(existing.id, this.#now().toISOString());
      const site = existing.siteId === null ? undefined : await tx.findSiteById(existing.siteId);
      const row = (await tx.findTokenById(existing.id)) ?? existing;
      await tx.recordChange({ kind: "token", id: row.id });
      await tx.appendAudit({
        ...auditBase(ctx),
        action: "token.revoke",
        target: site ? `${siteTarget(site)}/${tokenTarget(row)}` : tokenTarget(row),
        environment: row.environmentName,
        siteId: row.siteId,
        orgId: site?.ownerOrgId ?? null,
      });
      return row;
    });
  }

  /** `token:list`: tokens in id order, revoked ones included, filtered by user or site. Never a plaintext. */
  list(filter: { userId?: string; siteId?: string } & PageRequest = {}): Promise<TokenRow[]> {
    return this.#store.listTokens(filter);
  }

  async #createSiteToken(
    ctx: RequestContext,
    kind: "runtime" | "build",
    site: SiteRow,
    envName: string,
    options: CreateTokenOptions,
  ): Promise<IssuedToken> {
    const expiresAt = this.#expiry(options);
    return this.#store.transaction(async (tx) => {
      // The lock keeps the environment from being deleted before the token references it.
      const current = (await tx.lockOwner({ kind: "site", id: site.id })) && (await tx.findSiteById(site.id));
      if (!current) throw notFoundError("site", site.name);
      const environment = await tx.findEnvironment(current.id, envName);
      if (!environment) {
        throw new LockboxError("ENVIRONMENT_NOT_FOUND", environmentNotFoundMessage(envName, current.name));
      }
      const token = generateToken(kind);
      const row = await tx.insertToken({
        id: randomUUID(),
        kind,
        hash: hashToken(token),
        userId: null,
        environmentId: environment.id,
        createdBy: actorUserId(ctx),
        expiresAt,
      });
      await tx.appendAudit({
        ...auditBase(ctx),
        action: "token.create",
        target: `${siteTarget(current)}/env:${envName}/${tokenTarget(row)}`,
        environment: envName,
        siteId: current.id,
        orgId: current.ownerOrgId,
      });
      return { token, row };
    });
  }

  #expiry(options: CreateTokenOptions): string | null {
    const ttl = options.ttlSeconds;
    if (ttl === undefined) return null;
    if (!Number.isSafeInteger(ttl) || ttl <= 0 || ttl > MAX_TOKEN_TTL_SECONDS) {
      throw new LockboxError(
        "VALIDATION_FAILED",
        `Invalid token lifetime ${quoteIdentifier(String(ttl))}: use a whole number of seconds from 1 to ${MAX_TOKEN_TTL_SECONDS}.`,
      );
    }
    return new Date(this.#now().getTime() + ttl * 1000).toISOString();
  }
}

function unauthenticated(): LockboxError {
  return new LockboxError("UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE);
}

/** A token in audit targets: its id and kind, never the token. */
function tokenTarget(row: TokenRow): string {
  return `token:${row.id}:${row.kind}`;
}

/** The user a request acts as (`user:<uuid>`), or null for `system` and token actors. */
function actorUserId(ctx: RequestContext): string | null {
  return ctx.actor.startsWith("user:") ? ctx.actor.slice("user:".length) : null;
}

function auditBase(ctx: RequestContext) {
  return { actor: ctx.actor, requestId: ctx.requestId ?? null, outcome: "success" } as const;
}
