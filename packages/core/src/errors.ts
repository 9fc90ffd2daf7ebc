/**
 * Every error code Lockbox can answer with. The HTTP layer maps each code to one status
 * (a table typed `satisfies Record<ErrorCode, number>`); nothing else decides statuses.
 *
 * `*_NOT_FOUND` codes refine `NOT_FOUND` (404). `INTEGRITY_FAILED` is a ciphertext or audit row that
 * no longer matches what was written: it answers 500 and is never retried. `UNAVAILABLE` (503, with
 * `Retry-After`) is a store that does not answer; `STORAGE_FULL` (507) a store whose disk is full.
 */
export const ERROR_CODES = [
  "BAD_REQUEST",
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "ORG_NOT_FOUND",
  "USER_NOT_FOUND",
  "SITE_NOT_FOUND",
  "ENVIRONMENT_NOT_FOUND",
  "SECRET_NOT_FOUND",
  "TOKEN_NOT_FOUND",
  "CONFLICT",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "VALIDATION_FAILED",
  "RATE_LIMITED",
  "INTEGRITY_FAILED",
  "INTERNAL",
  "UNAVAILABLE",
  "STORAGE_FULL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * An expected failure with a code and a message written for the person who caused it: it says
 * what failed, quotes identifiers and names the fix. A message never contains a secret value,
 * a token, a key or a connection string.
 */
export class LockboxError extends Error {
  override readonly name = "LockboxError";

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True when `error` is a {@link LockboxError}, optionally with one of `codes`. */
export function isLockboxError(error: unknown, ...codes: ErrorCode[]): error is LockboxError {
  return error instanceof LockboxError && (codes.length === 0 || codes.includes(error.code));
}
