import { LockboxError } from "./errors.js";
import { quoteIdentifier } from "./quote-identifier.js";

/**
 * The longest lifetime a token can be given: 365 days. A credential meant to outlive a year should
 * be rotated, not forgotten; a token without an expiry (the default) lasts until it is revoked.
 */
export const MAX_TOKEN_LIFETIME_DAYS = 365;
/** {@link MAX_TOKEN_LIFETIME_DAYS} in seconds. */
export const MAX_TOKEN_LIFETIME_SECONDS = MAX_TOKEN_LIFETIME_DAYS * 86_400;

const UNIT_SECONDS: Readonly<Record<string, number>> = { m: 60, h: 3600, d: 86_400 };
/** At most 9 digits: anything longer is beyond the maximum in every unit (and stays an exact number). */
const LIFETIME = /^(\d{1,9})([mhd])$/;

/** How the accepted lifetimes are described in messages and help. */
export const TOKEN_LIFETIME_FORMAT = `a whole number of minutes, hours or days such as 30m, 12h, 7d or 90d, from 1m to ${MAX_TOKEN_LIFETIME_DAYS}d`;

/**
 * A token lifetime (`--expires-in`, `expiresIn`) in seconds: `<n>m`, `<n>h` or `<n>d`, more than
 * zero and at most {@link MAX_TOKEN_LIFETIME_DAYS} days.
 * @throws {LockboxError} `VALIDATION_FAILED` naming `label`, the input and the accepted format, for
 * anything else (zero, a sign, a fraction, spaces, another unit, too long).
 */
export function parseTokenLifetime(text: string, label = "token lifetime"): number {
  const match = LIFETIME.exec(text);
  const seconds = match ? Number(match[1]) * (UNIT_SECONDS[match[2] as string] as number) : 0;
  if (seconds <= 0 || seconds > MAX_TOKEN_LIFETIME_SECONDS) {
    throw new LockboxError(
      "VALIDATION_FAILED",
      `Invalid ${label} ${quoteIdentifier(text)}: use ${TOKEN_LIFETIME_FORMAT}.`,
    );
  }
  return seconds;
}
