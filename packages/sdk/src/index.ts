/**
 * `@lockbox/sdk`: zero-dependency clients of a Lockbox server. Everything of `@lockbox/sdk/runtime`
 * (what applications and builds use), and the management client, whose declarations use
 * `@lockbox/core`'s wire types.
 */

export { parseRetryAfter } from "./answers.js";
export {
  type AuditEvent,
  type AuditPage,
  type AuditQuery,
  type AuditVerification,
  type CreatedToken,
  type CreateSiteInput,
  type CreateTokenInput,
  type DeletedSecret,
  type Environment,
  type ImportInput,
  type ImportResult,
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
  type RemovalResult,
  type ResolutionSource,
  type ResolvedSecret,
  type RestoreResult,
  type RollbackResult,
  type Scope,
  type SecretInput,
  type SecretOwner,
  type SecretType,
  type SecretVersion,
  type SecretVersionAction,
  type SetSecretResult,
  type Site,
  type SiteInfo,
  type SiteOwnerInput,
  type SiteSecretRow,
  type SupportEndedResult,
  type TokenInfo,
  type TokenKind,
  type User,
  type WhoAmI,
} from "./management-client.js";
export * from "./runtime.js";
