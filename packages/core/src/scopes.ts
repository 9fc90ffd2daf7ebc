import { LockboxError } from "./errors.js";
import { quoteIdentifier } from "./quote-identifier.js";
import { SCOPE_ORDER, type Scope } from "./types.js";

/** The scopes a new secret gets when none are given: people only. */
export const DEFAULT_SCOPES: readonly Scope[] = ["user"];

/** True when `text` is one of `ic`, `web`, `user` (exactly; scopes are lower case). */
export function isScope(text: string): text is Scope {
  return (SCOPE_ORDER as readonly string[]).includes(text);
}

/**
 * Parses scopes as users write them: a comma-separated string (`"web, user"`) or a list whose items
 * may themselves be comma-separated. Items are trimmed; blanks and duplicates are ignored. Returns
 * the scopes in the canonical order `ic, web, user`.
 *
 * @throws {LockboxError} `VALIDATION_FAILED` for an unknown scope (case matters: `Web` is refused)
 * or when no scope is left.
 */
export function parseScopes(input: string | readonly string[]): Scope[] {
  const items = (typeof input === "string" ? [input] : input).flatMap((item) => item.split(","));
  const found = new Set<Scope>();
  for (const raw of items) {
    const item = raw.trim();
    if (item === "") continue;
    if (!isScope(item)) {
      throw new LockboxError(
        "VALIDATION_FAILED",
        `Invalid scope ${quoteIdentifier(item)}: use ic, web or user, separated by commas (for example --scope=web,user).`,
      );
    }
    found.add(item);
  }
  if (found.size === 0) throw new LockboxError("VALIDATION_FAILED", NO_SCOPE_MESSAGE);
  return canonicalScopes([...found]);
}

const NO_SCOPE_MESSAGE =
  "A secret needs at least one scope: use one or more of ic, web and user, separated by commas (for example --scope=web,user).";

/** `scopes` without duplicates, in the canonical order `ic, web, user`. */
export function canonicalScopes(scopes: readonly Scope[]): Scope[] {
  return SCOPE_ORDER.filter((scope) => scopes.includes(scope));
}

/** True when `a` and `b` hold the same scopes, whatever their order or duplicates. */
export function sameScopes(a: readonly Scope[], b: readonly Scope[]): boolean {
  const left = canonicalScopes(a);
  const right = canonicalScopes(b);
  return left.length === right.length && left.every((scope, index) => scope === right[index]);
}

/** Scopes as tables and messages show them: canonical order, `", "`-separated (`web, user`). */
export function formatScopes(scopes: readonly Scope[]): string {
  return canonicalScopes(scopes).join(", ");
}
