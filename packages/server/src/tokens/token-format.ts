import { createHash, randomBytes } from "node:crypto";
import type { TokenKind } from "./records.js";

/** The prefix of each kind of token (SPEC §5), so a token says what it is wherever it leaks. */
export const TOKEN_PREFIXES = {
  user: "lbx_",
  runtime: "lbr_",
  build: "lbb_",
} as const satisfies Record<TokenKind, string>;

/** Random bytes in a token: 32, which base64url writes as 43 characters. */
export const TOKEN_RANDOM_BYTES = 32;

/** A well-formed token: prefix, then 43 base64url characters. */
const TOKEN_FORMAT = /^lb([xrb])_[A-Za-z0-9_-]{43}$/;
const TOKEN_LENGTH = 4 + 43;
const KIND_BY_LETTER: Readonly<Record<string, TokenKind>> = { x: "user", r: "runtime", b: "build" };

/**
 * The kind a token claims by its prefix, or undefined when the string is not a well-formed token
 * (wrong prefix, length or alphabet). Says nothing about whether the token is valid.
 */
export function parseTokenKind(token: string): TokenKind | undefined {
  if (token.length !== TOKEN_LENGTH) return undefined;
  const match = TOKEN_FORMAT.exec(token);
  return match?.[1] === undefined ? undefined : KIND_BY_LETTER[match[1]];
}

/**
 * The form in which a token is stored and looked up: hex SHA-256 of the whole token string,
 * prefix included. Tokens carry 256 random bits, so a fast unsalted hash is enough: there is
 * nothing to guess, and a lookup by hash compares no secret byte by byte.
 */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A new token of `kind`: its prefix and 32 bytes from the system's CSPRNG, base64url. */
export function generateToken(kind: TokenKind): string {
  return `${TOKEN_PREFIXES[kind]}${randomBytes(TOKEN_RANDOM_BYTES).toString("base64url")}`;
}
