import { AnswerTooLarge, describeLocation, isRedirect, maskTokens, readAnswerText } from "./answers.js";

/** What a build receives (SPEC §4): environment variables and the `COMPOSER_AUTH` object. */
export interface BuildSecrets {
  readonly site: string;
  readonly environment: string;
  /** A content hash of the resolved `ic` set. */
  readonly version: string;
  /** `env` secrets as variables (the `COMPOSER_AUTH` base is folded into `composerAuth`). */
  readonly env: Readonly<Record<string, string>>;
  /** Composer's auth object; `{}` when the build has no Composer credentials. */
  readonly composerAuth: Readonly<Record<string, unknown>>;
}

/** An error answer of the build endpoint, or a failure to reach it. Never carries a value or the token. */
export class BuildSecretsError extends Error {
  override readonly name = "BuildSecretsError";
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/**
 * Fetches the resolved build secrets with a build token (`lbb_…`): `GET /v1/build/secrets`.
 *
 * @example
 * const secrets = await fetchBuildSecrets({ url: "http://127.0.0.1:8200", token: process.env.LOCKBOX_BUILD_TOKEN! });
 * console.log(Object.keys(secrets.env));
 * @throws {BuildSecretsError} for an unreachable server or an error answer (401 bad token, 403 another kind of token).
 */
export async function fetchBuildSecrets(options: {
  url: string;
  token: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}): Promise<BuildSecrets> {
  const doFetch = options.fetch ?? fetch;
  const url = `${options.url.replace(/\/+$/, "")}/v1/build/secrets`;
  let response: Response;
  try {
    response = await doFetch(url, {
      headers: { authorization: `Bearer ${options.token}`, accept: "application/json" },
      // No redirect is followed: the build token goes only to the configured server.
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    throw new BuildSecretsError(
      `Cannot reach the Lockbox server at ${options.url}: ${(error as Error).message}. Check LOCKBOX_URL.`,
      undefined,
      undefined,
    );
  }
  if (isRedirect(response)) {
    await response.body?.cancel().catch(() => undefined);
    throw new BuildSecretsError(
      `The Lockbox server at ${options.url} answered HTTP ${response.status}, a redirect${describeLocation(response.headers.get("location"), options.url)}: builds follow no redirect, so that the build token goes only where it was told. Point LOCKBOX_URL at the Lockbox server itself.`,
      response.status,
      undefined,
    );
  }
  let text: string;
  try {
    text = await readAnswerText(response);
  } catch (error) {
    throw new BuildSecretsError(
      error instanceof AnswerTooLarge
        ? `The Lockbox server at ${options.url} did not answer as Lockbox does: ${error.message} (LOCKBOX_URL).`
        : `The Lockbox server at ${options.url} broke off its answer: ${(error as Error).message}. Try again.`,
      response.status,
      undefined,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BuildSecretsError(
      `The Lockbox server at ${options.url} answered ${response.status} without JSON.`,
      response.status,
      undefined,
    );
  }
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } }).error;
    throw new BuildSecretsError(
      error?.message === undefined ? `HTTP ${response.status}` : maskTokens(error.message),
      response.status,
      error?.code,
    );
  }
  return body as BuildSecrets;
}
