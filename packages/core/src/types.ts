/** How a secret is used; decides which build channel receives it. Immutable once created. */
export type SecretType = "runtime" | "env" | "composer";

/** Who may read a secret's value: builds (`ic`), the application (`web`), people (`user`). */
export type Scope = "ic" | "web" | "user";

/** The canonical order in which scopes are stored and shown. */
export const SCOPE_ORDER: readonly Scope[] = ["ic", "web", "user"];

/** Every secret type, the default (`runtime`) first. */
export const SECRET_TYPES: readonly SecretType[] = ["runtime", "env", "composer"];

/** Which kind of entity owns a secret. */
export type OwnerKind = "org" | "site";

/** Every {@link OwnerKind}. */
export const OWNER_KINDS: readonly OwnerKind[] = ["site", "org"];

/** An owner of secrets, always bound by UUID. */
export interface OwnerRef {
  readonly kind: OwnerKind;
  readonly id: string;
}

/**
 * A secret's metadata as resolution needs it: no value. `overrideEnvs` lists the environments
 * for which this owner has an override of the secret.
 */
export interface SecretRecord {
  readonly id: string;
  readonly name: string;
  readonly type: SecretType;
  readonly scopes: readonly Scope[];
  readonly overrideEnvs: readonly string[];
}

/** Where a resolved value came from, most specific first. */
export const RESOLUTION_SOURCES = ["site-override", "site", "org-override", "org"] as const;

/** One of {@link RESOLUTION_SOURCES}. */
export type ResolutionSource = (typeof RESOLUTION_SOURCES)[number];

/** Who owns a site: an organization, or a person (a personal site). */
export const SITE_OWNER_KINDS = ["org", "user"] as const;

/** One of {@link SITE_OWNER_KINDS}. */
export type SiteOwnerKind = (typeof SITE_OWNER_KINDS)[number];

/** A member's role in an organization. */
export const ORG_ROLES = ["admin", "member"] as const;

/** One of {@link ORG_ROLES}. */
export type OrgRole = (typeof ORG_ROLES)[number];

/** A site's environments: `dev`, `test` and `live` are `standard`; the others are multidevs. */
export const ENVIRONMENT_KINDS = ["standard", "multidev"] as const;

/** One of {@link ENVIRONMENT_KINDS}. */
export type EnvironmentKind = (typeof ENVIRONMENT_KINDS)[number];

/** The kinds of API token: people (`lbx_`), applications (`lbr_`), builds (`lbb_`). */
export const TOKEN_KINDS = ["user", "runtime", "build"] as const;

/** One of {@link TOKEN_KINDS}. */
export type TokenKind = (typeof TOKEN_KINDS)[number];
