import { randomUUID } from "node:crypto";
import {
  composerOverrideWarning,
  decideOverride,
  decideSet,
  environmentNameSchema,
  environmentNotFoundMessage,
  LockboxError,
  noWebScopeNote,
  type OwnerRef,
  overrideBaseNotFoundMessage,
  type ResolutionSource,
  resolveSecrets,
  type Scope,
  type SecretType,
  secretNotFoundMessage,
  validateSecretInput,
} from "@lockbox/core";
import { orgTarget, siteTarget } from "../audit/audit-targets.js";
import type { OrgRow, SecretStore, SiteRow, StoredSecret, StoreTx } from "../db/secret-store.js";
import type { RequestContext } from "../directory/caller.js";
import type { Vault } from "../keys/vault.js";

/** What a caller asks `set` to do. Type and scopes apply on creation and must match afterwards. */
export interface SetSecretInput {
  readonly name: string;
  readonly value: string;
  readonly type?: SecretType | undefined;
  readonly scopes?: readonly Scope[] | undefined;
  /** Set an override for this environment instead of the base value. */
  readonly env?: string | undefined;
}

/** The result of a set: whether the secret was created, and notes for the person who set it. */
export interface SetSecretResult {
  readonly created: boolean;
  readonly name: string;
  readonly type: SecretType;
  readonly scopes: readonly Scope[];
  /** Things worth telling (no web scope, an override builds never read). Never a value. */
  readonly notes: readonly string[];
}

/** One row of `secret:site:list` (SPEC §2.3); `null` values are redacted by the secret's scopes. */
export interface SiteSecretListRow {
  readonly name: string;
  readonly type: SecretType;
  readonly scopes: readonly Scope[];
  readonly value: string | null;
  readonly envValues: Readonly<Record<string, string | null>>;
  readonly orgValues: Readonly<Record<string, string | null>>;
  readonly owner: "site" | "org";
}

/** The local development file of SPEC §3, written by `secret:site:local-generate`. */
export interface LocalSecretsFile {
  readonly EntityType: "sites";
  readonly EntityId: string;
  readonly Secrets: Record<
    string,
    {
      readonly Type: SecretType;
      readonly Value: string | null;
      readonly Scopes: readonly Scope[];
      readonly EnvValues: Readonly<Record<string, string | null>>;
      readonly OrgValues: Readonly<Record<string, string | null>>;
    }
  >;
}

/** One row of `secret:org:list`. */
export interface OrgSecretListRow {
  readonly name: string;
  readonly type: SecretType;
  readonly scopes: readonly Scope[];
  readonly value: string | null;
  readonly envValues: Readonly<Record<string, string | null>>;
}

/** One resolved secret as people see it (`secret:site:resolve`), redacted without `user` scope. */
export interface ResolvedSecretView {
  readonly name: string;
  readonly type: SecretType;
  readonly scopes: readonly Scope[];
  readonly value: string | null;
  readonly source: ResolutionSource;
}

/** One resolved secret as a machine receives it (runtime or build): never redacted. */
export interface DeliveredSecret {
  readonly name: string;
  readonly type: SecretType;
  readonly scopes: readonly Scope[];
  readonly value: string;
}

/**
 * The secret use cases of SPEC §2: set, delete, list and resolve for sites and orgs. Every write
 * runs in one transaction that locks the owner first (so the create-or-update decision, the
 * immutability check and the override's base check cannot race) and appends its audit event in the
 * same transaction. Callers pass entities they already looked up and authorized; the services
 * re-check existence under the lock.
 */
export class SecretsService {
  readonly #store: SecretStore;
  readonly #vault: Vault;

  constructor(store: SecretStore, vault: Vault) {
    this.#store = store;
    this.#vault = vault;
  }

  /** `secret:site:set`: creates or updates a site secret or one of its environment overrides. */
  setSiteSecret(ctx: RequestContext, site: SiteRow, input: SetSecretInput): Promise<SetSecretResult> {
    return this.#set(ctx, siteOwner(site), input);
  }

  /** `secret:org:set`: creates or updates an org secret or an override for any environment name. */
  setOrgSecret(ctx: RequestContext, org: OrgRow, input: SetSecretInput): Promise<SetSecretResult> {
    return this.#set(ctx, orgOwner(org), input);
  }

  /**
   * `secret:site:delete`: without `env`, deletes the secret with every override (404 when absent);
   * with `env`, deletes that override, idempotently, once the base and the environment exist.
   */
  deleteSiteSecret(ctx: RequestContext, site: SiteRow, name: string, env?: string): Promise<void> {
    return this.#delete(ctx, siteOwner(site), name, env);
  }

  /** `secret:org:delete`, as {@link deleteSiteSecret} for an org (any environment name). */
  deleteOrgSecret(ctx: RequestContext, org: OrgRow, name: string, env?: string): Promise<void> {
    return this.#delete(ctx, orgOwner(org), name, env);
  }

  /**
   * `secret:site:list`: the site's own secrets and the owner org's secrets it does not define,
   * with the redaction of SPEC §2.3. With `env`, only site secrets overridden in `env`, showing the
   * override. A people-facing read of values, so it is audited.
   */
  async listSiteSecrets(ctx: RequestContext, site: SiteRow, env?: string): Promise<SiteSecretListRow[]> {
    const rows = await this.#siteRows(site, env);
    await this.#auditRead(ctx, "secret.list", siteTarget(site), env ?? null, site);
    return rows;
  }

  /**
   * `secret:site:local-generate`: the file of SPEC §3 for local development — the rows of
   * {@link listSiteSecrets} as `{EntityType, EntityId, Secrets: {name: {Type, Value, Scopes, EnvValues, OrgValues}}}`,
   * with the same redaction. Audited as `secret.local-generate`.
   */
  async localSecretsFile(ctx: RequestContext, site: SiteRow): Promise<LocalSecretsFile> {
    const rows = await this.#siteRows(site);
    await this.#auditRead(ctx, "secret.local-generate", siteTarget(site), null, site);
    const secrets: LocalSecretsFile["Secrets"] = Object.create(null);
    for (const row of rows) {
      secrets[row.name] = {
        Type: row.type,
        Value: row.value,
        Scopes: row.scopes,
        EnvValues: row.envValues,
        OrgValues: row.orgValues,
      };
    }
    return { EntityType: "sites", EntityId: site.id, Secrets: { ...secrets } };
  }

  async #siteRows(site: SiteRow, env?: string): Promise<SiteSecretListRow[]> {
    const loaded = await this.#store.loadSiteSecrets(site.id);
    if (!loaded) throw siteNotFound(site.name);
    const owner = siteOwner(loaded.site).ref;
    const rows: SiteSecretListRow[] = [];
    if (env !== undefined) {
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
    } else {
      const orgByName = new Map(loaded.orgSecrets.map((s) => [s.name, s]));
      const orgOwnerRef = loaded.ownerOrg ? orgOwner(loaded.ownerOrg).ref : undefined;
      for (const secret of loaded.siteSecrets) {
        const orgSecret = orgByName.get(secret.name);
        rows.push({
          ...describe(secret),
          value: await this.#reveal(owner, secret, null, secret.base),
          envValues: await this.#revealOverrides(owner, secret),
          orgValues: orgSecret && orgOwnerRef ? await this.#orgValues(orgOwnerRef, orgSecret) : {},
          owner: "site",
        });
      }
      const siteNames = new Set(loaded.siteSecrets.map((s) => s.name));
      for (const secret of loaded.orgSecrets) {
        if (siteNames.has(secret.name) || !orgOwnerRef) continue;
        rows.push({
          ...describe(secret),
          value: await this.#reveal(orgOwnerRef, secret, null, secret.base),
          envValues: {},
          orgValues: await this.#orgValues(orgOwnerRef, secret),
          owner: "org",
        });
      }
      rows.sort((a, b) => compareNames(a.name, b.name));
    }
    return rows;
  }

  /** `secret:org:list`: the org's secrets with overrides, redacted by scopes. Audited. */
  async listOrgSecrets(ctx: RequestContext, org: OrgRow): Promise<OrgSecretListRow[]> {
    const owner = orgOwner(org).ref;
    const secrets = await this.#store.listSecrets(owner);
    const rows: OrgSecretListRow[] = [];
    for (const secret of secrets) {
      rows.push({
        ...describe(secret),
        value: await this.#reveal(owner, secret, null, secret.base),
        envValues: await this.#revealOverrides(owner, secret),
      });
    }
    await this.#auditRead(ctx, "secret.list", orgTarget(org), null, undefined, org.id);
    return rows;
  }

  /**
   * `secret:site:resolve`: what `env` of `site` receives for consumer `scope`, with each value's
   * source, redacted unless the winning secret has the `user` scope. Audited.
   */
  async resolveForPeople(
    ctx: RequestContext,
    site: SiteRow,
    env: string,
    scope: Scope,
  ): Promise<ResolvedSecretView[]> {
    const resolved = await this.#resolve(site.id, env, scope, (secret) => secret.scopes.includes("user"));
    if (!resolved) throw siteNotFound(site.name);
    await this.#auditRead(ctx, "secret.resolve", siteTarget(site), env, site);
    return resolved.map(({ secret, source, value }) => ({
      name: secret.name,
      type: secret.type,
      scopes: secret.scopes,
      value,
      source,
    }));
  }

  /**
   * The resolved set a runtime (`web`) or build (`ic`) of `env` receives: SPEC §2.4, every value
   * decrypted (only the winning rows are). Undefined when the site no longer exists. Not audited
   * here: delivery events are recorded by the caller, batched, once per version and token.
   */
  async resolveForDelivery(
    siteId: string,
    env: string,
    scope: Scope,
  ): Promise<DeliveredSecret[] | undefined> {
    const resolved = await this.#resolve(siteId, env, scope, () => true);
    return resolved?.map(({ secret, value }) => ({
      name: secret.name,
      type: secret.type,
      scopes: secret.scopes,
      value: value ?? "",
    }));
  }

  async #resolve(
    siteId: string,
    env: string,
    scope: Scope,
    reveal: (secret: StoredSecret) => boolean,
  ): Promise<Array<{ secret: StoredSecret; source: ResolutionSource; value: string | null }> | undefined> {
    const loaded = await this.#store.loadSiteSecrets(siteId);
    if (!loaded) return undefined;
    const winners = resolveSecrets({
      env,
      scope,
      siteSecrets: loaded.siteSecrets,
      orgSecrets: loaded.orgSecrets,
    });
    const out: Array<{ secret: StoredSecret; source: ResolutionSource; value: string | null }> = [];
    for (const entry of winners.values()) {
      const secret = entry.secret as StoredSecret;
      const owner: OwnerRef =
        entry.owner === "site"
          ? { kind: "site", id: loaded.site.id }
          : { kind: "org", id: loaded.ownerOrg?.id ?? "" };
      const sealed = entry.valueEnv === null ? secret.base : secret.overrides.get(entry.valueEnv);
      if (!sealed)
        throw new LockboxError("INTEGRITY_FAILED", `Secret '${secret.name}' lost a value while resolving.`);
      const value = reveal(secret)
        ? await this.#vault.open(owner, { secretId: secret.id, env: entry.valueEnv }, sealed)
        : null;
      out.push({ secret, source: entry.source, value });
    }
    return out;
  }

  async #set(ctx: RequestContext, owner: OwnerTarget, input: SetSecretInput): Promise<SetSecretResult> {
    return this.#store.transaction(async (tx) => {
      await lockOrThrow(tx, owner);
      const existing = await tx.findSecret(owner.ref, input.name);
      const request = { name: input.name, type: input.type, scopes: input.scopes };
      const ownerLabel = { kind: owner.ref.kind, name: owner.name } as const;
      let type: SecretType;
      let scopes: readonly Scope[];
      if (input.env !== undefined) {
        await requireEnvironment(tx, owner, input.env);
        const decision = decideOverride(existing, request, ownerLabel);
        if (decision.action === "reject") throw decision.error;
        // decideOverride only accepts when the base exists.
        type = existing?.type ?? "runtime";
        scopes = existing?.scopes ?? [];
      } else {
        const decision = decideSet(existing, request);
        if (decision.action === "reject") throw decision.error;
        type = decision.action === "create" ? decision.type : (existing?.type ?? "runtime");
        scopes = decision.action === "create" ? decision.scopes : (existing?.scopes ?? []);
      }
      validateSecretInput({ name: input.name, type, scopes, value: input.value });

      const secretId = existing?.id ?? randomUUID();
      if (!existing) {
        await tx.insertSecret({ id: secretId, owner: owner.ref, name: input.name, type, scopes });
      }
      const env = input.env ?? null;
      const sealed = await this.#vault.seal(owner.ref, { secretId, env }, input.value, tx);
      await tx.putValue(secretId, env, sealed);
      await tx.recordChange({ kind: owner.ref.kind, id: owner.ref.id });
      await tx.appendAudit({
        ...auditBase(ctx, owner),
        action: env === null ? "secret.set" : "secret.override.set",
        target: `${owner.target}/secret:${input.name}`,
        environment: env,
        outcome: "success",
      });
      const notes: string[] = [];
      if (!existing && !scopes.includes("web")) notes.push(noWebScopeNote(input.name));
      const warning = env === null ? undefined : composerOverrideWarning(type, input.name, env);
      if (warning !== undefined) notes.push(warning);
      return { created: !existing, name: input.name, type, scopes, notes };
    });
  }

  async #delete(ctx: RequestContext, owner: OwnerTarget, name: string, env?: string): Promise<void> {
    await this.#store.transaction(async (tx) => {
      await lockOrThrow(tx, owner);
      const ownerLabel = { kind: owner.ref.kind, name: owner.name } as const;
      if (env !== undefined) await requireEnvironment(tx, owner, env);
      const existing = await tx.findSecret(owner.ref, name);
      if (!existing) {
        // An override's missing base answers the 404 of setting it (SPEC §2.2 → §2.1).
        const message =
          env === undefined
            ? secretNotFoundMessage(name, ownerLabel)
            : overrideBaseNotFoundMessage(name, ownerLabel);
        throw new LockboxError("SECRET_NOT_FOUND", message);
      }
      if (env === undefined) await tx.deleteSecret(existing.id);
      else await tx.deleteOverride(existing.id, env);
      await tx.recordChange({ kind: owner.ref.kind, id: owner.ref.id });
      await tx.appendAudit({
        ...auditBase(ctx, owner),
        action: env === undefined ? "secret.delete" : "secret.override.delete",
        target: `${owner.target}/secret:${name}`,
        environment: env ?? null,
        outcome: "success",
      });
    });
  }

  async #reveal(
    owner: OwnerRef,
    secret: StoredSecret,
    env: string | null,
    sealed: Buffer,
  ): Promise<string | null> {
    if (!secret.scopes.includes("user")) return null;
    return this.#vault.open(owner, { secretId: secret.id, env }, sealed);
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

  async #auditRead(
    ctx: RequestContext,
    action: string,
    target: string,
    environment: string | null,
    site?: SiteRow,
    orgId?: string,
  ): Promise<void> {
    await this.#store.transaction((tx) =>
      tx.appendAudit({
        actor: ctx.actor,
        requestId: ctx.requestId ?? null,
        action,
        target,
        environment,
        siteId: site?.id ?? null,
        orgId: orgId ?? site?.ownerOrgId ?? null,
        outcome: "success",
      }),
    );
  }
}

/** An owner as the services address it: by reference, with its name and audit target. */
interface OwnerTarget {
  readonly ref: OwnerRef;
  readonly name: string;
  readonly target: string;
  readonly siteId: string | null;
  readonly orgId: string | null;
}

function siteOwner(site: SiteRow): OwnerTarget {
  return {
    ref: { kind: "site", id: site.id },
    name: site.name,
    target: siteTarget(site),
    siteId: site.id,
    orgId: site.ownerOrgId,
  };
}

function orgOwner(org: OrgRow): OwnerTarget {
  return {
    ref: { kind: "org", id: org.id },
    name: org.name,
    target: orgTarget(org),
    siteId: null,
    orgId: org.id,
  };
}

function auditBase(ctx: RequestContext, owner: OwnerTarget) {
  return { actor: ctx.actor, requestId: ctx.requestId ?? null, siteId: owner.siteId, orgId: owner.orgId };
}

async function lockOrThrow(tx: StoreTx, owner: OwnerTarget): Promise<void> {
  if (!(await tx.lockOwner(owner.ref))) {
    throw owner.ref.kind === "site"
      ? siteNotFound(owner.name)
      : new LockboxError(
          "ORG_NOT_FOUND",
          `Organization '${owner.name}' was not found, or you do not have access to it.`,
        );
  }
}

/** Sites have an environment list; orgs accept any valid environment name (SPEC §2.1). */
async function requireEnvironment(tx: StoreTx, owner: OwnerTarget, env: string): Promise<void> {
  if (owner.ref.kind !== "site") {
    const parsed = environmentNameSchema.safeParse(env);
    if (!parsed.success) {
      throw new LockboxError(
        "VALIDATION_FAILED",
        parsed.error.issues[0]?.message ?? "Invalid environment name.",
      );
    }
    return;
  }
  if (!(await tx.findEnvironment(owner.ref.id, env))) {
    throw new LockboxError("ENVIRONMENT_NOT_FOUND", environmentNotFoundMessage(env, owner.name));
  }
}

function siteNotFound(name: string): LockboxError {
  return new LockboxError("SITE_NOT_FOUND", `Site '${name}' was not found, or you do not have access to it.`);
}

function describe(secret: StoredSecret) {
  return { name: secret.name, type: secret.type, scopes: secret.scopes };
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
