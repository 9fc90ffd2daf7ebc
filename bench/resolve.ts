/**
 * The cold path (a runtime cache miss): resolution must be fast and must not grow with the number
 * of other sites.
 *
 * Fills two stores whose sites all have the same shape (9 site secrets, some overriding `live`,
 * under an owner org with 100 org secrets; scopes mix `web`, `ic` and `user`, so filtering matters;
 * values of 100 bytes sealed by the real envelope code, bound to their rows), by bulk inserts:
 *   small: 1 org × 100 sites                        (1,000 secrets)
 *   large: --sites/100 orgs × 100 sites (default 10,000 sites, 100,000 secrets; --sites=100000 gives
 *          1,000,000 secrets)
 * then times `SecretsService.resolveForDelivery(site, "live", "web")` (Lockbox as `createLockbox()`
 * wires it, one instance per store; on PostgreSQL listening for changes as `lockbox serve` does, so
 * that org snapshots are in use) on random sites of each, in interleaved rounds, after a warm-up
 * that resolves every site once (a server that has served them: data keys unwrapped, org snapshots
 * read). Prints the median, p90 and p99, the ratio large/small of the medians overall and per
 * round, and the time to resolve all 100 sites of an org again after that org's change is applied
 * (its snapshot dropped), as a server does after an org-wide write.
 * Resolution reads only the site's rows through indexes and its org's snapshot, so the ratio should
 * stay near 1; a scan makes it grow toward the number of orgs. Every call's result is checked
 * against the expected set, so an empty or wrong resolution cannot pass for a fast one. Calls run
 * one at a time: resolutions/s is per connection, not the server's throughput. The machine's load
 * moves the figures: compare the ratios of one run, and repeat rounds.
 *
 * Both stores are ANALYZEd after the fill, as autovacuum would do: PostgreSQL without statistics
 * can join `secret_values` by a sequential scan.
 *
 * Run (from the repository root; runs on the TypeScript sources, no build needed):
 *   npx tsx bench/resolve.ts                     SQLite in a temporary folder
 *   npx tsx bench/resolve.ts --postgres[=URL]    also PostgreSQL (default postgres://postgres@127.0.0.1:5432/postgres;
 *                                                creates lockbox_bench_<random>_{small,large} and drops them)
 * Options: --sites=N (large store, a multiple of 100; default 10000), --rounds=N (default 5),
 *          --calls=N (resolutions per store per round; default 2000).
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

type DataKey = ReturnType<Lockbox["keyring"]["generateDataKey"]>["key"];

type Sources = typeof import("./lockbox-sources.js");
type Owner = { readonly kind: "org" | "site"; readonly id: string };

const SITES_PER_ORG = 100; // the small store is one such org
const ENV = "live";
const SCOPE = "web";
const VALUE_BYTES = 100;
const INSERT_CHUNK_ROWS = 1000;
const ORGS_PER_BATCH = 10;
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
  /** In fill order: the sites of `orgIds[i]` are `siteIds[100 i … 100 i + 99]`. */
  readonly orgIds: readonly string[];
  readonly secrets: number;
  readonly values: number;
  readonly seconds: number;
}

/**
 * Fills `lockbox`'s store with `orgs` orgs of {@link SITES_PER_ORG} sites each by bulk inserts, a
 * transaction per {@link ORGS_PER_BATCH} orgs: data keys made by the keyring (wrapped under the
 * store's master key), values sealed in memory with them, then rows written in chunks. Only what
 * resolution reads is written (no environments, memberships or versions).
 */
async function fill(sources: Sources, label: string, lockbox: Lockbox, orgs: number): Promise<Filled> {
  const started = performance.now();
  const { db, keyring } = lockbox;
  const siteIds: string[] = [];
  const orgIds: string[] = [];
  let secretCount = 0;
  let valueCount = 0;
  const masterKeyId = keyring.currentKeyId;
  for (let first = 0; first < orgs; first += ORGS_PER_BATCH) {
    const at = new Date().toISOString();
    const orgRows: Insertable<Database["orgs"]>[] = [];
    const siteRows: Insertable<Database["sites"]>[] = [];
    const secrets: Insertable<Database["secrets"]>[] = [];
    const values: Insertable<Database["secret_values"]>[] = [];
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
            const ciphertext = sources.sealValue(key, plaintext(owner.kind, shape.name, env), {
              secretId,
              env,
            });
            values.push({ secret_id: secretId, env: env ?? "", ciphertext, updated_at: at });
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
  }
  // Steady state: planner statistics, as autovacuum or `PRAGMA optimize` would give them (see the header).
  await sources.sql`ANALYZE`.execute(db.kysely);
  return {
    label,
    lockbox,
    siteIds,
    orgIds,
    secrets: secretCount,
    values: valueCount,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * An org's change as a server applies its notification (its snapshot dropped), then every site of
 * that org resolved once, one after the other (as a rebuild of their sets would); returns the ms.
 */
async function timeOrgChange(target: Filled, expected: ReadonlyMap<string, string>): Promise<number> {
  const o = Math.floor(Math.random() * target.orgIds.length);
  target.lockbox.delivery.applyChange({ kind: "org", id: target.orgIds[o] ?? "" });
  const sites = target.siteIds.slice(o * SITES_PER_ORG, (o + 1) * SITES_PER_ORG);
  const started = performance.now();
  await timeResolutions(target, sites.length, expected, sites);
  return performance.now() - started;
}

/**
 * Resolves `calls` sites (random ones, or `sites` in order), checking every result; returns each
 * call's time in µs.
 */
async function timeResolutions(
  target: Filled,
  calls: number,
  expected: ReadonlyMap<string, string>,
  sites?: readonly string[],
) {
  const micros: number[] = [];
  for (let i = 0; i < calls; i++) {
    const siteId = sites?.[i] ?? target.siteIds[Math.floor(Math.random() * target.siteIds.length)] ?? "";
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

/**
 * Lockbox wired by its composition root over the database at `location`, with a new master key.
 * On PostgreSQL it listens for changes as `lockbox serve` does (caches, org snapshots included, are
 * trusted only while it listens); `close` stops the listener and closes the store.
 */
async function open(
  sources: Sources,
  location: string,
): Promise<{ lockbox: Lockbox; close(): Promise<void> }> {
  const lockbox = await sources.createLockbox({
    db: location,
    env: { LOCKBOX_MASTER_KEY: randomBytes(32).toString("base64") },
  });
  if (!location.startsWith("postgres")) return { lockbox, close: () => lockbox.close() };
  const { delivery } = lockbox;
  let listening: () => void = () => {};
  const up = new Promise<void>((resolve) => {
    listening = resolve;
  });
  const listener = sources.listenForChanges(location, {
    onChange: (change, sentAtMs) => delivery.applyChange(change, sentAtMs),
    onLost: () => delivery.setCaching(false),
    onListening: () => {
      delivery.setCaching(true);
      listening();
    },
  });
  await up;
  return {
    lockbox,
    async close() {
      await listener.close();
      await lockbox.close();
    },
  };
}

async function runBackend(
  sources: Sources,
  backend: string,
  locate: (label: "small" | "large") => Promise<string>,
  options: { orgs: number; rounds: number; calls: number },
): Promise<void> {
  console.log(`\n${backend}`);
  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    const filled: Filled[] = [];
    for (const [label, orgs] of [
      ["small", 1],
      ["large", options.orgs],
    ] as const) {
      const handle = await open(sources, await locate(label));
      opened.push(handle);
      const { lockbox } = handle;
      const f = await fill(sources, label, lockbox, orgs);
      filled.push(f);
      console.log(
        `  filled ${label}: ${fmt(orgs)} ${orgs === 1 ? "org" : "orgs"}, ${fmt(f.siteIds.length)} sites, ${fmt(f.secrets)} secrets, ` +
          `${fmt(f.values)} sealed values in ${f.seconds.toFixed(1)} s`,
      );
    }

    const expected = expectedResolution();
    // Warm-up: every site once, as a server that has served them (data keys unwrapped, org snapshots read).
    for (const f of filled) await timeResolutions(f, f.siteIds.length, expected, f.siteIds);
    const micros = new Map<string, number[]>(filled.map((f) => [f.label, []]));
    const roundRatios: number[] = [];
    const orgChange = new Map<string, number[]>(filled.map((f) => [f.label, []]));
    for (let round = 0; round < options.rounds; round++) {
      const roundMedians: number[] = [];
      for (const f of filled) {
        const times = await timeResolutions(f, options.calls, expected);
        micros.get(f.label)?.push(...times);
        roundMedians.push(
          percentile(
            [...times].sort((a, b) => a - b),
            0.5,
          ),
        );
        orgChange.get(f.label)?.push(await timeOrgChange(f, expected));
      }
      roundRatios.push((roundMedians[1] ?? Number.NaN) / (roundMedians[0] ?? Number.NaN));
    }

    const snapshots = filled[0]?.lockbox.delivery.orgSnapshots;
    console.log(
      `  ${fmt(options.rounds)} rounds × ${fmt(options.calls)} resolutions per store, interleaved, after a warm-up of every site` +
        ` (env '${ENV}', scope '${SCOPE}'; org snapshots ${snapshots?.trusted ? "in use" : "NOT in use"})`,
    );
    console.log(
      `  ${"store".padEnd(6)} ${"sites".padStart(7)} ${"median µs".padStart(10)} ${"p90 µs".padStart(8)} ` +
        `${"p99 µs".padStart(8)} ${"resolutions/s".padStart(14)} ${"secrets/call".padStart(13)}`,
    );
    const medians: number[] = [];
    for (const f of filled) {
      const sorted = (micros.get(f.label) ?? []).sort((a, b) => a - b);
      const totalSeconds = sorted.reduce((sum, us) => sum + us, 0) / 1e6;
      const median = percentile(sorted, 0.5);
      medians.push(median);
      console.log(
        `  ${f.label.padEnd(6)} ${fmt(f.siteIds.length).padStart(7)} ${median.toFixed(0).padStart(10)} ` +
          `${percentile(sorted, 0.9).toFixed(0).padStart(8)} ${percentile(sorted, 0.99).toFixed(0).padStart(8)} ` +
          `${fmt(Math.round(sorted.length / totalSeconds)).padStart(14)} ${fmt(expected.size).padStart(13)}`,
      );
    }
    const ratio = (medians[1] ?? Number.NaN) / (medians[0] ?? Number.NaN);
    const verdict =
      ratio <= 1.5
        ? "near 1: resolution does not grow with the number of other sites"
        : ratio <= 3
          ? "above 1, far below the growth in sites: caches and index depth, not a scan; run again"
          : "GROWS with the number of other sites: look for a scan or a missing index";
    console.log(`  ratio large/small of medians: ${ratio.toFixed(2)} (${verdict})`);
    console.log(`  ratio per round: ${roundRatios.map((r) => r.toFixed(2)).join(", ")}`);
    for (const f of filled) {
      const ms = (orgChange.get(f.label) ?? []).sort((a, b) => a - b);
      console.log(
        `  ${f.label}: after an org change (the notification applied), its ${SITES_PER_ORG} sites re-resolved in ` +
          `${percentile(ms, 0.5).toFixed(1)} ms median of ${ms.length} rounds (${((percentile(ms, 0.5) * 1000) / SITES_PER_ORG).toFixed(0)} µs per site)`,
      );
    }
  } finally {
    for (const handle of opened) await handle.close();
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
    },
  });
  const sites = positiveInteger(values.sites, "sites");
  if (sites % SITES_PER_ORG !== 0) throw new Error(`--sites must be a multiple of ${SITES_PER_ORG}.`);
  const options = {
    orgs: sites / SITES_PER_ORG,
    rounds: positiveInteger(values.rounds, "rounds"),
    calls: positiveInteger(values.calls, "calls"),
  };

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
    await runBackend(sources, "SQLite", async (label) => join(dir, `${label}.db`), options);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  if (values.postgres !== undefined) {
    const adminUrl = values.postgres;
    const prefix = `lockbox_bench_${randomBytes(4).toString("hex")}`;
    const created: string[] = [];
    try {
      await runBackend(
        sources,
        "PostgreSQL",
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
    } finally {
      for (const name of created) {
        await withAdmin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      }
    }
  }
}

await main();
