/**
 * What a failed runtime read is: its code, and the fixes that messages name.
 */

/**
 * Why a runtime read failed:
 * - `NOT_CONFIGURED`: no `LOCKBOX_URL`/`LOCKBOX_RUNTIME_TOKEN` (and no secrets file), or an unusable one.
 * - `UNREACHABLE`: no HTTP answer (refused, unknown host, reset, TLS failure, timeout).
 * - `SERVER_ERROR`: an HTTP 5xx answer.
 * - `UNEXPECTED_RESPONSE`: an answer that is not a Lockbox secrets set (another status, a redirect,
 *   a body that is not the wire shape): usually `LOCKBOX_URL` points at something else.
 * - `UNAUTHENTICATED` (401): the token is unknown, expired or revoked.
 * - `FORBIDDEN` (403): the token is not a runtime token.
 * - `SECRETS_FILE_UNREADABLE`, `SECRETS_FILE_INVALID`: local mode, the file is missing or malformed.
 */
export type RuntimeErrorCode =
  | "NOT_CONFIGURED"
  | "UNREACHABLE"
  | "SERVER_ERROR"
  | "UNEXPECTED_RESPONSE"
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "SECRETS_FILE_UNREADABLE"
  | "SECRETS_FILE_INVALID";

/**
 * A failed runtime read. The message says what failed, names the server URL or file and the fix;
 * it never holds a secret value or the token.
 *
 * @example
 * ```ts
 * try {
 *   await getSecret("DB_PASSWORD");
 * } catch (error) {
 *   if (error instanceof LockboxRuntimeError && error.code === "UNAUTHENTICATED") alertOps(error.message);
 *   throw error;
 * }
 * ```
 */
export class LockboxRuntimeError extends Error {
  override readonly name = "LockboxRuntimeError";
  /** What kind of failure this is; see {@link RuntimeErrorCode}. */
  readonly code: RuntimeErrorCode;
  /** The HTTP status, when the server answered. */
  readonly status: number | undefined;
  /** The server's request id, for its log, when the answer carried one. */
  readonly requestId: string | undefined;

  constructor(
    code: RuntimeErrorCode,
    message: string,
    init: { status?: number | undefined; requestId?: string | undefined; cause?: unknown } = {},
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.status = init.status;
    this.requestId = init.requestId;
  }
}

export const CREATE_TOKEN_HINT = "lockbox token:runtime:create <site>.<env>";
export const LOCAL_GENERATE_HINT = "lockbox secret:site:local-generate <site>";
