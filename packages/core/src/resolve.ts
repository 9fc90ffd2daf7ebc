import { LockboxError } from "./errors.js";
import { quoteIdentifier } from "./quote-identifier.js";
import type { OwnerKind, ResolutionSource, Scope, SecretRecord } from "./types.js";

/** The secret that wins one name, and which of its values to use. */
export interface ResolvedEntry {
  readonly name: string;
  /** The winning secret (the site's or the owner org's). */
  readonly secret: SecretRecord;
  readonly owner: OwnerKind;
  readonly source: ResolutionSource;
  /** The environment whose override value wins, or `null` when the secret's base value wins. */
  readonly valueEnv: string | null;
}

/** What {@link resolveSecrets} resolves: one site in one environment, for one consumer scope. */
export interface ResolveInput {
  /** The environment the consumer runs in; `undefined` for the base values (no override applies). */
  readonly env: string | undefined;
  /** The consumer's scope: `web` for the runtime, `ic` for builds, `user` for people. */
  readonly scope: Scope;
  /** The site's own secrets. */
  readonly siteSecrets: readonly SecretRecord[];
  /**
   * The secrets of the site's owner organization only: `[]` for a personal site. Supporting
   * organizations' secrets must never be passed.
   */
  readonly orgSecrets: readonly SecretRecord[];
}

/**
 * Resolves which secret, and which of its values, a consumer with `scope` sees for each name in
 * `env` (SPEC §2.4): each side keeps only its secrets whose scopes include `scope`, each takes its
 * override for `env` if it has one, else its base value; then the sides merge by name and the site
 * wins. Hence site override > site base > org override > org base, and a site secret without the
 * scope does not hide the org's. Types do not filter.
 *
 * Works on metadata only: decrypt just the winning values afterwards. The map iterates in name order
 * (UTF-16 code-unit order, as `Array.prototype.sort`). A name the consumer cannot see is absent.
 *
 * @throws {LockboxError} `INTERNAL` when one side holds two secrets of the same name (names are unique
 * per owner, so that is a broken store).
 */
export function resolveSecrets(input: ResolveInput): Map<string, ResolvedEntry> {
  const byName = new Map<string, ResolvedEntry>();
  for (const entry of pick(input.orgSecrets, "org", input)) byName.set(entry.name, entry);
  for (const entry of pick(input.siteSecrets, "site", input)) byName.set(entry.name, entry);
  const names = [...byName.keys()].sort();
  const ordered = new Map<string, ResolvedEntry>();
  for (const name of names) ordered.set(name, byName.get(name) as ResolvedEntry);
  return ordered;
}

function pick(secrets: readonly SecretRecord[], owner: OwnerKind, input: ResolveInput): ResolvedEntry[] {
  const seen = new Set<string>();
  const entries: ResolvedEntry[] = [];
  for (const secret of secrets) {
    if (seen.has(secret.name)) {
      throw new LockboxError(
        "INTERNAL",
        `Two ${owner} secrets are named ${quoteIdentifier(secret.name)}; secret names must be unique per owner.`,
      );
    }
    seen.add(secret.name);
    if (!secret.scopes.includes(input.scope)) continue;
    const overridden = input.env !== undefined && secret.overrideEnvs.includes(input.env);
    entries.push({
      name: secret.name,
      secret,
      owner,
      source:
        owner === "site" ? (overridden ? "site-override" : "site") : overridden ? "org-override" : "org",
      valueEnv: overridden ? input.env : null,
    });
  }
  return entries;
}
