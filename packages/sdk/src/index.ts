/**
 * `@lockbox/sdk`: zero-dependency clients of a Lockbox server.
 */

export { type BuildSecrets, BuildSecretsError, fetchBuildSecrets } from "./build-client.js";
export {
  type LocalSecretsParseResult,
  type ParsedLocalSecret,
  type ParsedLocalSecretsFile,
  parseLocalSecrets,
  resolveLocalSecret,
  resolveLocalSecrets,
} from "./local-secrets.js";
export {
  type AuditEvent,
  type AuditPage,
  type AuditQuery,
  type AuditVerification,
  type CreatedToken,
  type CreateSiteInput,
  type CreateTokenInput,
  type Environment,
  type LocalSecretsFile,
  LockboxApiError,
  LockboxClient,
  type LockboxClientOptions,
  LockboxConnectionError,
  type Member,
  type MessageResult,
  type Org,
  type OrgRole,
  type OrgSecretRow,
  parseRetryAfter,
  type ResolutionSource,
  type ResolvedSecret,
  type Scope,
  type SecretInput,
  type SecretType,
  type SetSecretResult,
  type Site,
  type SiteInfo,
  type SiteOwnerInput,
  type SiteSecretRow,
  type TokenInfo,
  type TokenKind,
  type User,
  type WhoAmI,
} from "./management-client.js";
export {
  createRuntimeClient,
  getSecret,
  getSecrets,
  LockboxRuntimeError,
  type RuntimeClient,
  type RuntimeClientOptions,
  type RuntimeErrorCode,
  type RuntimeLogger,
  resetDefaultRuntimeClient,
} from "./runtime-client.js";
