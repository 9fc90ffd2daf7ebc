import { buildComposerAuth, COMPOSER_AUTH_ENV_NAME, LockboxError } from "@lockbox/core";
import { LRUCache } from "lru-cache";
import type { AuditBatchWriter } from "../audit/audit-batch-writer.js";
import type { StoreChange } from "../db/ports.js";
import type { SiteStore } from "../directory/directory-store.js";
import type { DeliveredSecret } from "../secrets/secret-views.js";
import type { SecretsService } from "../secrets/secrets-service.js";
import type { TokenKind } from "../tokens/records.js";
import type { TokenService } from "../tokens/token-service.js";
import { type MachineIdentity, MachineTokenCache } from "./machine-token-cache.js";
import { RuntimeCache } from "./runtime-cache.js";
import { type RuntimePayload, runtimePayload } from "./runtime-payload.js";

const UNAUTHENTICATED = "The token is invalid, expired or revoked.";

/**
 * Secrets for machines: who a runtime or build token is, the cached runtime set of its site
 * environment, the build set, and the audit of first deliveries. Caches stay correct through
 * {@link applyChange} (every committed change, local or from other servers) and are bypassed
 * while changes from other servers could be missed ({@link setCaching}).
 */
export class Delivery {
  readonly runtimeCache: RuntimeCache;
  readonly #tokenCache: MachineTokenCache;
  readonly #secrets: Pick<SecretsService, "resolveForDelivery">;
  readonly #tokens: Pick<TokenService, "authenticate">;
  readonly #sites: Pick<SiteStore, "findSiteById">;
  readonly #audit: Pick<AuditBatchWriter, "record">;
  /** `token id NUL version` already audited here, the least recently delivered forgotten first. */
  readonly #delivered: LRUCache<string, true>;
  /** The clock a cached token's expiry is judged with: the token service's, so they agree. */
  readonly #now: () => Date;
  #caching: boolean;

  constructor(
    deps: {
      readonly secrets: Pick<SecretsService, "resolveForDelivery">;
      readonly tokens: Pick<TokenService, "authenticate">;
      readonly sites: Pick<SiteStore, "findSiteById">;
      readonly audit: Pick<AuditBatchWriter, "record">;
    },
    options: {
      cacheMaxBytes?: number;
      cachingAtStart?: boolean;
      maxRememberedDeliveries?: number;
      now?: () => Date;
    } = {},
  ) {
    this.#now = options.now ?? (() => new Date());
    this.#secrets = deps.secrets;
    this.#tokens = deps.tokens;
    this.#sites = deps.sites;
    this.#audit = deps.audit;
    this.runtimeCache = new RuntimeCache(
      options.cacheMaxBytes !== undefined ? { maxBytes: options.cacheMaxBytes } : {},
    );
    this.#tokenCache = new MachineTokenCache();
    this.#delivered = new LRUCache<string, true>({ max: options.maxRememberedDeliveries ?? 100_000 });
    this.#caching = options.cachingAtStart ?? true;
    this.runtimeCache.setEnabled(this.#caching);
  }

  /** Drops what a committed change makes stale. */
  applyChange(change: StoreChange): void {
    if (change.kind === "site") {
      this.runtimeCache.invalidateSite(change.id);
      this.#tokenCache.dropSite(change.id);
    } else if (change.kind === "org") {
      this.runtimeCache.clear();
    } else {
      this.#tokenCache.dropToken(change.id);
    }
  }

  /** Turns caching off (a lost change listener) or back on; both drop everything cached. */
  setCaching(enabled: boolean): void {
    this.#caching = enabled;
    this.runtimeCache.setEnabled(enabled);
    this.#tokenCache.clear();
  }

  /**
   * Who a runtime or build token is. UNAUTHENTICATED for anything not a live token; FORBIDDEN for
   * a valid token of another kind than `kind` (a user token here, a build token at the runtime).
   */
  async identify(token: string, kind: "runtime" | "build"): Promise<MachineIdentity> {
    let identity = this.#caching ? this.#tokenCache.get(token, this.#now().getTime()) : undefined;
    if (!identity) {
      const epoch = this.#tokenCache.epoch;
      const row = await this.#tokens.authenticate(token);
      if (row.kind !== kind) throw wrongKind(row.kind, kind);
      if (row.siteId === null || row.environmentName === null)
        throw new LockboxError("UNAUTHENTICATED", UNAUTHENTICATED);
      identity = {
        tokenId: row.id,
        kind: row.kind,
        siteId: row.siteId,
        env: row.environmentName,
        expiresAtMs: row.expiresAt === null ? null : Date.parse(row.expiresAt),
      };
      if (this.#caching) this.#tokenCache.set(token, identity, epoch);
    }
    if (identity.kind !== kind) throw wrongKind(identity.kind, kind);
    return identity;
  }

  /** The runtime set (scope `web`) of the token's site environment, from the cache when possible. */
  async runtimeSet(identity: MachineIdentity): Promise<RuntimePayload> {
    const cached = this.runtimeCache.get(identity.siteId, identity.env);
    if (cached) return cached;
    const epoch = this.runtimeCache.epoch;
    const secrets = await this.#resolve(identity, "web");
    const payload = runtimePayload(identity.siteId, identity.env, secrets);
    this.runtimeCache.set(identity.siteId, identity.env, payload, epoch);
    return payload;
  }

  /** The resolved `ic` set of a build token's site environment (not cached: builds are rare). */
  async buildSet(identity: MachineIdentity): Promise<{ secrets: DeliveredSecret[]; version: string }> {
    const secrets = await this.#resolve(identity, "ic");
    return { secrets, version: runtimePayload(identity.siteId, identity.env, secrets).version };
  }

  /**
   * What `GET /v1/build/secrets` answers (SPEC §4): the `env` secrets as environment variables and
   * the `composer` secrets mapped into COMPOSER_AUTH (merged over an `env` secret of that name), for
   * the build token's environment. Audited as a delivery of its version.
   */
  async buildAnswer(identity: MachineIdentity, requestId: string): Promise<BuildAnswer> {
    const { secrets, version } = await this.buildSet(identity);
    const site = await this.#sites.findSiteById(identity.siteId);
    const env: Record<string, string> = Object.create(null);
    let base: unknown;
    for (const secret of secrets) {
      if (secret.type !== "env") continue;
      if (secret.name === COMPOSER_AUTH_ENV_NAME) base = JSON.parse(secret.value);
      else env[secret.name] = secret.value;
    }
    const composerAuth = buildComposerAuth(
      base,
      secrets.filter((s) => s.type === "composer"),
    );
    this.recordDelivery(identity, version, requestId);
    return {
      site: site?.name ?? identity.siteId,
      environment: identity.env,
      version,
      env: { ...env },
      composerAuth,
    };
  }

  /**
   * Audits the first delivery of `version` to a token (SPEC §5), batched off the request's path.
   * Each server remembers what it delivered, so a set served by two servers is recorded by each.
   */
  recordDelivery(identity: MachineIdentity, version: string, requestId: string): void {
    const key = `${identity.tokenId}\u0000${version}`;
    // get(), not has(): a set still being delivered stays remembered, so it is not audited again.
    if (this.#delivered.get(key)) return;
    this.#delivered.set(key, true);
    this.#audit.record({
      actor: `token:${identity.tokenId}`,
      action: identity.kind === "build" ? "build.deliver" : "runtime.deliver",
      target: `site:${identity.siteId}/version:${version}`,
      environment: identity.env,
      siteId: identity.siteId,
      outcome: "success",
      requestId,
    });
  }

  async #resolve(identity: MachineIdentity, scope: "web" | "ic"): Promise<DeliveredSecret[]> {
    const secrets = await this.#secrets.resolveForDelivery(identity.siteId, identity.env, scope);
    // The site went away with its tokens after the token was cached.
    if (!secrets) throw new LockboxError("UNAUTHENTICATED", UNAUTHENTICATED);
    return secrets;
  }
}

/** The body of `GET /v1/build/secrets`. */
export interface BuildAnswer {
  readonly site: string;
  readonly environment: string;
  readonly version: string;
  readonly env: Record<string, string>;
  readonly composerAuth: ReturnType<typeof buildComposerAuth>;
}

function wrongKind(actual: TokenKind, expected: "runtime" | "build"): LockboxError {
  return new LockboxError(
    "FORBIDDEN",
    `A ${actual} token cannot read ${expected === "runtime" ? "GET /site/secrets" : "GET /v1/build/secrets"}: use a ${expected} token (${expected === "runtime" ? "lbr_" : "lbb_"}…).`,
  );
}
