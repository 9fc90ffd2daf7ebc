import { LockboxError } from "./errors.js";
import { isBuildEnvironment } from "./names.js";
import { quoteIdentifier } from "./quote-identifier.js";
import { canonicalScopes, DEFAULT_SCOPES, formatScopes, parseScopes, sameScopes } from "./scopes.js";
import { DEFAULT_TYPE, validateScopesForType } from "./secrets.js";
import type { OwnerKind, Scope, SecretType } from "./types.js";

/*
 * The decisions of SPEC §2.1–2.2, pure. Decisions return a result instead of throwing: an expected
 * refusal is `{action: "reject", error}` with the LockboxError a service should throw. Message
 * helpers return strings. Name and value rules live in secrets.ts and are checked separately.
 */

/** Success message of a set (create, update or override). */
export const SECRET_SET_MESSAGE = "Secret successfully set.";

/** Success message of a secret delete. */
export const SECRET_DELETED_MESSAGE = "Secret successfully deleted.";

/** Success message of an override delete, which is idempotent. */
export const OVERRIDE_DELETED_MESSAGE = "Secret environment override deleted if it existed.";

/** An owner as messages name it: `site 'my-site'` or `organization 'my-org'`. */
export interface NamedOwner {
  readonly kind: OwnerKind;
  readonly name: string;
}

/** What a decision needs to know of an existing secret. */
export interface ExistingSecret {
  readonly type: SecretType;
  readonly scopes: readonly Scope[];
}

/** A set request as the decision sees it: `type` and `scopes` are absent when not given. */
export interface SetRequest {
  readonly name: string;
  readonly type?: SecretType | undefined;
  /** Non-empty when given, e.g. from `parseScopes`; an empty list is refused. */
  readonly scopes?: readonly Scope[] | undefined;
}

/** A refusal: the error a service should throw. */
export interface Rejection {
  readonly action: "reject";
  readonly error: LockboxError;
}

/**
 * The outcome of {@link decideSet}. `create` and `update` carry the type and scopes (canonical order)
 * the secret has after the write, which is what its name and value must be validated against.
 */
export type SetDecision =
  | { readonly action: "create"; readonly type: SecretType; readonly scopes: readonly Scope[] }
  | { readonly action: "update"; readonly type: SecretType; readonly scopes: readonly Scope[] }
  | Rejection;

/** The outcome of {@link decideOverride}: the base's type and scopes, or a refusal. */
export type OverrideDecision =
  | { readonly action: "override"; readonly type: SecretType; readonly scopes: readonly Scope[] }
  | Rejection;

/**
 * Decides a base-value `set` (SPEC §2.1) for `existing`, the owner's same-named secret or `undefined`.
 * - absent: `create` with the given type and scopes or the defaults (`runtime`, `user`); a
 *   `composer` secret without `ic` is rejected (`VALIDATION_FAILED`);
 * - present, with no type/scopes given or the same ones (scopes compared as sets): `update`;
 * - present with a different type or scopes: rejected with `CONFLICT`,
 *   `Secret 'NAME' already exists with type 'runtime' and scopes 'web, user'. Type and scopes cannot be changed: delete the secret and create it again.`
 *
 * Given scopes that are empty are rejected with `VALIDATION_FAILED`. Never throws.
 */
export function decideSet(existing: ExistingSecret | undefined, request: SetRequest): SetDecision {
  const invalid = checkRequestScopes(request);
  if (invalid !== undefined) return invalid;
  if (existing === undefined) {
    const type = request.type ?? DEFAULT_TYPE;
    const scopes = canonicalScopes(request.scopes ?? DEFAULT_SCOPES);
    try {
      validateScopesForType(type, scopes);
    } catch (error) {
      return reject(error);
    }
    return { action: "create", type, scopes };
  }
  const conflict = checkUnchanged(existing, request);
  if (conflict !== undefined) return conflict;
  return { action: "update", type: existing.type, scopes: canonicalScopes(existing.scopes) };
}

/**
 * Decides an environment override `set` (SPEC §2.1) for `existing`, the same-named secret of the
 * same `owner` (never another owner's: an org secret is no base for a site override).
 * - absent: rejected with `SECRET_NOT_FOUND`,
 *   `Secret 'NAME' does not exist on site 'SITE'. You should create the default secret value first.`;
 * - present: type and scopes given follow {@link decideSet} (same → `override`, different → `CONFLICT`).
 *
 * Does not check the environment: its name is validated by `environmentNameSchema`, and for a site
 * its existence is the caller's (see {@link environmentNotFoundMessage}). Never throws.
 */
export function decideOverride(
  existing: ExistingSecret | undefined,
  request: SetRequest,
  owner: NamedOwner,
): OverrideDecision {
  const invalid = checkRequestScopes(request);
  if (invalid !== undefined) return invalid;
  if (existing === undefined) {
    return {
      action: "reject",
      error: new LockboxError("SECRET_NOT_FOUND", overrideBaseNotFoundMessage(request.name, owner)),
    };
  }
  const conflict = checkUnchanged(existing, request);
  if (conflict !== undefined) return conflict;
  return { action: "override", type: existing.type, scopes: canonicalScopes(existing.scopes) };
}

function checkRequestScopes(request: SetRequest): Rejection | undefined {
  if (request.scopes === undefined) return undefined;
  try {
    parseScopes(request.scopes);
    return undefined;
  } catch (error) {
    return reject(error);
  }
}

function checkUnchanged(existing: ExistingSecret, request: SetRequest): Rejection | undefined {
  const typeChanged = request.type !== undefined && request.type !== existing.type;
  const scopesChanged = request.scopes !== undefined && !sameScopes(request.scopes, existing.scopes);
  if (!typeChanged && !scopesChanged) return undefined;
  return {
    action: "reject",
    error: new LockboxError(
      "CONFLICT",
      `Secret ${quoteIdentifier(request.name)} already exists with type '${existing.type}' and scopes '${formatScopes(existing.scopes)}'. Type and scopes cannot be changed: delete the secret and create it again.`,
    ),
  };
}

function reject(error: unknown): Rejection {
  if (error instanceof LockboxError) return { action: "reject", error };
  throw error;
}

/** `site 'my-site'` or `organization 'my-org'`. */
export function describeOwner(owner: NamedOwner): string {
  return `${owner.kind === "site" ? "site" : "organization"} ${quoteIdentifier(owner.name)}`;
}

/**
 * The 404 message of a missing secret (delete, SPEC §2.2): `Secret 'NAME' does not exist on site 'SITE'.`
 * (`organization 'ORG'` for orgs). Use with code `SECRET_NOT_FOUND`.
 */
export function secretNotFoundMessage(name: string, owner: NamedOwner): string {
  return `Secret ${quoteIdentifier(name)} does not exist on ${describeOwner(owner)}.`;
}

/**
 * The 404 message of an override (set or delete) whose base secret is missing:
 * `Secret 'NAME' does not exist on site 'SITE'. You should create the default secret value first.`
 * Use with code `SECRET_NOT_FOUND`.
 */
export function overrideBaseNotFoundMessage(name: string, owner: NamedOwner): string {
  return `${secretNotFoundMessage(name, owner)} You should create the default secret value first.`;
}

/**
 * The 404 message of a site environment that does not exist: `Environment 'ENV' does not exist on site 'SITE'.`
 * Use with code `ENVIRONMENT_NOT_FOUND`.
 */
export function environmentNotFoundMessage(env: string, site: string): string {
  return `Environment ${quoteIdentifier(env)} does not exist on site ${quoteIdentifier(site)}.`;
}

/** Entities whose absence (or invisibility to the caller) {@link notFoundMessage} reports. */
export type NotFoundKind = "org" | "user" | "site" | "token";

const NOT_FOUND_LABELS = {
  org: "Organization",
  user: "User",
  site: "Site",
  token: "Token",
} as const satisfies Record<NotFoundKind, string>;

const NOT_FOUND_CODES = {
  org: "ORG_NOT_FOUND",
  user: "USER_NOT_FOUND",
  site: "SITE_NOT_FOUND",
  token: "TOKEN_NOT_FOUND",
} as const satisfies Record<NotFoundKind, string>;

/**
 * The message of an entity that does not exist or that the caller may not see; both read the same
 * (SPEC §5): `Site 'x' was not found, or you do not have access to it.` `name` is what the caller
 * gave (name, email, UUID or token id).
 */
export function notFoundMessage(kind: NotFoundKind, name: string): string {
  return `${NOT_FOUND_LABELS[kind]} ${quoteIdentifier(name)} was not found, or you do not have access to it.`;
}

/** {@link notFoundMessage} as a LockboxError with the refined code (`SITE_NOT_FOUND`, …). */
export function notFoundError(kind: NotFoundKind, name: string): LockboxError {
  return new LockboxError(NOT_FOUND_CODES[kind], notFoundMessage(kind, name));
}

/**
 * The note shown once when a secret is created without `web`: `Applications will not see 'NAME': it
 * has no web scope.` A `runtime` secret with `ic` reaches no build either (builds read only `env`
 * and `composer` secrets), and the note says so, since the `ic` scope shows that builds were meant.
 */
export function noWebScopeNote(
  name: string,
  secret?: { type: SecretType; scopes: readonly Scope[] },
): string {
  const note = `Applications will not see ${quoteIdentifier(name)}: it has no web scope.`;
  return secret?.type === "runtime" && secret.scopes.includes("ic")
    ? `${note} Builds will not either: they read only secrets of type env or composer.`
    : note;
}

/**
 * The warning for an override of a build secret (type `env` or `composer`) in an environment where
 * builds never run (`test`, `live`); the override is stored anyway (SPEC §2.1). It does not depend on
 * the scopes, as the composer warning never did: a secret of a build type is meant for builds, and
 * one without `ic` today may be given it in a new secret tomorrow. An `env` secret with the web scope
 * still reaches the application there, and the warning says so. `undefined` for a `runtime` secret,
 * or in `dev` or a multidev.
 */
export function buildOverrideWarning(
  secret: { readonly type: SecretType; readonly name: string; readonly scopes: readonly string[] },
  env: string,
): string | undefined {
  if (secret.type === "runtime" || isBuildEnvironment(env)) return undefined;
  const warning = `Integrated Composer builds never run in ${quoteIdentifier(env)}, so builds will not use this override of ${quoteIdentifier(secret.name)}.`;
  return secret.type === "env" && secret.scopes.includes("web")
    ? `${warning} Applications in ${quoteIdentifier(env)} do read it (web scope).`
    : warning;
}

/**
 * The refusal of a build token for an environment where builds never run (SPEC §4), code
 * `VALIDATION_FAILED`: `Integrated Composer builds run only in dev or a multidev environment, never in 'ENV'.`
 * Check with `isBuildEnvironment`.
 */
export function buildEnvironmentError(env: string): LockboxError {
  return new LockboxError(
    "VALIDATION_FAILED",
    `Integrated Composer builds run only in dev or a multidev environment, never in ${quoteIdentifier(env)}.`,
  );
}
