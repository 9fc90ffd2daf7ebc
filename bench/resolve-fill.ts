/**
 * The stores `resolve.ts` times: the shape every org and site gets, what a site resolves to, and the
 * bulk fill (optionally with a history of versions per value slot).
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { Insertable } from "kysely";
import type { Database, Lockbox } from "./lockbox-sources.js";

type DataKey = ReturnType<Lockbox["keyring"]["generateDataKey"]>["key"];

type Sources = typeof import("./lockbox-sources.js");
type Owner = { readonly kind: "org" | "site"; readonly id: string };

export const SITES_PER_ORG = 100; // the small store is one such org
export const ENV = "live";
export const SCOPE = "web";
export const VALUE_BYTES = 100;
const INSERT_CHUNK_ROWS = 1000;
const ORGS_PER_BATCH = 10;

/** One secret of the shape every org (or site) gets: stored scopes, and the environments it has values for. */
interface SecretShape {
  readonly name: string;
  readonly type: "runtime" | "env";
  readonly scopes: string;
  /** `null` is the base value; the others are overrides. */
  readonly envs: readonly (string | null)[];
}

const SCOPE_CYCLE = ["web", "web,user", "ic,web", "ic", "user", "ic,web,user"] as const;

export const ORG_SECRETS: readonly SecretShape[] = Array.from({ length: 100 }, (_, j) => ({
  name: `ORG_SECRET_${String(j).padStart(3, "0")}`,
  type: j % 3 === 0 ? "env" : "runtime",
  scopes: SCOPE_CYCLE[j % SCOPE_CYCLE.length] ?? "web",
  envs: [null, ...(j % 4 === 0 ? ["live"] : []), ...(j % 10 === 5 ? ["dev"] : [])],
}));

export const SITE_SECRETS: readonly SecretShape[] = [
  // Hides the org's ORG_SECRET_000 (web), with its own live override.
  { name: "ORG_SECRET_000", type: "runtime", scopes: "web,user", envs: [null, "live"] },
  // No web scope: must not hide the org's ORG_SECRET_001 (web,user) from the runtime.
  { name: "ORG_SECRET_001", type: "runtime", scopes: "user", envs: [null, "live"] },
  // The org's ORG_SECRET_003 is ic-only: the site's adds the name for the runtime.
  { name: "ORG_SECRET_003", type: "env", scopes: "ic,web", envs: [null] },
  { name: "SITE_SECRET_3", type: "env", scopes: "ic", envs: [null, "live"] },
  { name: "SITE_SECRET_4", type: "runtime", scopes: "web", envs: [null, "dev"] },
  { name: "SITE_SECRET_5", type: "runtime", scopes: "ic,web,user", envs: [null, "live"] },
  { name: "SITE_SECRET_6", type: "runtime", scopes: "web,user", envs: [null] },
  { name: "SITE_SECRET_7", type: "env", scopes: "user", envs: [null, "live"] },
  { name: "SITE_SECRET_8", type: "runtime", scopes: "ic,web", envs: [null, "test", "live"] },
];

const FILLER = randomBytes(VALUE_BYTES).toString("base64url");

/** The plaintext of one value: the same for every site (or org), sealed under each one's own key. */
function plaintext(kind: Owner["kind"], name: string, env: string | null): string {
  return `${kind}/${name}/${env ?? "base"}/${FILLER}`.slice(0, VALUE_BYTES);
}

/** What every site resolves to (SPEC §2.4, written out for this shape): name → value. */
export function expectedResolution(): ReadonlyMap<string, string> {
  const expected = new Map<string, string>();
  for (const [kind, shapes] of [
    ["org", ORG_SECRETS],
    ["site", SITE_SECRETS],
  ] as const) {
    for (const s of shapes) {
      if (!s.scopes.split(",").includes(SCOPE)) continue;
      expected.set(s.name, plaintext(kind, s.name, s.envs.includes(ENV) ? ENV : null));
    }
  }
  return expected;
}

/** One store of a comparison: its label, its orgs of {@link SITES_PER_ORG} sites, and versions per slot. */
export interface StoreSpec {
  readonly label: string;
  readonly orgs: number;
  /** 0: no history (the fill writes no versions). */
  readonly versionsPerSlot: number;
}

export interface Filled {
  readonly label: string;
  readonly lockbox: Lockbox;
  readonly siteIds: readonly string[];
  /** In fill order: the sites of `orgIds[i]` are `siteIds[100 i … 100 i + 99]`. */
  readonly orgIds: readonly string[];
  readonly secrets: number;
  readonly values: number;
  readonly versions: number;
  readonly seconds: number;
}

/**
 * Fills `lockbox`'s store with `spec.orgs` orgs of {@link SITES_PER_ORG} sites each by bulk inserts,
 * a transaction per {@link ORGS_PER_BATCH} orgs: data keys made by the keyring (wrapped under the
 * store's master key), values sealed in memory with them, then rows written in chunks. Only what
 * resolution reads is written (no environments or memberships), and `spec.versionsPerSlot` versions
 * 1…N of every value slot (base values and overrides), each sealed as a write seals it, under the
 * version's own associated data, the last holding the current value.
 */
export async function fill(sources: Sources, lockbox: Lockbox, spec: StoreSpec): Promise<Filled> {
  const { label, orgs, versionsPerSlot } = spec;
  const started = performance.now();
  const { db, keyring } = lockbox;
  const siteIds: string[] = [];
  const orgIds: string[] = [];
  let secretCount = 0;
  let valueCount = 0;
  let versionCount = 0;
  const masterKeyId = keyring.currentKeyId;
  for (let first = 0; first < orgs; first += ORGS_PER_BATCH) {
    const at = new Date().toISOString();
    const orgRows: Insertable<Database["orgs"]>[] = [];
    const siteRows: Insertable<Database["sites"]>[] = [];
    const secrets: Insertable<Database["secrets"]>[] = [];
    const values: Insertable<Database["secret_values"]>[] = [];
    const versions: Insertable<Database["secret_versions"]>[] = [];
    for (let o = first; o < Math.min(orgs, first + ORGS_PER_BATCH); o++) {
      const orgId = randomUUID();
      const orgKey = keyring.generateDataKey({ kind: "org", id: orgId }, masterKeyId);
      orgIds.push(orgId);
      orgRows.push({
        id: orgId,
        name: `org-${o}`,
        data_key: orgKey.wrapped,
        data_key_master_id: masterKeyId,
        created_at: at,
      });
      const owners: Array<[Owner, DataKey, readonly SecretShape[]]> = [
        [{ kind: "org", id: orgId }, orgKey.key, ORG_SECRETS],
      ];
      for (let s = 0; s < SITES_PER_ORG; s++) {
        const id = randomUUID();
        const siteKey = keyring.generateDataKey({ kind: "site", id }, masterKeyId);
        siteRows.push({
          id,
          name: `site-${o}-${s}`,
          owner_org_id: orgId,
          owner_user_id: null,
          data_key: siteKey.wrapped,
          data_key_master_id: masterKeyId,
          created_at: at,
        });
        owners.push([{ kind: "site", id }, siteKey.key, SITE_SECRETS]);
        siteIds.push(id);
      }
      for (const [owner, key, shapes] of owners) {
        const ownerColumns = {
          org_id: owner.kind === "org" ? owner.id : null,
          site_id: owner.kind === "site" ? owner.id : null,
        };
        for (const shape of shapes) {
          const secretId = randomUUID();
          secrets.push({
            id: secretId,
            ...ownerColumns,
            name: shape.name,
            type: shape.type,
            scopes: shape.scopes,
            created_at: at,
            updated_at: at,
          });
          for (const env of shape.envs) {
            const current = plaintext(owner.kind, shape.name, env);
            const ciphertext = sources.sealValue(key, current, { secretId, env });
            values.push({
              owner_id: owner.id,
              secret_id: secretId,
              env: env ?? "",
              ciphertext,
              updated_at: at,
            });
            for (let version = 1; version <= versionsPerSlot; version++) {
              const value = version === versionsPerSlot ? current : `v${version}/${current}`;
              versions.push({
                secret_id: secretId,
                env: env ?? "",
                version,
                ...ownerColumns,
                name: shape.name,
                action: "set",
                ciphertext: sources.sealValue(key, value.slice(0, VALUE_BYTES), { secretId, env, version }),
                actor: "user:bench",
                at,
              });
            }
          }
        }
      }
    }
    await db.kysely.transaction().execute(async (trx) => {
      for (const [table, rows] of [
        ["orgs", orgRows],
        ["sites", siteRows],
        ["secrets", secrets],
        ["secret_values", values],
        ["secret_versions", versions],
      ] as const) {
        for (let i = 0; i < rows.length; i += INSERT_CHUNK_ROWS) {
          await trx
            .insertInto(table)
            .values(rows.slice(i, i + INSERT_CHUNK_ROWS) as never)
            .execute();
        }
      }
    });
    secretCount += secrets.length;
    valueCount += values.length;
    versionCount += versions.length;
  }
  // Steady state: planner statistics, as autovacuum or `PRAGMA optimize` would give them (see resolve.ts).
  await sources.sql`ANALYZE`.execute(db.kysely);
  return {
    label,
    lockbox,
    siteIds,
    orgIds,
    secrets: secretCount,
    values: valueCount,
    versions: versionCount,
    seconds: (performance.now() - started) / 1000,
  };
}
