/**
 * `@lockbox/core`: the Lockbox domain without I/O — error codes, names and value rules, the
 * set/delete decisions, resolution, and the `COMPOSER_AUTH` mapping.
 */
export { buildComposerAuth, type ComposerSecretValue } from "./composer-auth.js";
export { ERROR_CODES, type ErrorCode, isLockboxError, LockboxError } from "./errors.js";
export {
  type HostPort,
  type HostPortProblem,
  type HostPortResult,
  isDnsHostname,
  isIPv4Address,
  isIPv6Address,
  parseHostPort,
} from "./host.js";
export {
  emailSchema,
  environmentNameSchema,
  isBuildEnvironment,
  isStandardEnvironment,
  isUuid,
  MAX_EMAIL_LENGTH,
  multidevNameSchema,
  orgNameSchema,
  parseSiteEnv,
  RESERVED_MULTIDEV_NAMES,
  type SiteEnv,
  STANDARD_ENVIRONMENTS,
  type StandardEnvironment,
  siteNameSchema,
  uuidSchema,
} from "./names.js";
export { quoteIdentifier } from "./quote-identifier.js";
export { type ResolvedEntry, type ResolveInput, resolveSecrets } from "./resolve.js";
export {
  buildEnvironmentError,
  composerOverrideWarning,
  decideOverride,
  decideSet,
  describeOwner,
  type ExistingSecret,
  environmentNotFoundMessage,
  type NamedOwner,
  type NotFoundKind,
  notFoundError,
  notFoundMessage,
  noWebScopeNote,
  OVERRIDE_DELETED_MESSAGE,
  type OverrideDecision,
  overrideBaseNotFoundMessage,
  type Rejection,
  SECRET_DELETED_MESSAGE,
  SECRET_SET_MESSAGE,
  type SetDecision,
  type SetRequest,
  secretNotFoundMessage,
} from "./rules.js";
export {
  canonicalScopes,
  DEFAULT_SCOPES,
  formatScopes,
  isScope,
  parseScopes,
  sameScopes,
} from "./scopes.js";
export {
  COMPOSER_AUTH_ENV_NAME,
  COMPOSER_AUTH_TYPES,
  type ComposerAuthType,
  type ComposerSecretName,
  DEFAULT_TYPE,
  MAX_NAME_BYTES,
  MAX_VALUE_BYTES,
  RESERVED_ENV_NAMES,
  type SecretInput,
  secretTypeSchema,
  splitComposerSecretName,
  validateScopesForType,
  validateSecretInput,
  validateSecretName,
  validateSecretValue,
} from "./secrets.js";
export {
  type OwnerKind,
  type OwnerRef,
  type ResolutionSource,
  SCOPE_ORDER,
  type Scope,
  SECRET_TYPES,
  type SecretRecord,
  type SecretType,
} from "./types.js";
export { isWellFormedUnicode, utf8ByteLength } from "./utf8.js";
