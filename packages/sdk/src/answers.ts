/**
 * What every client of this package reads from a server, the same way: never more than
 * {@link MAX_ANSWER_BYTES} of an answer, and no redirect followed (the caller sees the redirect and
 * says where it pointed). A server that is not Lockbox — a misconfigured proxy, a wrong
 * `LOCKBOX_URL`, or one set up to steal — could otherwise stream without end into the memory of a
 * CI runner, or send a token and the secret values of a request body to an address nobody
 * configured.
 */

/**
 * The most of one answer read into memory: 128 MiB, far above any Lockbox answer (a page of at most
 * 1,000 secrets, or a site's resolved set, whose values hold at most 16 KiB each).
 */
export const MAX_ANSWER_BYTES = 128 * 1024 * 1024;

/** An answer larger than {@link MAX_ANSWER_BYTES}: the rest of it was not read. */
export class AnswerTooLarge extends Error {
  override readonly name = "AnswerTooLarge";
  constructor(readonly limitBytes: number) {
    super(
      `its answer is larger than ${limitBytes / (1024 * 1024)} MiB, which no Lockbox answer is: check that the URL points to a Lockbox server`,
    );
  }
}

/**
 * The body of `response` as text, as `Response.text()` gives it (UTF-8, a leading byte order mark
 * dropped), read only up to `limitBytes`.
 *
 * @throws {AnswerTooLarge} past `limitBytes` (the body is cancelled, the connection released).
 */
export async function readAnswerText(response: Response, limitBytes = MAX_ANSWER_BYTES): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > limitBytes || response.body === null) {
    await response.body?.cancel().catch(() => undefined);
    if (declared > limitBytes) throw new AnswerTooLarge(limitBytes);
    return "";
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limitBytes) {
      await reader.cancel().catch(() => undefined);
      throw new AnswerTooLarge(limitBytes);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks, total));
}

/** Whether an answer is a redirect (a `Location` to follow), or fetch's `opaqueredirect` (status 0). */
export function isRedirect(response: { readonly status: number; readonly type?: string }): boolean {
  return REDIRECTS.has(response.status) || response.type === "opaqueredirect";
}

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** ` to <origin and path>` of a redirect's `Location`, without credentials, query or fragment. */
export function describeLocation(location: string | null, relativeTo: string): string {
  if (location === null) return "";
  try {
    const target = new URL(location, relativeTo);
    return ` to ${target.origin}${target.pathname}`;
  } catch {
    return "";
  }
}

/**
 * Seconds to wait from a `Retry-After` header: delta-seconds (a decimal is accepted) or an HTTP
 * date; 1 when absent or unreadable.
 */
export function parseRetryAfter(header: string | null): number {
  if (header === null) return 1;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return 1;
  return Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** A Lockbox token (`lbx_`, `lbr_`, `lbb_`) or sign-in link secret (`lbs_`), as `@lockbox/core` masks them. */
const TOKEN_SHAPED = /lb[xrbs]_[A-Za-z0-9_-]{8,}/g;

/**
 * `text` from an answer with every token-shaped run replaced by `[token]`: a server (or a proxy in
 * front of it) that echoes the request's `Authorization` header must not put the token into the
 * client's errors and logs.
 */
export function maskTokens(text: string): string {
  return text.replace(TOKEN_SHAPED, "[token]");
}
