import { randomBytes } from "node:crypto";
import { buildComposerAuth, COMPOSER_AUTH_ENV_NAME, LockboxError } from "@lockbox/core";
import { LRUCache } from "lru-cache";
import type { AuditBatchWriter } from "../audit/audit-batch-writer.js";
import type { StoreChange } from "../db/ports.js";
import { StoreUnavailableError } from "../db/store-faults.js";
import type { SiteStore } from "../directory/directory-store.js";
import type { OrgSnapshots } from "../secrets/org-snapshots.js";
import type { DeliveredSecret } from "../secrets/secret-views.js";
import type { SecretsService } from "../secrets/secrets-service.js";
import type { TokenKind, TokenRow } from "../tokens/records.js";
import type { TokenService } from "../tokens/token-service.js";
import { DeliveryMetrics } from "./delivery-metrics.js";
import { FifoLimiter } from "./fifo-limiter.js";
import { type MachineIdentity, MachineTokenCache } from "./machine-token-cache.js";
import { RuntimeCache } from "./runtime-cache.js";
import { type RuntimePayload, runtimePayload } from "./runtime-payload.js";

const UNAUTHENTICATED = "The token is invalid, expired or revoked.";

/** Cold resolutions of runtime sets run at once at most; the others queue in order of arrival. */
const DEFAULT_COLD_CONCURRENCY = 8;

/**
 * A committed change as the delivery area passes it on: an org's change says which sites it may
 * concern (those last resolved as the org's, and those whose owner is not known here).
 */
export type DeliveryChange = StoreChange & { readonly concerns?: (siteId: string) => boolean };

/**
 * Secrets for machines: who a runtime or build token is, the cached runtime set of its site
 * environment, the build set, and the audit of first deliveries. Caches stay correct through
 * {@link applyChange} (every committed change, local or from other servers) and are bypassed
 * while changes from other servers could be missed ({@link setCaching}).
 *
 * While the store is unreachable, a runtime token seen before gets the set last delivered for its
 * site environment (no write can commit meanwhile, so it is still the latest committed one as far as
 * this server could know); a token never seen, or a set never delivered, answers 503.
 */
export class Delivery {
  readonly runtimeCache: RuntimeCache;
  /** Cold resolution times and NOTIFY lag, for `/metrics`. */
  readonly metrics = new DeliveryMetrics();
  /** The org snapshots the secrets service resolves against, kept current here (if shared). */
  readonly orgSnapshots: OrgSnapshots | undefined;
  readonly #tokenCache: MachineTokenCache;
  readonly #secrets: Pick<SecretsService, "resolveForDelivery">;
  readonly #tokens: Pick<TokenService, "authenticate">;
  readonly #sites: Pick<SiteStore, "findSiteById">;
  readonly #audit: Pick<AuditBatchWriter, "record">;
  /** `token id NUL version` already audited here, the least recently delivered forgotten first. */
  readonly #delivered: LRUCache<string, true>;
  readonly #versionKey: Buffer;
  /** The clock a cached token's expiry is judged with (epoch ms): the token service's, so they agree. */
  readonly #nowMs: () => number;
  /** Told of every change once the caches dropped what it made stale (the held blocking reads). */
  readonly #changeListeners = new Set<(change: DeliveryChange | undefined) => void>();
  /** Cold resolutions of runtime sets in flight, shared by requests for the same site environment. */
  readonly #inflight = new Map<
    string,
    { readonly epoch: number; readonly promise: Promise<RuntimePayload> }
  >();
  readonly #cold: FifoLimiter;

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
      /** The key of set versions (`Keyring.versionKey()`); a random one when not given. */
      versionKey?: Buffer;
      now?: () => Date;
      /**
       * The org snapshots given to the secrets service: invalidated here on every change, trusted
       * while changes arrive, and telling which org each site belongs to (org changes then concern
       * only its sites).
       */
      orgSnapshots?: OrgSnapshots;
      /** Cold resolutions of runtime sets at once at most (default 8); the others wait in order. */
      coldConcurrency?: number;
    } = {},
  ) {
    this.#versionKey = options.versionKey ?? randomBytes(32);
    const now = options.now;
    this.#nowMs = now ? () => now().getTime() : Date.now;
    this.#secrets = deps.secrets;
    this.#tokens = deps.tokens;
    this.#sites = deps.sites;
    this.#audit = deps.audit;
    this.runtimeCache = new RuntimeCache(
      options.cacheMaxBytes !== undefined ? { maxBytes: options.cacheMaxBytes } : {},
    );
    this.#tokenCache = new MachineTokenCache();
    this.orgSnapshots = options.orgSnapshots;
    this.#cold = new FifoLimiter(options.coldConcurrency ?? DEFAULT_COLD_CONCURRENCY);
    this.#delivered = new LRUCache<string, true>({ max: options.maxRememberedDeliveries ?? 100_000 });
    this.setCaching(options.cachingAtStart ?? true);
  }

  /**
   * Drops what a committed change makes stale. `sentAtMs`: when a notification from the database
   * carries the write's commit time (epoch ms), measured as NOTIFY lag.
   */
  applyChange(change: StoreChange, sentAtMs?: number): void {
    if (sentAtMs !== undefined) {
      this.metrics.notifyLag.observe(Math.max(0, this.#nowMs() - sentAtMs) / 1000);
    }
    let passed: DeliveryChange = change;
    if (change.kind === "site") {
      this.runtimeCache.invalidateSite(change.id);
      this.#tokenCache.dropSite(change.id);
      this.orgSnapshots?.invalidateSite(change.id);
    } else if (change.kind === "org") {
      const snapshots = this.orgSnapshots;
      snapshots?.invalidateOrg(change.id);
      this.runtimeCache.invalidateOrg(change.id);
      if (snapshots) passed = { ...change, concerns: (siteId) => snapshots.concerns(change.id, siteId) };
    } else {
      this.#tokenCache.dropToken(change.id);
    }
    for (const listener of this.#changeListeners) listener(passed);
  }

  /**
   * Calls `listener` after each {@link applyChange}, and with `undefined` (anything may have changed)
   * when changes arrive again after some may have been missed; returns the function that stops it.
   */
  onChange(listener: (change: DeliveryChange | undefined) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /**
   * Whether cached sets and identities may be served without reading the store: off when the change
   * listener is lost (changes of other servers could be missed), on when it listens again. Either
   * way everything cached must be revalidated (read again) before it is served as current, since
   * notifications may have been lost in between; it stays the fallback for an unreachable store.
   */
  setCaching(enabled: boolean): void {
    this.runtimeCache.setTrusted(enabled);
    this.#tokenCache.setTrusted(enabled);
    this.orgSnapshots?.setTrusted(enabled);
    if (enabled) for (const listener of this.#changeListeners) listener(undefined);
  }

  /**
   * Who a runtime or build token is. UNAUTHENTICATED for anything not a live token; FORBIDDEN for
   * a valid token of another kind than `kind` (a user token here, a build token at the runtime).
   */
  async identify(token: string, kind: "runtime" | "build"): Promise<MachineIdentity> {
    const identity = this.#tokenCache.get(token, this.#nowMs()) ?? (await this.#authenticate(token, kind));
    if (identity.kind !== kind) throw wrongKind(identity.kind, kind);
    return identity;
  }

  /** Reads who a token is from the store; while it is unreachable, who the token last was. */
  async #authenticate(token: string, kind: "runtime" | "build"): Promise<MachineIdentity> {
    const epoch = this.#tokenCache.epoch;
    let row: TokenRow;
    try {
      row = await this.#tokens.authenticate(token);
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) {
        // No longer a live token: never vouch for it in a later outage.
        this.#tokenCache.forget(token);
        throw error;
      }
      const last = this.#tokenCache.lastKnown(token, this.#nowMs());
      if (!last) throw error;
      return last;
    }
    if (row.kind !== kind) throw wrongKind(row.kind, kind);
    if (row.siteId === null || row.environmentName === null)
      throw new LockboxError("UNAUTHENTICATED", UNAUTHENTICATED);
    const identity: MachineIdentity = {
      tokenId: row.id,
      kind: row.kind,
      siteId: row.siteId,
      env: row.environmentName,
      expiresAtMs: row.expiresAt === null ? null : Date.parse(row.expiresAt),
    };
    this.#tokenCache.set(token, identity, epoch);
    return identity;
  }

  /** The runtime set (scope `web`) of the token's site environment, from the cache when possible. */
  async runtimeSet(identity: MachineIdentity): Promise<RuntimePayload> {
    const cached = this.runtimeCache.get(identity.siteId, identity.env);
    if (cached) return cached;
    try {
      return await this.#coldRuntimeSet(identity.siteId, identity.env);
    } catch (error) {
      const last =
        error instanceof StoreUnavailableError
          ? this.runtimeCache.lastDelivered(identity.siteId, identity.env)
          : undefined;
      if (last) return last;
      throw error;
    }
  }

  /**
   * Resolves and caches a runtime set. Requests for one site environment share a resolution in
   * flight (while caching is trusted and nothing was invalidated since it was asked for); at most
   * `coldConcurrency` run at once, the others in order of arrival, so that after an org-wide change
   * the held reads that came first are answered first.
   */
  #coldRuntimeSet(siteId: string, env: string): Promise<RuntimePayload> {
    const key = `${siteId}\u0000${env}`;
    const askedAt = this.runtimeCache.epoch;
    const shared = this.#inflight.get(key);
    if (shared && shared.epoch === askedAt && this.runtimeCache.trusted) return shared.promise;
    const promise = this.#cold
      .run(async () => {
        const epoch = this.runtimeCache.epoch;
        const started = performance.now();
        const secrets = await this.#resolve(siteId, env, "web");
        this.metrics.coldResolutions.observe((performance.now() - started) / 1000);
        const payload = runtimePayload(this.#versionKey, siteId, env, secrets);
        this.runtimeCache.set(siteId, env, payload, epoch, this.orgSnapshots?.orgOf(siteId));
        return payload;
      })
      .finally(() => {
        if (this.#inflight.get(key)?.promise === promise) this.#inflight.delete(key);
      });
    this.#inflight.set(key, { epoch: askedAt, promise });
    return promise;
  }

  /** The resolved `ic` set of a build token's site environment (not cached: builds are rare). */
  async buildSet(identity: MachineIdentity): Promise<{ secrets: DeliveredSecret[]; version: string }> {
    const secrets = await this.#resolve(identity.siteId, identity.env, "ic");
    return {
      secrets,
      version: runtimePayload(this.#versionKey, identity.siteId, identity.env, secrets).version,
    };
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
   * `requestId` may be given as a function, called only when the delivery is recorded.
   */
  recordDelivery(identity: MachineIdentity, version: string, requestId: string | (() => string)): void {
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
      requestId: typeof requestId === "string" ? requestId : requestId(),
    });
  }

  /** The clock tokens' expiry is read against (epoch milliseconds): held reads end by it too. */
  nowMs(): number {
    return this.#nowMs();
  }

  /**
   * The runtime read of `token` when memory alone answers it: a cached, current runtime identity and
   * the cached, current set of its site environment (what {@link identify} and {@link runtimeSet}
   * would answer without a store read). Undefined otherwise: the caller takes the full path.
   */
  cachedRuntimeRead(token: string): { identity: MachineIdentity; payload: RuntimePayload } | undefined {
    const identity = this.#tokenCache.get(token, this.#nowMs());
    if (identity?.kind !== "runtime") return undefined;
    // A miss is counted by the route this request falls through to.
    const payload = this.runtimeCache.get(identity.siteId, identity.env, { countMiss: false });
    return payload && { identity, payload };
  }

  async #resolve(siteId: string, env: string, scope: "web" | "ic"): Promise<DeliveredSecret[]> {
    const secrets = await this.#secrets.resolveForDelivery(siteId, env, scope);
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
