/** Longest identifier shown whole; every valid name (at most 255 bytes) fits. */
const MAX_QUOTED_UNITS = 255;

/**
 * `text` in single quotes, as error messages show identifiers (`'my-site'`). The text is untrusted
 * input echoed back, so it is bounded (cut after 255 UTF-16 code units, marked with `…`) and
 * control characters, line separators and lone surrogates are written as `\uXXXX` escapes, so a
 * message stays one printable line. Never pass a secret value, token or key; a token pasted where
 * an identifier belongs is masked all the same ({@link maskTokens}).
 */
export function quoteIdentifier(text: string): string {
  let shown = maskTokens(text);
  if (shown.length > MAX_QUOTED_UNITS) {
    shown = shown.slice(0, MAX_QUOTED_UNITS);
    // Cutting between the halves of a pair would leave a lone high surrogate: drop it too.
    const last = shown.charCodeAt(shown.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) shown = shown.slice(0, -1);
    shown += "…";
  }
  return `'${shown.replace(UNPRINTABLE, escapeUnit)}'`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|\p{Cs}/gu;

function escapeUnit(unit: string): string {
  return `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** A token (`lbx_`, `lbr_`, `lbb_`) or sign-in link secret (`lbs_`), or what looks like the start of one. */
const TOKEN_SHAPED = /lb[xrbs]_[A-Za-z0-9_-]{8,}/g;

/**
 * `text` with every token-shaped run replaced by `[token]`: for untrusted text a message or log line
 * repeats, such as a path in which a client put a token where an id belongs.
 */
export function maskTokens(text: string): string {
  return text.replace(TOKEN_SHAPED, "[token]");
}
