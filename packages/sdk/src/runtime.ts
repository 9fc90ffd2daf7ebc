/**
 * `@lockbox/sdk/runtime`: what applications and builds use (`getSecret()`, the runtime client and
 * its watch, the build client, local secrets files), without the management client. Its
 * declarations refer to nothing outside this package, so a TypeScript project compiles against it
 * without `@lockbox/core`, whatever its `skipLibCheck`.
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
  createRuntimeClient,
  getSecret,
  getSecrets,
  LockboxRuntimeError,
  type RuntimeClient,
  type RuntimeClientOptions,
  type RuntimeErrorCode,
  type RuntimeLogger,
  resetDefaultRuntimeClient,
  watchSecrets,
} from "./runtime-client.js";
