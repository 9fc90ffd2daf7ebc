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
export type ResolutionSource = "site-override" | "site" | "org-override" | "org";
