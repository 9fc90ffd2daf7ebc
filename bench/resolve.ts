/**
 * Resolution must not grow with the number of other sites.
 *
 * Fills two stores whose sites all have the same shape (9 site secrets, some overriding `live`,
 * under an owner org with 100 org secrets; scopes mix `web`, `ic` and `user`, so filtering matters;
 * values of 100 bytes sealed by the real vault, bound to their rows):
 *   small: 1 org × 100 sites                    (1,000 secrets)
 *   large: 100 orgs × 100 sites = 10,000 sites  (100,000 secrets)
 * then times `SecretsService.resolveForDelivery(site, "live", "web")` (Lockbox as `createLockbox()`
 * wires it, one instance per store) on random sites of each, in interleaved rounds, and prints the
 * median, p90 and p99 and the ratio large/small of the medians.
 * Resolution reads only the site's and its owner org's rows through indexes, so the ratio should
 * stay near 1; a scan makes it grow toward 100. Every call's result is checked against the
 * expected set, so an empty or wrong resolution cannot pass for a fast one. Calls run one at a time:
 * resolutions/s is per connection, not the server's throughput.
 *
 * A second run (same process, same shape) times resolution with history against none:
 *   none:    1 org × 100 sites, no versions
 *   history: 1 org × 100 sites, 100 versions of every value slot (base values and overrides; each
 *            sealed under its own associated data as a write seals it, the last one the current value)
 * and prints the ratio history/none of the medians: resolution reads current values only, so it
 * should stay near 1 however long the history (issue 9: "resolution cost unchanged").
 *
 * All stores are ANALYZEd after the fill, as autovacuum would do: PostgreSQL without statistics
 * joins `secret_values` by a sequential scan (about 60 ms per call on the large store, ratio ~25).
 *
 * Run (from the repository root; runs on the TypeScript sources, no build needed):
 *   npx tsx bench/resolve.ts                     SQLite in a temporary folder
 *   npx tsx bench/resolve.ts --postgres[=URL]    also PostgreSQL (default postgres://postgres@127.0.0.1:5432/postgres;
 *                                                creates lockbox_bench_<random>_{small,large} and drops them)
 * Options: --sites=N (large store, a multiple of 100; default 10000), --rounds=N (default 5),
 *          --calls=N (resolutions per store per round; default 2000), --versions=N (versions per
 *          slot of the history store; default 100), --only=sites|versions (one of the two runs).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Insertable } from "kysely";
import pg from "pg";
import { tsImport } from "tsx/esm/api";
import type { Database, Lockbox } from "./lockbox-sources.js";

type Sources = typeof import("./lockbox-sources.js");
type Owner = { readonly kind: "org" | "site"; readonly id: string };

const SITES_PER_ORG = 100; // the small store is one such org
const ENV = "live";
const SCOPE = "web";
const VALUE_BYTES = 100;
const INSERT_CHUNK_ROWS = 500;
const DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres";

/** One secret of the shape every org (or site) gets: stored scopes, and the environments it has values for. */
interface SecretShape {
  readonly name: string;
  readonly type: "runtime" | "env";
  readonly scopes: string;
  /** `null` is the base value; the others are overrides. */
  readonly envs: readonly (string | null)[];
}

const SCOPE_CYCLE = ["web", "web,user", "ic,web", "ic", "user", "ic,web,user"] as const;

const ORG_SECRETS: readonly SecretShape[] = Array.from({ length: 100 }, (_, j) => ({
  name: `ORG_SECRET_${String(j).padStart(3, "0")}`,
  type: j % 3 === 0 ? "env" : "runtime",
  scopes: SCOPE_CYCLE[j % SCOPE_CYCLE.length] ?? "web",
  envs: [null, ...(j % 4 === 0 ? ["live"] : []), ...(j % 10 === 5 ? ["dev"] : [])],
}));

const SITE_SECRETS: readonly SecretShape[] = [
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
function expectedResolution(): ReadonlyMap<string, string> {
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

interface Filled {
  readonly label: string;
  readonly lockbox: Lockbox;
  readonly siteIds: readonly string[];
  readonly secrets: number;
  readonly values: number;
  readonly versions: number;
  readonly seconds: number;
}

/** One store of a comparison: its label, its orgs of {@link SITES_PER_ORG} sites, and versions per slot. */
interface StoreSpec {
  readonly label: string;
  readonly orgs: number;
  readonly versionsPerSlot: number;
}

/**
 * Fills `lockbox`'s store with `spec.orgs` orgs of {@link SITES_PER_ORG} sites each, one org per pair
 * of transactions, sealing with its own vault (which thereby holds the data keys, as a warm server
 * would), and `spec.versionsPerSlot` versions of every value slot, the last holding the current value.
 */
async function fill(sources: Sources, lockbox: Lockbox, spec: StoreSpec): Promise<Filled> {
  const { label, orgs } = spec;
  const started = performance.now();
  const { db, stores, vault } = lockbox;
  const siteIds: string[] = [];
  let secretCount = 0;
  let valueCount = 0;
  let versionCount = 0;
  for (let o = 0; o < orgs; o++) {
    const orgId = randomUUID();
    const sites = Array.from({ length: SITES_PER_ORG }, () => randomUUID());
    await stores.transaction(async (tx) => {
      const dataKey = await vault.newDataKey({ kind: "org", id: orgId }, tx.dataKeys);
      await tx.orgs.insertOrg({ id: orgId, name: `org-${o}`, dataKey });
      for (const [s, id] of sites.entries()) {
        const siteKey = await vault.newDataKey({ kind: "site", id }, tx.dataKeys);
        await tx.sites.insertSite({ id, name: `site-${o}-${s}`, owner: { orgId }, dataKey: siteKey });
      }
    });

    // Sealed before the bulk transaction, which then only writes.
    const at = new Date().toISOString();
    const secrets: Insertable<Database["secrets"]>[] = [];
    const values: Insertable<Database["secret_values"]>[] = [];
    const versions: Insertable<Database["secret_versions"]>[] = [];
    const owners: Array<[Owner, readonly SecretShape[]]> = [
      [{ kind: "org", id: orgId }, ORG_SECRETS],
      ...sites.map((id): [Owner, readonly SecretShape[]] => [{ kind: "site", id }, SITE_SECRETS]),
    ];
    for (const [owner, shapes] of owners) {
      for (const shape of shapes) {
        const secretId = randomUUID();
        secrets.push({
          id: secretId,
          org_id: owner.kind === "org" ? owner.id : null,
          site_id: owner.kind === "site" ? owner.id : null,
          name: shape.name,
          type: shape.type,
          scopes: shape.scopes,
          created_at: at,
          updated_at: at,
        });
        for (const env of shape.envs) {
          const current = plaintext(owner.kind, shape.name, env);
          const ciphertext = await vault.seal(owner, { secretId, env }, current);
          values.push({ secret_id: secretId, env: env ?? "", ciphertext, updated_at: at });
          for (let version = 1; version <= spec.versionsPerSlot; version++) {
            const value = version === spec.versionsPerSlot ? current : `v${version}/${current}`;
            versions.push({
              secret_id: secretId,
              env: env ?? "",
              version,
              org_id: owner.kind === "org" ? owner.id : null,
              site_id: owner.kind === "site" ? owner.id : null,
              name: shape.name,
              action: "set",
              ciphertext: await vault.seal(owner, { secretId, env, version }, value.slice(0, VALUE_BYTES)),
              actor: "user:bench",
              at,
            });
          }
        }
      }
    }
    await db.kysely.transaction().execute(async (trx) => {
      for (let i = 0; i < secrets.length; i += INSERT_CHUNK_ROWS) {
        await trx
          .insertInto("secrets")
          .values(secrets.slice(i, i + INSERT_CHUNK_ROWS))
          .execute();
      }
      for (let i = 0; i < values.length; i += INSERT_CHUNK_ROWS) {
        await trx
          .insertInto("secret_values")
          .values(values.slice(i, i + INSERT_CHUNK_ROWS))
          .execute();
      }
      for (let i = 0; i < versions.length; i += INSERT_CHUNK_ROWS) {
        await trx
          .insertInto("secret_versions")
          .values(versions.slice(i, i + INSERT_CHUNK_ROWS))
          .execute();
      }
    });
    siteIds.push(...sites);
    secretCount += secrets.length;
    valueCount += values.length;
    versionCount += versions.length;
  }
  // Steady state: planner statistics, as autovacuum or `PRAGMA optimize` would give them (see the header).
  await sources.sql`ANALYZE`.execute(db.kysely);
  return {
    label,
    lockbox,
    siteIds,
    secrets: secretCount,
    values: valueCount,
    versions: versionCount,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Resolves `calls` random sites, checking every result; returns each call's time in µs. */
async function timeResolutions(target: Filled, calls: number, expected: ReadonlyMap<string, string>) {
  const micros: number[] = [];
  for (let i = 0; i < calls; i++) {
    const siteId = target.siteIds[Math.floor(Math.random() * target.siteIds.length)] ?? "";
    const start = process.hrtime.bigint();
    const resolved = await target.lockbox.secrets.resolveForDelivery(siteId, ENV, SCOPE);
    micros.push(Number(process.hrtime.bigint() - start) / 1000);
    if (resolved?.length !== expected.size) {
      throw new Error(
        `${target.label}: site '${siteId}' resolved ${resolved?.length ?? "no"} secrets, expected ${expected.size}.`,
      );
    }
    if (i === 0) checkValues(target.label, siteId, resolved, expected);
  }
  return micros;
}

function checkValues(
  label: string,
  siteId: string,
  resolved: ReadonlyArray<{ name: string; value: string }>,
  expected: ReadonlyMap<string, string>,
): void {
  for (const { name, value } of resolved) {
    if (expected.get(name) !== value) {
      throw new Error(`${label}: site '${siteId}' resolved a wrong value for '${name}'.`);
    }
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

/** Lockbox wired by its composition root over the database at `location`, with a new master key. */
function open(sources: Sources, location: string): Promise<Lockbox> {
  return sources.createLockbox({
    db: location,
    env: { LOCKBOX_MASTER_KEY: randomBytes(32).toString("base64") },
  });
}

/** What a comparison of two stores measures, and how to read its ratio (second store / first). */
interface Comparison {
  readonly title: string;
  readonly stores: readonly [StoreSpec, StoreSpec];
  readonly verdict: (ratio: number) => string;
}

/** Resolution against the number of other sites: small (1 org) vs large (`orgs` orgs). */
const sitesComparison = (orgs: number): Comparison => ({
  title: "other sites",
  stores: [
    { label: "small", orgs: 1, versionsPerSlot: 0 },
    { label: "large", orgs, versionsPerSlot: 0 },
  ],
  verdict: (ratio) =>
    ratio <= 1.5
      ? "near 1: resolution does not grow with the number of other sites"
      : ratio <= 3
        ? "above 1, far below the growth in sites: caches and index depth, not a scan; run again"
        : "GROWS with the number of other sites: look for a scan or a missing index",
});

/** Resolution against history: no versions vs `versions` versions of every value slot. */
const versionsComparison = (versions: number): Comparison => ({
  title: `${versions} versions per slot`,
  stores: [
    { label: "none", orgs: 1, versionsPerSlot: 0 },
    { label: "history", orgs: 1, versionsPerSlot: versions },
  ],
  verdict: (ratio) =>
    ratio <= 1.5
      ? "near 1: resolution cost unchanged by history (it reads current values only)"
      : "GROWS with the number of versions: resolution reads history; look for a join on secret_versions",
});

async function runComparison(
  sources: Sources,
  backend: string,
  comparison: Comparison,
  locate: (label: string) => Promise<string>,
  options: { rounds: number; calls: number },
): Promise<void> {
  console.log(`\n${backend}: ${comparison.title}`);
  const opened: Lockbox[] = [];
  try {
    const filled: Filled[] = [];
    for (const spec of comparison.stores) {
      const lockbox = await open(sources, await locate(spec.label));
      opened.push(lockbox);
      const f = await fill(sources, lockbox, spec);
      filled.push(f);
      console.log(
        `  filled ${spec.label}: ${fmt(spec.orgs)} ${spec.orgs === 1 ? "org" : "orgs"}, ${fmt(f.siteIds.length)} sites, ${fmt(f.secrets)} secrets, ` +
          `${fmt(f.values)} sealed values, ${fmt(f.versions)} sealed versions in ${f.seconds.toFixed(1)} s`,
      );
    }

    const expected = expectedResolution();
    for (const f of filled) await timeResolutions(f, options.calls, expected); // warm-up
    const micros = new Map<string, number[]>(filled.map((f) => [f.label, []]));
    for (let round = 0; round < options.rounds; round++) {
      for (const f of filled)
        micros.get(f.label)?.push(...(await timeResolutions(f, options.calls, expected)));
    }

    console.log(
      `  ${fmt(options.rounds)} rounds × ${fmt(options.calls)} resolutions per store, interleaved, after one warm-up round` +
        ` (env '${ENV}', scope '${SCOPE}')`,
    );
    console.log(
      `  ${"store".padEnd(7)} ${"sites".padStart(7)} ${"median µs".padStart(10)} ${"p90 µs".padStart(8)} ` +
        `${"p99 µs".padStart(8)} ${"resolutions/s".padStart(14)} ${"secrets/call".padStart(13)}`,
    );
    const medians: number[] = [];
    for (const f of filled) {
      const sorted = (micros.get(f.label) ?? []).sort((a, b) => a - b);
      const totalSeconds = sorted.reduce((sum, us) => sum + us, 0) / 1e6;
      const median = percentile(sorted, 0.5);
      medians.push(median);
      console.log(
        `  ${f.label.padEnd(7)} ${fmt(f.siteIds.length).padStart(7)} ${median.toFixed(0).padStart(10)} ` +
          `${percentile(sorted, 0.9).toFixed(0).padStart(8)} ${percentile(sorted, 0.99).toFixed(0).padStart(8)} ` +
          `${fmt(Math.round(sorted.length / totalSeconds)).padStart(14)} ${fmt(expected.size).padStart(13)}`,
      );
    }
    const ratio = (medians[1] ?? Number.NaN) / (medians[0] ?? Number.NaN);
    const [first, second] = comparison.stores;
    console.log(
      `  ratio ${second.label}/${first.label} of medians: ${ratio.toFixed(2)} (${comparison.verdict(ratio)})`,
    );
  } finally {
    for (const lockbox of opened) await lockbox.close();
  }
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

function positiveInteger(text: string, option: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${option} must be a positive integer, not '${text}'.`);
  return n;
}

async function withAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  // `--postgres` alone means the default server; parseArgs needs a value for a string option.
  const args = process.argv
    .slice(2)
    .map((a) => (a === "--postgres" ? `--postgres=${DEFAULT_POSTGRES_URL}` : a));
  const { values } = parseArgs({
    args,
    options: {
      postgres: { type: "string" },
      sites: { type: "string", default: "10000" },
      rounds: { type: "string", default: "5" },
      calls: { type: "string", default: "2000" },
      versions: { type: "string", default: "100" },
      only: { type: "string" },
    },
  });
  if (values.only !== undefined && values.only !== "sites" && values.only !== "versions") {
    throw new Error(`--only must be 'sites' or 'versions', not '${values.only}'.`);
  }
  const sites = positiveInteger(values.sites, "sites");
  if (sites % SITES_PER_ORG !== 0) throw new Error(`--sites must be a multiple of ${SITES_PER_ORG}.`);
  const options = {
    rounds: positiveInteger(values.rounds, "rounds"),
    calls: positiveInteger(values.calls, "calls"),
  };
  const comparisons = [
    ...(values.only !== "versions" ? [sitesComparison(sites / SITES_PER_ORG)] : []),
    ...(values.only !== "sites" ? [versionsComparison(positiveInteger(values.versions, "versions"))] : []),
  ];

  // The server sources import `@lockbox/core`, which the package exports as its built dist/;
  // tsconfig.test.json maps it to packages/core/src, as the tests do.
  const sources = (await tsImport("./lockbox-sources.ts", {
    parentURL: import.meta.url,
    tsconfig: fileURLToPath(new URL("../tsconfig.test.json", import.meta.url)),
  })) as Sources;

  console.log(
    `resolveForDelivery(site, '${ENV}', '${SCOPE}'): every site has ${SITE_SECRETS.length} secrets, ` +
      `every org ${ORG_SECRETS.length}; ${VALUE_BYTES}-byte values`,
  );

  const dir = mkdtempSync(join(tmpdir(), "lockbox-bench-"));
  try {
    for (const comparison of comparisons) {
      await runComparison(sources, "SQLite", comparison, async (label) => join(dir, `${label}.db`), options);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  if (values.postgres !== undefined) {
    const adminUrl = values.postgres;
    const prefix = `lockbox_bench_${randomBytes(4).toString("hex")}`;
    const created: string[] = [];
    try {
      for (const comparison of comparisons) {
        await runComparison(
          sources,
          "PostgreSQL",
          comparison,
          async (label) => {
            const name = `${prefix}_${label}`;
            await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
            created.push(name);
            const url = new URL(adminUrl);
            url.pathname = `/${name}`;
            return url.toString();
          },
          options,
        );
      }
    } finally {
      for (const name of created) {
        await withAdmin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      }
    }
  }
}

await main();
