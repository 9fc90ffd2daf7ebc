import { randomUUID } from "node:crypto";
import {
  buildOverrideWarning,
  decideOverride,
  decideSet,
  environmentNameSchema,
  environmentNotFoundMessage,
  type ImportPlanEntry,
  isScope,
  LockboxError,
  notFoundError,
  noWebScopeNote,
  type OwnerRef,
  overrideBaseNotFoundMessage,
  parseScopes,
  quoteIdentifier,
  type Scope,
  type SecretType,
  secretNotFoundMessage,
  secretTypeSchema,
  validateSecretInput,
} from "@lockbox/core";
import type { AuditStore } from "../audit/audit-store.js";
import { auditBase, orgTarget, siteTarget } from "../audit/audit-targets.js";
import type { ChangeRecorder, OwnerLocks, Transactional } from "../db/ports.js";
import type { AccessPolicy } from "../directory/access-policy.js";
import type { Caller } from "../directory/caller.js";
import type { EnvironmentStore } from "../directory/directory-store.js";
import type { OrgRow, SiteRow } from "../directory/records.js";
import type { DataKeyReader, Vault } from "../keys/vault.js";
import type { DeletedSecretStore } from "./deleted-secret-store.js";
import type { OrgSnapshots } from "./org-snapshots.js";
import {
  applyImport,
  type ImportSecretsInput,
  type ImportSecretsResult,
  type ImportTarget,
  planImport,
  unappliedPlan,
} from "./secret-import.js";
import type { SecretStore } from "./secret-store.js";
import type { SecretVersionStore } from "./secret-version-store.js";
import {
  type DeliveredSecret,
  type LocalSecretsFile,
  type OrgSecretListRow,
  type ResolvedSecretView,
  SecretReader,
  type SiteSecretListRow,
} from "./secret-views.js";
import { deleteSlots, type SlotWriter, writeSlot } from "./slot-writes.js";
import { resolveWithOrgSnapshot } from "./snapshot-resolve.js";

/**
 * What a caller asks `set` to do, as it came in: type and scopes are parsed (422 with the rule's
 * message) only once access is decided. They apply on creation and must match afterwards.
 */
export interface SetSecretInput {
  readonly name: string;
  readonly value: string;
  readonly type?: string | undefined;
  /** A comma-separated list or an array, as `--scope` and request bodies give them. */
  readonly scopes?: string | readonly string[] | undefined;
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

/** What the secrets service reads and writes. */
export interface SecretsStores extends Transactional<SecretsTx> {
  readonly secrets: Pick<SecretStore, "loadSiteSecrets" | "loadOwnSiteSecrets" | "listSecrets">;
  readonly environments: Pick<EnvironmentStore, "findEnvironment">;
}
export interface SecretsTx extends OwnerLocks, ChangeRecorder {
  readonly secrets: SecretStore;
  readonly secretVersions: SecretVersionStore;
  readonly deletedSecrets: DeletedSecretStore;
  readonly environments: Pick<EnvironmentStore, "findEnvironment">;
  readonly audit: Pick<AuditStore, "appendAudit">;
  readonly dataKeys: DataKeyReader;
}

/**
 * The secret use cases of SPEC §2: set, delete, list and resolve for sites and orgs. Every operation
 * on behalf of someone takes the caller and decides access first (anyone who can see a site manages
 * its secrets; an org's secrets are changed by its admins and read by its members). Every write runs
 * in one transaction that locks the owner first (so the create-or-update decision, the
 * immutability check and the override's base check cannot race) and appends its audit event in the
 * same transaction. Reads of values by people are audited; deliveries to machines are audited by
 * the delivery area.
 */
export class SecretsService {
  readonly #reader: SecretReader;

  constructor(
    private readonly stores: SecretsStores,
    private readonly vault: Vault,
    private readonly policy: AccessPolicy,
    /**
     * The org snapshots {@link resolveForDelivery} resolves against while they are trusted (their
     * owner keeps them current through change notifications); without, it reads the org every time.
     */
    private readonly orgSnapshots?: OrgSnapshots,
  ) {
    this.#reader = new SecretReader(stores.secrets, vault);
  }

  /** `secret:site:set`: creates or updates a site secret or one of its environment overrides. */
  async setSiteSecret(caller: Caller, siteRef: string, input: SetSecretInput): Promise<SetSecretResult> {
    const { site } = await this.policy.site(caller, siteRef);
    return this.#set(caller, siteOwner(site), input);
  }

  /** `secret:org:set` (org admin): creates or updates an org secret or an override for any environment name. */
  async setOrgSecret(caller: Caller, orgRef: string, input: SetSecretInput): Promise<SetSecretResult> {
    return this.#set(caller, orgOwner(await this.#administeredOrg(caller, orgRef)), input);
  }

  /** `secret:site:import`: sets many site secrets (or overrides) at once, all or none. */
  async importSiteSecrets(
    caller: Caller,
    siteRef: string,
    input: ImportSecretsInput,
  ): Promise<ImportSecretsResult> {
    const { site } = await this.policy.site(caller, siteRef);
    return this.#import(caller, siteOwner(site), input);
  }

  /** `secret:org:import` (org admin), as {@link importSiteSecrets} for an org. */
  async importOrgSecrets(
    caller: Caller,
    orgRef: string,
    input: ImportSecretsInput,
  ): Promise<ImportSecretsResult> {
    return this.#import(caller, orgOwner(await this.#administeredOrg(caller, orgRef)), input);
  }

  /**
   * `secret:site:delete`: without `env`, deletes the secret with every override (404 when absent);
   * with `env`, deletes that override, idempotently, once the base and the environment exist.
   */
  async deleteSiteSecret(caller: Caller, siteRef: string, name: string, env?: string): Promise<void> {
    const { site } = await this.policy.site(caller, siteRef);
    return this.#delete(caller, siteOwner(site), name, env);
  }

  /** `secret:org:delete` (org admin), as {@link deleteSiteSecret} for an org (any environment name). */
  async deleteOrgSecret(caller: Caller, orgRef: string, name: string, env?: string): Promise<void> {
    return this.#delete(caller, orgOwner(await this.#administeredOrg(caller, orgRef)), name, env);
  }

  /**
   * `secret:site:list`: the site's own secrets and the owner org's secrets it does not define,
   * with the redaction of SPEC §2.3. With `env`, only site secrets overridden in `env`, showing the
   * override. A people-facing read of values, so it is audited.
   * @throws {LockboxError} `SITE_NOT_FOUND`; `ENVIRONMENT_NOT_FOUND`.
   */
  async listSiteSecrets(caller: Caller, siteRef: string, env?: string): Promise<SiteSecretListRow[]> {
    const { site } = await this.policy.site(caller, siteRef);
    if (env !== undefined) await this.#requireSiteEnvironment(site, env);
    const rows = await this.#reader.siteRows(site, env);
    await this.#auditRead(caller, "secret.list", siteTarget(site), env ?? null, site);
    return rows;
  }

  /**
   * `secret:site:local-generate`: the file of SPEC §3 for local development — the rows of
   * {@link listSiteSecrets} as `{EntityType, EntityId, Secrets: {name: {Type, Value, Scopes, EnvValues, OrgValues,
   * Owner, OrgScopes?}}}`, with the same redaction. Audited as `secret.local-generate`.
   */
  async localSecretsFile(caller: Caller, siteRef: string): Promise<LocalSecretsFile> {
    const { site } = await this.policy.site(caller, siteRef);
    const file = await this.#reader.localSecretsFile(site);
    await this.#auditRead(caller, "secret.local-generate", siteTarget(site), null, site);
    return file;
  }

  /** `secret:org:list`: the org's secrets with overrides, redacted by scopes, for its members. Audited. */
  async listOrgSecrets(caller: Caller, orgRef: string): Promise<OrgSecretListRow[]> {
    const { org } = await this.policy.org(caller, orgRef);
    const rows = await this.#reader.orgRows(org);
    await this.#auditRead(caller, "secret.list", orgTarget(org), null, undefined, org.id);
    return rows;
  }

  /**
   * `secret:site:resolve`: what `env` of a site receives for consumer `scope` (default `web`), with
   * each value's source (without `env`, the base values: `site:get`/`site:diff` of a bare site), redacted unless the winning secret has the `user` scope. Audited.
   * @throws {LockboxError} `SITE_NOT_FOUND`; `ENVIRONMENT_NOT_FOUND`; `VALIDATION_FAILED` for a scope
   * other than ic, web or user.
   */
  async resolveForPeople(
    caller: Caller,
    siteRef: string,
    env: string | undefined,
    scope = "web",
  ): Promise<ResolvedSecretView[]> {
    const { site } = await this.policy.site(caller, siteRef);
    if (env !== undefined) await this.#requireSiteEnvironment(site, env);
    if (!isScope(scope)) {
      throw new LockboxError(
        "VALIDATION_FAILED",
        `Invalid scope ${quoteIdentifier(scope)}: use one of ic, web, user.`,
      );
    }
    const resolved = await this.#reader.resolve(site.id, env, scope, (secret) =>
      secret.scopes.includes("user"),
    );
    if (!resolved) throw notFoundError("site", site.name);
    await this.#auditRead(caller, "secret.resolve", siteTarget(site), env ?? null, site);
    return resolved.map(({ secret, source, value }) => ({
      name: secret.name,
      type: secret.type,
      scopes: [...secret.scopes],
      value,
      source,
    }));
  }

  /**
   * The resolved set a runtime (`web`) or build (`ic`) of `env` receives: SPEC §2.4, every value
   * decrypted (only the winning rows are). With trusted org snapshots, from the site's own rows and
   * its org's snapshot (the cold path at org scale); else from both owners' rows. For machines, whose token already decided access;
   * undefined when the site no longer exists. Not audited here: delivery events are recorded by the
   * delivery area, batched, once per version and token.
   */
  async resolveForDelivery(
    siteId: string,
    env: string,
    scope: Scope,
  ): Promise<DeliveredSecret[] | undefined> {
    const snapshots = this.orgSnapshots;
    if (snapshots?.trusted) {
      return resolveWithOrgSnapshot(this.stores.secrets, this.vault, snapshots, { siteId, env, scope });
    }
    const siteEpoch = snapshots?.siteEpoch ?? 0;
    const loaded = await this.stores.secrets.loadSiteSecrets(siteId);
    if (loaded) snapshots?.noteSiteOrg(siteId, loaded.ownerOrgId ?? null, siteEpoch);
    const resolved = loaded && (await this.#reader.resolveLoaded(loaded, env, scope, () => true));
    return resolved?.map(({ secret, value }) => ({
      name: secret.name,
      type: secret.type,
      scopes: secret.scopes,
      value: value ?? "",
    }));
  }

  async #set(caller: Caller, owner: OwnerTarget, input: SetSecretInput): Promise<SetSecretResult> {
    const request = { name: input.name, ...parseOptions(input) };
    return this.stores.transaction(async (tx) => {
      await lockOrThrow(tx, owner);
      const existing = await tx.secrets.findSecret(owner.ref, input.name);
      const ownerLabel = { kind: owner.ref.kind, name: owner.name } as const;
      let type: SecretType;
      let scopes: readonly Scope[];
      if (input.env !== undefined) {
        await requireEnvironment(tx, owner, input.env);
        const decision = decideOverride(existing, request, ownerLabel);
        if (decision.action === "reject") throw decision.error;
        type = decision.type;
        scopes = decision.scopes;
      } else {
        const decision = decideSet(existing, request);
        if (decision.action === "reject") throw decision.error;
        type = decision.type;
        scopes = decision.scopes;
      }
      validateSecretInput({ name: input.name, type, scopes, value: input.value });

      const secretId = existing?.id ?? randomUUID();
      if (!existing) {
        await tx.secrets.insertSecret({ id: secretId, owner: owner.ref, name: input.name, type, scopes });
      }
      const env = input.env ?? null;
      const slot = { secretId, owner: owner.ref, name: input.name, env };
      await writeSlot(tx, this.vault, slotWriter(caller, owner), slot, "set", input.value);
      const notes: string[] = [];
      if (!existing && !scopes.includes("web")) notes.push(noWebScopeNote(input.name, { type, scopes }));
      const warning =
        env === null ? undefined : buildOverrideWarning({ type, name: input.name, scopes }, env);
      if (warning !== undefined) notes.push(warning);
      return { created: !existing, name: input.name, type, scopes, notes };
    });
  }

  /**
   * One transaction: every entry is decided as a set would decide it (secret-import.ts); with any
   * entry refused, or for a dry run, nothing is written and the plan says why.
   */
  async #import(caller: Caller, owner: OwnerTarget, input: ImportSecretsInput): Promise<ImportSecretsResult> {
    const request = parseOptions(input);
    return this.stores.transaction(async (tx) => {
      await lockOrThrow(tx, owner);
      if (input.env !== undefined) await requireEnvironment(tx, owner, input.env);
      const target: ImportTarget = {
        ref: owner.ref,
        label: { kind: owner.ref.kind, name: owner.name },
        env: input.env ?? null,
        request,
      };
      const planned = await planImport(tx, this.vault, target, input.secrets);
      const answered = (entries: readonly ImportPlanEntry[]) =>
        entries.map(({ name, action, reason }) => ({
          name,
          action,
          ...(reason !== undefined ? { reason } : {}),
        }));
      if (input.dryRun === true || planned.some((entry) => entry.action === "refused")) {
        return { plan: answered(unappliedPlan(planned)), applied: false, notes: [] };
      }
      const plan = answered(planned);
      const notes = await applyImport(tx, this.vault, target, planned, slotWriter(caller, owner));
      return { plan, applied: true, notes };
    });
  }

  async #delete(caller: Caller, owner: OwnerTarget, name: string, env?: string): Promise<void> {
    await this.stores.transaction(async (tx) => {
      await lockOrThrow(tx, owner);
      const ownerLabel = { kind: owner.ref.kind, name: owner.name } as const;
      if (env !== undefined) await requireEnvironment(tx, owner, env);
      const existing = await tx.secrets.findSecret(owner.ref, name);
      if (!existing) {
        // An override's missing base answers the 404 of setting it (SPEC §2.2 → §2.1).
        const message =
          env === undefined
            ? secretNotFoundMessage(name, ownerLabel)
            : overrideBaseNotFoundMessage(name, ownerLabel);
        throw new LockboxError("SECRET_NOT_FOUND", message);
      }
      await deleteSlots(tx, this.vault, slotWriter(caller, owner), existing, env);
    });
  }

  #administeredOrg(caller: Caller, ref: string): Promise<OrgRow> {
    return this.policy.administeredOrg(
      caller,
      ref,
      (org) => `Only an admin of organization ${quoteIdentifier(org.name)} can change its secrets.`,
    );
  }

  async #requireSiteEnvironment(site: SiteRow, env: string): Promise<void> {
    if (!(await this.stores.environments.findEnvironment(site.id, env))) {
      throw new LockboxError("ENVIRONMENT_NOT_FOUND", environmentNotFoundMessage(env, site.name));
    }
  }

  async #auditRead(
    caller: Caller,
    action: string,
    target: string,
    environment: string | null,
    site?: SiteRow,
    orgId?: string,
  ): Promise<void> {
    await this.stores.transaction((tx) =>
      tx.audit.appendAudit({
        ...auditBase(caller),
        action,
        target,
        environment,
        siteId: site?.id ?? null,
        orgId: orgId ?? site?.ownerOrgId ?? null,
      }),
    );
  }
}

/** Type and scopes of a set request, checked against SPEC §2 (VALIDATION_FAILED with the rule's message). */
function parseOptions(input: Pick<SetSecretInput, "type" | "scopes">): {
  type?: SecretType;
  scopes?: Scope[];
} {
  let type: SecretType | undefined;
  if (input.type !== undefined) {
    const parsed = secretTypeSchema.safeParse(input.type);
    if (!parsed.success) {
      throw new LockboxError("VALIDATION_FAILED", parsed.error.issues[0]?.message ?? "Invalid secret type.");
    }
    type = parsed.data;
  }
  return {
    ...(type !== undefined ? { type } : {}),
    ...(input.scopes !== undefined ? { scopes: parseScopes(input.scopes) } : {}),
  };
}

/** An owner as the services address it: by reference, with its name and audit target. */
export interface OwnerTarget {
  readonly ref: OwnerRef;
  readonly name: string;
  readonly target: string;
  readonly siteId: string | null;
  readonly orgId: string | null;
}

export function siteOwner(site: SiteRow): OwnerTarget {
  return {
    ref: { kind: "site", id: site.id },
    name: site.name,
    target: siteTarget(site),
    siteId: site.id,
    orgId: site.ownerOrgId,
  };
}

export function orgOwner(org: OrgRow): OwnerTarget {
  return {
    ref: { kind: "org", id: org.id },
    name: org.name,
    target: orgTarget(org),
    siteId: null,
    orgId: org.id,
  };
}

export function ownerAuditBase(caller: Caller, owner: OwnerTarget) {
  return { ...auditBase(caller), siteId: owner.siteId, orgId: owner.orgId };
}

/** Who writes an owner's slots, for {@link writeSlot} and {@link deleteSlots}. */
export function slotWriter(caller: Caller, owner: OwnerTarget): SlotWriter {
  return { audit: ownerAuditBase(caller, owner), ownerTarget: owner.target };
}

export async function lockOrThrow(tx: Pick<SecretsTx, "lockOwner">, owner: OwnerTarget): Promise<void> {
  if (!(await tx.lockOwner(owner.ref))) throw notFoundError(owner.ref.kind, owner.name);
}

/** Sites have an environment list; orgs accept any valid environment name (SPEC §2.1). */
export async function requireEnvironment(
  tx: Pick<SecretsTx, "environments">,
  owner: OwnerTarget,
  env: string,
): Promise<void> {
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
  if (!(await tx.environments.findEnvironment(owner.ref.id, env))) {
    throw new LockboxError("ENVIRONMENT_NOT_FOUND", environmentNotFoundMessage(env, owner.name));
  }
}
