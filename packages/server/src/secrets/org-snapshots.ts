import type { Scope } from "@lockbox/core";
import { LRUCache } from "lru-cache";
import type { OwnSiteSecrets, StoredSecret } from "./secret-store.js";
import type { DeliveredSecret } from "./secret-views.js";

/** Environment and scope pairs whose org side a snapshot keeps (multidev environments can be many). */
const MAX_RESOLVED_SIDES = 64;

/**
 * One org's secrets as of one read, with the values opened so far: each value is decrypted once
 * (on first use by any of the org's sites) and then shared by every site that resolves to it.
 */
export class OrgSnapshot {
  readonly #opened = new Map<string, string>();
  /** The org's side of a resolution by `env NUL scope`, shared by all its sites. */
  readonly #resolved = new Map<string, Promise<DeliveredSecret[]>>();

  constructor(
    readonly orgId: string,
    readonly secrets: readonly StoredSecret[],
  ) {}

  /**
   * The org's side of a resolution for one environment and scope, worked out by `compute` the first
   * time only (for at most {@link MAX_RESOLVED_SIDES} pairs; past them, every time).
   */
  resolved(env: string, scope: Scope, compute: () => Promise<DeliveredSecret[]>): Promise<DeliveredSecret[]> {
    const key = `${env}\u0000${scope}`;
    const known = this.#resolved.get(key);
    if (known !== undefined) return known;
    const promise = compute();
    if (this.#resolved.size < MAX_RESOLVED_SIDES) {
      this.#resolved.set(key, promise);
      promise.catch(() => this.#resolved.delete(key));
    }
    return promise;
  }

  /** The plaintext of one of its values, decrypted by `open` the first time only. */
  async value(secret: StoredSecret, env: string | null, open: () => Promise<string>): Promise<string> {
    const key = env === null ? secret.id : `${secret.id}\u0000${env}`;
    const known = this.#opened.get(key);
    if (known !== undefined) return known;
    const plaintext = await open();
    this.#opened.set(key, plaintext);
    return plaintext;
  }
}

/**
 * The org snapshots of the cold delivery path (`SecretsService.resolveForDelivery`), and which org
 * each resolved site belonged to. Holds plaintext in memory like the runtime cache: bounded by a
 * byte budget (least recently used orgs go first), dropped on every change of its org, never
 * logged.
 *
 * Correctness follows the runtime cache's rules: an org's snapshot is dropped by its change
 * notification (`invalidateOrg`), a read that started before an invalidation is not kept (`epoch`),
 * and nothing is used while changes of other servers could be missed (`setTrusted(false)`); the
 * resolution then reads the org's rows from the store every time.
 */
export class OrgSnapshots {
  readonly #snapshots: LRUCache<string, OrgSnapshot>;
  /** Site id → its owner org id (null: a personal site), as of the site's last resolution. */
  readonly #siteOrg = new Map<string, string | null>();
  /**
   * Each resolved site's own rows (sealed values), so that an org-wide change resolves its sites
   * again without reading the store: dropped by the site's change, like {@link #siteOrg}.
   */
  readonly #siteRows: LRUCache<string, OwnSiteSecrets>;
  /** Reads of site rows in flight (the site's environments resolve together after a change). */
  readonly #loadingSites = new Map<
    string,
    { readonly siteEpoch: number; readonly promise: Promise<OwnSiteSecrets | undefined> }
  >();
  /** Reads of org rows in flight, shared by every resolution that needs the org meanwhile. */
  readonly #loading = new Map<string, { readonly epoch: number; readonly promise: Promise<OrgSnapshot> }>();
  #epoch = 0;
  #siteEpoch = 0;
  #trusted = true;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  /**
   * `maxBytes`: the budget for all snapshots together, counting sealed bytes twice (default 128 MiB:
   * 1,000 orgs of 100 secrets with an override on a third of them take about 60 MiB).
   * `maxSiteBytes`: the budget for the sites' own rows, sealed values only (default 64 MiB).
   */
  constructor(options: { maxBytes?: number; maxSiteBytes?: number } = {}) {
    this.#siteRows = new LRUCache<string, OwnSiteSecrets>({
      maxSize: options.maxSiteBytes ?? 64 * 1024 * 1024,
      sizeCalculation: (own) => secretsBytes(own.siteSecrets) + SECRET_OBJECT_BYTES * own.siteSecrets.length,
    });
    this.#snapshots = new LRUCache<string, OrgSnapshot>({
      maxSize: options.maxBytes ?? 128 * 1024 * 1024,
      sizeCalculation: (snapshot) => snapshotBytes(snapshot),
      dispose: (_value, _key, reason) => {
        if (reason === "evict") this.#evictions++;
      },
    });
  }

  /** Whether snapshots may be used: while changes are known to arrive. */
  get trusted(): boolean {
    return this.#trusted;
  }

  /** Changes with every invalidation; pass the value read before the org's rows to {@link set}. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Changes with every site change; pass the value read before resolving to {@link noteSiteOrg}. */
  get siteEpoch(): number {
    return this.#siteEpoch;
  }

  /**
   * Snapshots used, snapshots read from the store, and snapshots dropped for the byte budget; and
   * the bytes of sites' own rows kept.
   */
  get stats(): {
    hits: number;
    misses: number;
    evictions: number;
    size: number;
    bytes: number;
    siteRowsBytes: number;
  } {
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      size: this.#snapshots.size,
      bytes: this.#snapshots.calculatedSize,
      siteRowsBytes: this.#siteRows.calculatedSize,
    };
  }

  /**
   * The site's own rows: those kept from an earlier read while trusted, else the read in flight,
   * else `read()`'s, kept when no site changed meanwhile (undefined: the site does not exist, and
   * that is not kept).
   */
  siteRows(
    siteId: string,
    read: () => Promise<OwnSiteSecrets | undefined>,
  ): Promise<OwnSiteSecrets | undefined> {
    if (this.#trusted) {
      const kept = this.#siteRows.get(siteId);
      if (kept) return Promise.resolve(kept);
      const pending = this.#loadingSites.get(siteId);
      if (pending && pending.siteEpoch === this.#siteEpoch) return pending.promise;
    }
    const siteEpoch = this.#siteEpoch;
    const promise = read()
      .then((own) => {
        if (!own || !this.#trusted || siteEpoch !== this.#siteEpoch) return own;
        const kept = { ...own, siteSecrets: withOwnBuffer(own.siteSecrets) };
        this.#siteRows.set(siteId, kept);
        return kept;
      })
      .finally(() => {
        if (this.#loadingSites.get(siteId)?.promise === promise) this.#loadingSites.delete(siteId);
      });
    this.#loadingSites.set(siteId, { siteEpoch, promise });
    return promise;
  }

  /** The org's snapshot when it may be used; undefined when it must be read. */
  get(orgId: string): OrgSnapshot | undefined {
    if (!this.#trusted) return undefined;
    const snapshot = this.#snapshots.get(orgId);
    if (snapshot) this.#hits++;
    else this.#misses++;
    return snapshot;
  }

  /**
   * The org's snapshot: the cached one, else the one being read, else `read()`'s (kept when nothing
   * invalidated it meanwhile). Many sites of one org resolving at once read its rows once.
   */
  snapshot(orgId: string, read: () => Promise<readonly StoredSecret[]>): Promise<OrgSnapshot> {
    const cached = this.get(orgId);
    if (cached) return Promise.resolve(cached);
    const pending = this.#loading.get(orgId);
    if (pending && pending.epoch === this.#epoch && this.#trusted) return pending.promise;
    const epoch = this.#epoch;
    const promise = read()
      .then((secrets) => this.set(orgId, secrets, epoch))
      .finally(() => {
        if (this.#loading.get(orgId)?.promise === promise) this.#loading.delete(orgId);
      });
    this.#loading.set(orgId, { epoch, promise });
    return promise;
  }

  /**
   * Keeps the org's secrets read since `epoch` as its snapshot (not kept if anything was invalidated
   * meanwhile, or caching is off); returns the snapshot to resolve with either way.
   */
  set(orgId: string, secrets: readonly StoredSecret[], epoch: number): OrgSnapshot {
    const keep = this.#trusted && epoch === this.#epoch;
    const snapshot = new OrgSnapshot(orgId, keep ? withOwnBuffer(secrets) : secrets);
    if (keep && snapshotBytes(snapshot) <= this.#snapshots.maxSize) this.#snapshots.set(orgId, snapshot);
    return snapshot;
  }

  /**
   * Remembers the site's owner org as read by a resolution that started at `siteEpoch`; a site
   * changed meanwhile (it may have moved) is remembered as unknown instead.
   */
  noteSiteOrg(siteId: string, orgId: string | null, siteEpoch: number): void {
    if (siteEpoch === this.#siteEpoch) this.#siteOrg.set(siteId, orgId);
    else this.#siteOrg.delete(siteId);
  }

  /**
   * Whether a change of `orgId` may change what `siteId` resolves to: when the site's last
   * resolution found it owned by that org, or when its owner is not known (never resolved here, or
   * changed since).
   */
  concerns(orgId: string, siteId: string): boolean {
    const known = this.#siteOrg.get(siteId);
    return known === undefined || known === orgId;
  }

  /** The owner org last seen for a site (null: personal), undefined when not known. */
  orgOf(siteId: string): string | null | undefined {
    return this.#siteOrg.get(siteId);
  }

  /** An org's secrets changed (or it went away): its snapshot goes. */
  invalidateOrg(orgId: string): void {
    this.#epoch++;
    this.#snapshots.delete(orgId);
  }

  /** A site changed (it may have moved to another owner): its owner is no longer known. */
  invalidateSite(siteId: string): void {
    this.#siteEpoch++;
    this.#siteOrg.delete(siteId);
    this.#siteRows.delete(siteId);
  }

  /**
   * Whether changes are known to arrive. Either way every snapshot goes and fills in flight are
   * refused: notifications may have been missed in between.
   */
  setTrusted(trusted: boolean): void {
    this.#trusted = trusted;
    this.#epoch++;
    this.#siteEpoch++;
    this.#snapshots.clear();
    this.#siteOrg.clear();
    this.#siteRows.clear();
  }
}

/** What a kept site secret costs beyond its names and sealed bytes (its objects), roughly. */
const SECRET_OBJECT_BYTES = 256;

/**
 * The secrets with their sealed values copied into one buffer of their own, for keeping: a value
 * read from the store may be a slice of a buffer shared with other reads (pg's bytea values come from
 * Node's 8 KiB pool), which a kept slice would keep whole, unaccounted.
 */
function withOwnBuffer(secrets: readonly StoredSecret[]): StoredSecret[] {
  let total = 0;
  for (const secret of secrets) {
    total += secret.base.length;
    for (const sealed of secret.overrides.values()) total += sealed.length;
  }
  const block = Buffer.allocUnsafeSlow(total);
  let at = 0;
  const copy = (sealed: Buffer): Buffer => {
    sealed.copy(block, at);
    at += sealed.length;
    return block.subarray(at - sealed.length, at);
  };
  return secrets.map((secret) => ({
    ...secret,
    base: copy(secret.base),
    overrides: new Map([...secret.overrides].map(([env, sealed]) => [env, copy(sealed)])),
  }));
}

/** Sealed bytes twice (the sealed value, and its plaintext once opened) plus names; at least 1. */
function snapshotBytes(snapshot: OrgSnapshot): number {
  return secretsBytes(snapshot.secrets, 2);
}

/** Names and ids, and sealed bytes `times` times; at least 1. */
function secretsBytes(secrets: readonly StoredSecret[], times = 1): number {
  let bytes = 1;
  for (const secret of secrets) {
    bytes += secret.name.length + secret.id.length + times * secret.base.length;
    for (const [env, sealed] of secret.overrides) bytes += env.length + times * sealed.length;
  }
  return bytes;
}
