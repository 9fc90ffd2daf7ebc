import { z } from "zod";
import { LockboxError } from "./errors.js";
import { parseHostPort } from "./host.js";
import { quoteIdentifier } from "./quote-identifier.js";
import { parseScopes } from "./scopes.js";
import { type Scope, SECRET_TYPES, type SecretType } from "./types.js";
import { utf8ByteLength } from "./utf8.js";

/** The type a new secret gets when none is given. */
export const DEFAULT_TYPE: SecretType = "runtime";

/** Largest secret value, counted in UTF-8 bytes. */
export const MAX_VALUE_BYTES = 16384;

/** Longest secret name, counted in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255;

/** Names an `env` secret cannot take: setting them would hijack the build's shell, loader or runtime. */
export const RESERVED_ENV_NAMES = [
  "PATH",
  "HOME",
  "SHELL",
  "IFS",
  "ENV",
  "BASH_ENV",
  "LD_PRELOAD",
  "LD_LIBRARY_PATH",
  "LD_AUDIT",
  "NODE_OPTIONS",
  "PHPRC",
  "PHP_INI_SCAN_DIR",
] as const;

/** The auth types a `composer` secret name can start with: the keys of Composer's `auth.json`. */
export const COMPOSER_AUTH_TYPES = [
  "github-oauth",
  "gitlab-oauth",
  "gitlab-token",
  "bitbucket-oauth",
  "http-basic",
  "bearer",
] as const;

/** One of {@link COMPOSER_AUTH_TYPES}. */
export type ComposerAuthType = (typeof COMPOSER_AUTH_TYPES)[number];

/** The name of the `env` secret that is the base of `COMPOSER_AUTH` and must hold a JSON object. */
export const COMPOSER_AUTH_ENV_NAME = "COMPOSER_AUTH";

/**
 * A secret type: `runtime`, `env` or `composer`. Refusal: `Invalid secret type 'x': use runtime, env or composer.`
 */
export const secretTypeSchema = z.enum(SECRET_TYPES, {
  error: (issue) =>
    typeof issue.input === "string"
      ? `Invalid secret type ${quoteIdentifier(issue.input)}: use runtime, env or composer.`
      : "A secret type must be a string: use runtime, env or composer.",
});

/** A `composer` secret name split into its auth type and the host key Composer uses (`host[:port]`). */
export interface ComposerSecretName {
  readonly authType: ComposerAuthType;
  /** The host as written, with `:port` when one is given: exactly the key of Composer's auth entry. */
  readonly host: string;
}

/**
 * Splits a `composer` secret name at its first dot into auth type and host key. Only the auth type
 * is checked (the host is taken as written): use {@link validateSecretName} for the full rule.
 * Returns `undefined` when the name does not start with a known auth type and a dot.
 */
export function splitComposerSecretName(name: string): ComposerSecretName | undefined {
  const dot = name.indexOf(".");
  if (dot === -1) return undefined;
  const authType = name.slice(0, dot);
  if (!isComposerAuthType(authType)) return undefined;
  return { authType, host: name.slice(dot + 1) };
}

function isComposerAuthType(text: string): text is ComposerAuthType {
  return (COMPOSER_AUTH_TYPES as readonly string[]).includes(text);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RUNTIME_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

function invalidName(name: string, reason: string): LockboxError {
  return new LockboxError("VALIDATION_FAILED", `Invalid key name ${quoteIdentifier(name)}: ${reason}`);
}

/**
 * Checks a secret name against the rule of its type (SPEC §2): 1–255 UTF-8 bytes; `env` names are
 * environment variable names and not one of {@link RESERVED_ENV_NAMES}; `runtime` names are
 * `^[A-Za-z0-9_][A-Za-z0-9_.-]*$`; `composer` names are `<auth-type>.<host>[:<port>]` with a host
 * name, IPv4 or bracketed IPv6 address and a port from 1 to 65535. Names are case-sensitive.
 *
 * @throws {LockboxError} `VALIDATION_FAILED` naming the broken rule, for example
 * `Invalid key name '1nvalid': Environment variable names must start with a letter or underscore, and can only contain letters, numbers, and underscores.`
 */
export function validateSecretName(type: SecretType, name: string): void {
  const lengthProblem = nameLengthProblem(name);
  if (lengthProblem !== undefined) throw new LockboxError("VALIDATION_FAILED", lengthProblem);
  switch (type) {
    case "env":
      if (!ENV_NAME.test(name)) {
        throw invalidName(
          name,
          "Environment variable names must start with a letter or underscore, and can only contain letters, numbers, and underscores.",
        );
      }
      if ((RESERVED_ENV_NAMES as readonly string[]).includes(name)) {
        throw invalidName(
          name,
          "this environment variable is reserved, because setting it would hijack the build. Choose another name.",
        );
      }
      return;
    case "runtime":
      if (!RUNTIME_NAME.test(name)) {
        throw invalidName(
          name,
          "Runtime secret names must start with a letter, number, or underscore, and can only contain letters, numbers, underscores, periods, and hyphens.",
        );
      }
      return;
    case "composer":
      validateComposerName(name);
      return;
  }
}

function validateComposerName(name: string): void {
  const split = splitComposerSecretName(name);
  if (split === undefined) {
    throw invalidName(
      name,
      `Composer secret names are <auth-type>.<host>[:<port>], where auth-type is one of ${COMPOSER_AUTH_TYPES.join(", ")} (for example github-oauth.github.com).`,
    );
  }
  const parsed = parseHostPort(split.host);
  if (parsed.ok) return;
  switch (parsed.problem) {
    case "host":
      throw invalidName(
        name,
        `${quoteIdentifier(split.host)} is not a valid host name or IP address (IPv6 addresses go in brackets, for example http-basic.[::1]:8080).`,
      );
    case "unbracketed-ipv6":
      throw invalidName(
        name,
        `IPv6 addresses must be written in brackets, for example ${split.authType}.[${split.host}].`,
      );
    case "port":
      throw invalidName(name, "the port must be a number from 1 to 65535 without leading zeros.");
  }
}

/** The message for a name outside 1–255 UTF-8 bytes, or `undefined`. */
function nameLengthProblem(name: string): string | undefined {
  if (name === "") return "Secret names cannot be empty.";
  const bytes = utf8ByteLength(name);
  if (bytes > MAX_NAME_BYTES) {
    return `Secret names can be at most ${MAX_NAME_BYTES} bytes; this name has ${bytes} bytes.`;
  }
  return undefined;
}

/** The message for a value that breaks a rule of every type (size, valid Unicode), or `undefined`. */
function valueProblem(value: string): string | undefined {
  const bytes = utf8ByteLength(value);
  if (bytes > MAX_VALUE_BYTES) {
    return `Secret values can be at most ${MAX_VALUE_BYTES} bytes; this value has ${bytes} bytes.`;
  }
  if (!value.isWellFormed()) {
    return "Secret values must be valid Unicode text; this value contains a lone surrogate.";
  }
  return undefined;
}

function invalidValue(name: string, reason: string): LockboxError {
  return new LockboxError("VALIDATION_FAILED", `Invalid value for ${quoteIdentifier(name)}: ${reason}`);
}

/**
 * Checks a value (base or override) against SPEC §2: at most 16384 UTF-8 bytes, valid Unicode (no
 * lone surrogate), may be empty. By type: an `env` value holds no NUL, and the `env` secret
 * `COMPOSER_AUTH` holds a JSON object; a `composer` `bitbucket-oauth` value is `KEY SECRET` (both
 * non-empty, split at the first space) and an `http-basic` value is `USER:PASSWORD` (split at the
 * first colon, user non-empty, password may be empty). `name` only picks these rules and is quoted
 * in messages; it is not itself validated here.
 *
 * @throws {LockboxError} `VALIDATION_FAILED` naming the rule, for example
 * `Secret values can be at most 16384 bytes; this value has 16385 bytes.` A message never contains the value.
 */
export function validateSecretValue(type: SecretType, name: string, value: string): void {
  const commonProblem = valueProblem(value);
  if (commonProblem !== undefined) throw new LockboxError("VALIDATION_FAILED", commonProblem);
  if (type === "env") {
    if (value.includes("\0")) {
      throw invalidValue(name, "environment variable values cannot contain the NUL character.");
    }
    if (name === COMPOSER_AUTH_ENV_NAME && !holdsJsonObject(value)) {
      throw invalidValue(
        name,
        'COMPOSER_AUTH must hold a JSON object, as Composer reads it (for example {"github-oauth": {"github.com": "TOKEN"}}).',
      );
    }
    if (name === COMPOSER_AUTH_ENV_NAME && jsonNestingDepth(value) > MAX_COMPOSER_AUTH_DEPTH) {
      throw invalidValue(
        name,
        `COMPOSER_AUTH can nest objects and arrays at most ${MAX_COMPOSER_AUTH_DEPTH} levels deep (Composer's own auth.json uses 3).`,
      );
    }
  } else if (type === "composer") {
    const authType = splitComposerSecretName(name)?.authType;
    if (authType === "bitbucket-oauth") {
      const space = value.indexOf(" ");
      if (space <= 0 || space === value.length - 1) {
        throw invalidValue(
          name,
          "bitbucket-oauth values are 'KEY SECRET': the consumer key, a space, and the consumer secret.",
        );
      }
    } else if (authType === "http-basic" && value.indexOf(":") <= 0) {
      throw invalidValue(
        name,
        "http-basic values are 'USER:PASSWORD': a user name, a colon, and the password.",
      );
    }
  }
}

/** How deeply `COMPOSER_AUTH` may nest: far beyond Composer's 3 levels, far below what breaks a JSON writer. */
export const MAX_COMPOSER_AUTH_DEPTH = 32;

/** The deepest nesting of `[` and `{` in JSON text, outside strings (iterative: any depth is safe to measure). */
function jsonNestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === "{" || c === "[") {
      deepest = Math.max(deepest, ++depth);
    } else if (c === "}" || c === "]") {
      depth--;
    }
  }
  return deepest;
}

// The parse error is dropped on purpose: JSON.parse messages quote part of the input, i.e. the value.
function holdsJsonObject(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}

const COMPOSER_NEEDS_IC =
  "Composer secrets are only read by Integrated Composer builds: add the ic scope (for example --scope=ic,user).";

/**
 * Checks that `scopes` is a non-empty list of known scopes that suits `type`: a `composer` secret
 * needs `ic`, without which no build ever receives it. Other combinations are accepted, including a
 * secret without `web` (see `noWebScopeNote`) and a `runtime` secret whose only scope is `ic`.
 *
 * @throws {LockboxError} `VALIDATION_FAILED`, e.g. `Composer secrets are only read by Integrated Composer builds: add the ic scope (for example --scope=ic,user).`
 */
export function validateScopesForType(type: SecretType, scopes: readonly Scope[]): void {
  // Re-parsing guards callers that built the list by hand; parseScopes throws the same messages.
  const canonical = parseScopes(scopes);
  if (type === "composer" && !canonical.includes("ic")) {
    throw new LockboxError("VALIDATION_FAILED", COMPOSER_NEEDS_IC);
  }
}

/** What {@link validateSecretInput} checks: a secret as it will be stored, with one of its values. */
export interface SecretInput {
  readonly name: string;
  readonly type: SecretType;
  readonly scopes: readonly Scope[];
  readonly value: string;
}

/**
 * Checks a whole secret: {@link validateSecretName}, then {@link validateScopesForType}, then
 * {@link validateSecretValue}; the first broken rule is thrown. Use the type and scopes the secret
 * will have (the existing ones when updating; see `decideSet`).
 *
 * @throws {LockboxError} `VALIDATION_FAILED` with the message of the first broken rule.
 */
export function validateSecretInput(input: SecretInput): void {
  validateSecretName(input.type, input.name);
  validateScopesForType(input.type, input.scopes);
  validateSecretValue(input.type, input.name, input.value);
}
