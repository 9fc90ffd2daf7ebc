import {
  type LocalSecretsResponse,
  LockboxError,
  notFoundError,
  type OrgSecretRow,
  type OwnerRef,
  quoteIdentifier,
  type ResolutionSource,
  type ResolvedRow,
  resolveSecrets,
  type Scope,
  type SecretType,
  type SiteSecretRow,
} from "@lockbox/core";
import type { OrgRow, SiteRow } from "../directory/records.js";
import type { Vault } from "../keys/vault.js";
import type { SecretStore, SiteSecrets, StoredSecret } from "./secret-store.js";

/** One row of `secret:site:list` (SPEC §2.3), in its wire shape; `null` values are redacted by the secret's scopes. */
export type SiteSecretListRow = SiteSecretRow;
/** One row of `secret:org:list`. */
export type OrgSecretListRow = OrgSecretRow;
/** The local development file of SPEC §3, written by `secret:site:local-generate`. */
export type LocalSecretsFile = LocalSecretsResponse;
/** One resolved secret as people see it (`secret:site:resolve`), redacted without `user` scope. */
export type ResolvedSecretView = ResolvedRow;

/** One resolved secret as a machine receives it (runtime or build): never redacted. */
export interface DeliveredSecret {
  readonly name: string;
  readonly type: SecretType;
  readonly scopes: readonly Scope[];
  readonly value: string;
}

/** A winning secret of a resolution, its source, and its value (null where `reveal` said no). */
export interface ResolvedEntryWithValue {
  readonly secret: StoredSecret;
  readonly source: ResolutionSource;
  readonly value: string | null;
}

/**
 * Builds the views of secrets — listings, the local file, resolutions — from one snapshot of an
 * owner's sealed secrets, decrypting late: only the values a view shows (and, for listings, only
 * those with the `user` scope) are opened. Access is the caller's concern (the secrets service).
 */
export class SecretReader {
  constructor(
    private readonly store: Pick<SecretStore, "loadSiteSecrets" | "listSecrets">,
    private readonly vault: Vault,
  ) {}

  /** The rows of `secret:site:list`: own and inherited secrets, or with `env` the site's overrides there. */
  async siteRows(site: SiteRow, env?: string): Promise<SiteSecretListRow[]> {
    if (env === undefined) return (await this.#allSiteRows(site)).map(({ orgScopes: _, ...row }) => row);
    const loaded = await this.store.loadSiteSecrets(site.id);
    if (!loaded) throw notFoundError("site", site.name);
    const owner: OwnerRef = { kind: "site", id: loaded.siteId };
    const rows: SiteSecretListRow[] = [];
    for (const secret of loaded.siteSecrets) {
      const sealed = secret.overrides.get(env);
      if (!sealed) continue;
      rows.push({
        ...describe(secret),
        value: await this.#reveal(owner, secret, env, sealed),
        envValues: {},
        orgValues: {},
        owner: "site",
      });
    }
    return rows;
  }

  /**
   * The rows of {@link siteRows} in the local file's shape, with `Owner` and the org secret's
   * scopes besides, which local mode needs to resolve as the runtime endpoint does (SPEC §3).
   */
  async localSecretsFile(site: SiteRow): Promise<LocalSecretsFile> {
    const secrets: LocalSecretsFile["Secrets"] = Object.create(null);
    for (const row of await this.#allSiteRows(site)) {
      secrets[row.name] = {
        Type: row.type,
        Value: row.value,
        Scopes: row.scopes,
        EnvValues: row.envValues,
        OrgValues: row.orgValues,
        Owner: row.owner,
        ...(row.orgScopes ? { OrgScopes: row.orgScopes } : {}),
      };
    }
    return { EntityType: "sites", EntityId: site.id, Secrets: { ...secrets } };
  }

  /** Every row the site sees, own and inherited, each with the scopes of the org's same-named secret. */
  async #allSiteRows(site: SiteRow): Promise<(SiteSecretListRow & { orgScopes?: Scope[] })[]> {
    const loaded = await this.store.loadSiteSecrets(site.id);
    if (!loaded) throw notFoundError("site", site.name);
    const owner: OwnerRef = { kind: "site", id: loaded.siteId };
    const rows: (SiteSecretListRow & { orgScopes?: Scope[] })[] = [];
    const orgByName = new Map(loaded.orgSecrets.map((s) => [s.name, s]));
    const orgOwner: OwnerRef | undefined = loaded.ownerOrgId
      ? { kind: "org", id: loaded.ownerOrgId }
      : undefined;
    for (const secret of loaded.siteSecrets) {
      const orgSecret = orgOwner ? orgByName.get(secret.name) : undefined;
      rows.push({
        ...describe(secret),
        value: await this.#reveal(owner, secret, null, secret.base),
        envValues: await this.#revealOverrides(owner, secret),
        orgValues: orgSecret && orgOwner ? await this.#orgValues(orgOwner, orgSecret) : {},
        owner: "site",
        ...(orgSecret ? { orgScopes: [...orgSecret.scopes] } : {}),
      });
    }
    const siteNames = new Set(loaded.siteSecrets.map((s) => s.name));
    for (const secret of loaded.orgSecrets) {
      if (siteNames.has(secret.name) || !orgOwner) continue;
      rows.push({
        ...describe(secret),
        value: await this.#reveal(orgOwner, secret, null, secret.base),
        envValues: {},
        orgValues: await this.#orgValues(orgOwner, secret),
        owner: "org",
      });
    }
    return rows.sort((a, b) => compareNames(a.name, b.name));
  }

  /** The rows of `secret:org:list`. */
  async orgRows(org: OrgRow): Promise<OrgSecretListRow[]> {
    const owner: OwnerRef = { kind: "org", id: org.id };
    const rows: OrgSecretListRow[] = [];
    for (const secret of await this.store.listSecrets(owner)) {
      rows.push({
        ...describe(secret),
        value: await this.#reveal(owner, secret, null, secret.base),
        envValues: await this.#revealOverrides(owner, secret),
      });
    }
    return rows;
  }

  /**
   * SPEC §2.4 for one site environment and consumer scope: the winners, each value decrypted when
   * `reveal` says so. Undefined when the site does not exist.
   */
  async resolve(
    siteId: string,
    env: string | undefined,
    scope: Scope,
    reveal: (secret: StoredSecret) => boolean,
  ): Promise<ResolvedEntryWithValue[] | undefined> {
    const loaded = await this.store.loadSiteSecrets(siteId);
    return loaded && this.resolveLoaded(loaded, env, scope, reveal);
  }

  /** {@link resolve} over rows already read. */
  async resolveLoaded(
    loaded: SiteSecrets,
    env: string | undefined,
    scope: Scope,
    reveal: (secret: StoredSecret) => boolean,
  ): Promise<ResolvedEntryWithValue[]> {
    const winners = resolveSecrets({
      env,
      scope,
      siteSecrets: loaded.siteSecrets,
      orgSecrets: loaded.orgSecrets,
    });
    const out: ResolvedEntryWithValue[] = [];
    for (const entry of winners.values()) {
      const secret = entry.secret as StoredSecret;
      const owner: OwnerRef =
        entry.owner === "site"
          ? { kind: "site", id: loaded.siteId }
          : { kind: "org", id: loaded.ownerOrgId ?? "" };
      const sealed = entry.valueEnv === null ? secret.base : secret.overrides.get(entry.valueEnv);
      if (!sealed)
        throw new LockboxError(
          "INTEGRITY_FAILED",
          `Secret ${quoteIdentifier(secret.name)} lost a value while resolving.`,
        );
      const value = reveal(secret)
        ? await this.vault.open(owner, { secretId: secret.id, env: entry.valueEnv }, sealed)
        : null;
      out.push({ secret, source: entry.source, value });
    }
    return out;
  }

  async #reveal(
    owner: OwnerRef,
    secret: StoredSecret,
    env: string | null,
    sealed: Buffer,
  ): Promise<string | null> {
    if (!secret.scopes.includes("user")) return null;
    return this.vault.open(owner, { secretId: secret.id, env }, sealed);
  }

  async #revealOverrides(owner: OwnerRef, secret: StoredSecret): Promise<Record<string, string | null>> {
    const values: Record<string, string | null> = Object.create(null);
    for (const [env, sealed] of secret.overrides)
      values[env] = await this.#reveal(owner, secret, env, sealed);
    return { ...values };
  }

  async #orgValues(owner: OwnerRef, secret: StoredSecret): Promise<Record<string, string | null>> {
    return {
      default: await this.#reveal(owner, secret, null, secret.base),
      ...(await this.#revealOverrides(owner, secret)),
    };
  }
}

function describe(secret: StoredSecret) {
  return { name: secret.name, type: secret.type, scopes: [...secret.scopes] };
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
