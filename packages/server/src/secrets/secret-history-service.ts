import {
  LockboxError,
  quoteIdentifier,
  type SecretVersionAction,
  secretNotFoundMessage,
  validateSecretInput,
} from "@lockbox/core";
import type { Transactional } from "../db/ports.js";
import type { AccessPolicy } from "../directory/access-policy.js";
import type { Caller } from "../directory/caller.js";
import type { EnvironmentStore } from "../directory/directory-store.js";
import type { OrgRow } from "../directory/records.js";
import type { Vault } from "../keys/vault.js";
import type { SecretRow, SecretStore } from "./secret-store.js";
import type { SecretVersionStore } from "./secret-version-store.js";
import {
  lockOrThrow,
  type OwnerTarget,
  orgOwner,
  ownerAuditBase,
  requireEnvironment,
  type SecretsTx,
  siteOwner,
  slotWriter,
} from "./secrets-service.js";
import { writeSlot } from "./slot-writes.js";

/** Which versions to list: newest first, below `before`, at most `limit`; `values` to open them. */
export interface HistoryQuery {
  readonly env?: string | undefined;
  readonly limit?: number | undefined;
  readonly before?: number | undefined;
  readonly values?: boolean | undefined;
}

/** One version as people see it; `value` only when asked for, `null` when redacted or deleted. */
export interface SecretVersionView {
  readonly version: number;
  readonly at: string;
  readonly actor: string;
  readonly action: SecretVersionAction;
  readonly value?: string | null;
}

export interface RollbackResult {
  readonly name: string;
  readonly env: string | null;
  /** The new current version. */
  readonly version: number;
  /** The version whose value it took. */
  readonly from: number;
}

const DEFAULT_LIMIT = 100;

/** What the history service reads outside its transactions. */
export interface HistoryStores extends Transactional<SecretsTx> {
  readonly secrets: Pick<SecretStore, "findSecret">;
  readonly secretVersions: Pick<SecretVersionStore, "listVersions">;
  readonly environments: Pick<EnvironmentStore, "findEnvironment">;
}

/**
 * A secret's history (every version of one value slot) and rollback to one of them. Access is the
 * secret's: reading history is listing (site managers; org members), a rollback is a set (site
 * managers; org admins). Values follow the listing's redaction: only a secret with the `user` scope
 * shows them. A read of values and every rollback are audited; a rollback is a write like any other (the runtime caches see it).
 */
export class SecretHistoryService {
  constructor(
    private readonly stores: HistoryStores,
    private readonly vault: Vault,
    private readonly policy: AccessPolicy,
  ) {}

  /** `secret:site:history`. @throws {LockboxError} SITE_NOT_FOUND, ENVIRONMENT_NOT_FOUND, SECRET_NOT_FOUND. */
  async siteHistory(caller: Caller, siteRef: string, name: string, query: HistoryQuery) {
    const { site } = await this.policy.site(caller, siteRef);
    return this.#history(caller, siteOwner(site), name, query);
  }

  /** `secret:org:history` (org members). */
  async orgHistory(caller: Caller, orgRef: string, name: string, query: HistoryQuery) {
    const { org } = await this.policy.org(caller, orgRef);
    return this.#history(caller, orgOwner(org), name, query);
  }

  /** `secret:site:rollback`: version `to` of the slot becomes current, as a new version. */
  async rollbackSite(caller: Caller, siteRef: string, name: string, env: string | undefined, to: number) {
    const { site } = await this.policy.site(caller, siteRef);
    return this.#rollback(caller, siteOwner(site), name, env, to);
  }

  /** `secret:org:rollback` (org admins). */
  async rollbackOrg(caller: Caller, orgRef: string, name: string, env: string | undefined, to: number) {
    const org: OrgRow = await this.policy.administeredOrg(
      caller,
      orgRef,
      (o) => `Only an admin of organization ${quoteIdentifier(o.name)} can change its secrets.`,
    );
    return this.#rollback(caller, orgOwner(org), name, env, to);
  }

  async #history(
    caller: Caller,
    owner: OwnerTarget,
    name: string,
    query: HistoryQuery,
  ): Promise<SecretVersionView[]> {
    if (query.env !== undefined) await requireEnvironment(this.stores, owner, query.env);
    const secret = await this.#secret(this.stores, owner, name);
    const env = query.env ?? null;
    const versions = await this.stores.secretVersions.listVersions(secret.id, env, {
      limit: query.limit ?? DEFAULT_LIMIT,
      beforeVersion: query.before,
    });
    const readable = secret.scopes.includes("user");
    const views: SecretVersionView[] = [];
    for (const v of versions) {
      const view = { version: v.version, at: v.at, actor: v.actorEmail ?? v.actor, action: v.action };
      if (!query.values) {
        views.push(view);
        continue;
      }
      const value =
        readable && v.sealed !== null
          ? await this.vault.open(owner.ref, { secretId: secret.id, env, version: v.version }, v.sealed)
          : null;
      views.push({ ...view, value });
    }
    // A read of values is audited like a listing; who-and-when alone is metadata, as the audit log is.
    if (query.values) {
      await this.stores.transaction((tx) =>
        tx.audit.appendAudit({
          ...ownerAuditBase(caller, owner),
          action: "secret.history",
          target: `${owner.target}/secret:${name}`,
          environment: env,
        }),
      );
    }
    return views;
  }

  async #rollback(
    caller: Caller,
    owner: OwnerTarget,
    name: string,
    env: string | undefined,
    to: number,
  ): Promise<RollbackResult> {
    return this.stores.transaction(async (tx) => {
      await lockOrThrow(tx, owner);
      if (env !== undefined) await requireEnvironment(tx, owner, env);
      const secret = await this.#secret(tx, owner, name);
      const slotEnv = env ?? null;
      const where = slotEnv === null ? "" : ` in environment ${quoteIdentifier(slotEnv)}`;
      const target = await tx.secretVersions.findVersion(secret.id, slotEnv, to);
      if (!target) {
        throw new LockboxError(
          "NOT_FOUND",
          `Secret ${quoteIdentifier(name)}${where} has no version ${to}: list them with its history command.`,
        );
      }
      if (target.sealed === null) {
        throw new LockboxError(
          "CONFLICT",
          `Version ${to} of secret ${quoteIdentifier(name)}${where} is a ${target.action} and holds no value: roll back to a version that set one.`,
        );
      }
      const value = await this.vault.open(
        owner.ref,
        { secretId: secret.id, env: slotEnv, version: to },
        target.sealed,
        tx.dataKeys,
      );
      // Type and scopes stay as they are: the value must still satisfy them.
      validateSecretInput({ name, type: secret.type, scopes: secret.scopes, value });
      const slot = { secretId: secret.id, owner: owner.ref, name, env: slotEnv };
      const version = await writeSlot(tx, this.vault, slotWriter(caller, owner), slot, "rollback", value);
      return { name, env: slotEnv, version, from: to };
    });
  }

  async #secret(
    stores: { readonly secrets: Pick<SecretStore, "findSecret"> },
    owner: OwnerTarget,
    name: string,
  ): Promise<SecretRow> {
    const secret = await stores.secrets.findSecret(owner.ref, name);
    if (!secret) {
      const label = { kind: owner.ref.kind, name: owner.name } as const;
      throw new LockboxError("SECRET_NOT_FOUND", secretNotFoundMessage(name, label));
    }
    return secret;
  }
}
