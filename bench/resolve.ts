/**
 * The cold path (a runtime cache miss): resolution must be fast and must not grow with the number
 * of other sites, nor with the history of the values.
 *
 * Fills stores whose sites all have the same shape (9 site secrets, some overriding `live`, under
 * an owner org with 100 org secrets; scopes mix `web`, `ic` and `user`, so filtering matters; values
 * of 100 bytes sealed by the real envelope code, bound to their rows), by bulk inserts
 * (`resolve-fill.ts`), and runs two comparisons of two stores each:
 *   sites:    small: 1 org × 100 sites                        (1,000 secrets)
 *             large: --sites/100 orgs × 100 sites (default 10,000 sites, 100,000 secrets;
 *                    --sites=100000 gives 1,000,000 secrets)
 *   versions: none:    1 org × 100 sites, no versions
 *             history: 1 org × 100 sites, --versions (default 100) versions of every value slot (base
 *                      values and overrides; each sealed under its own associated data as a write
 *                      seals it, the last one the current value)
 * Each comparison times `SecretsService.resolveForDelivery(site, "live", "web")` (Lockbox as
 * `createLockbox()` wires it, one instance per store; on PostgreSQL listening for changes as
 * `lockbox serve` does, so that org snapshots are in use) on random sites of its two stores, in
 * interleaved rounds, after a warm-up that resolves every site once (a server that has served them:
 * data keys unwrapped, org snapshots read); each timed site is first dropped from memory, as its own
 * change would, so that each call reads its rows from the store. Within a round the two stores take
 * turns call by call, so that the machine's other work weighs on both alike. Prints the median, p90 and p99, the
 * ratio of the medians (large/small, history/none) overall and per round, and the time to resolve
 * all 100 sites of an org again after that org's change is applied (its snapshot dropped, its sites'
 * rows kept in memory as far as their budget of 64 MiB holds them: about 12,000 sites of this shape,
 * so on a larger store most are read again), as a server does after an org-wide write.
 * Resolution reads only the site's current rows through indexes and its org's snapshot, so both
 * ratios should stay near 1: a scan makes large/small grow toward the number of orgs, a read of
 * history makes history/none grow with the versions (issue 9: "resolution cost unchanged"). Every
 * call's result is checked against the expected set, so an empty or wrong resolution cannot pass
 * for a fast one. Calls run one at a time: resolutions/s is per connection, not the server's
 * throughput. The machine's load moves the figures: compare the ratios of one run, and repeat rounds.
 *
 * All stores are ANALYZEd after the fill, as autovacuum would do: PostgreSQL without statistics
 * can join `secret_values` by a sequential scan.
 *
 * Run (from the repository root; runs on the TypeScript sources, no build needed):
 *   npx tsx bench/resolve.ts                     SQLite in a temporary folder
 *   npx tsx bench/resolve.ts --postgres[=URL]    also PostgreSQL (default postgres://postgres@127.0.0.1:5432/postgres;
 *                                                creates lockbox_bench_<random>_{small,large,none,history}
 *                                                and drops them)
 * Options: --sites=N (large store, a multiple of 100; default 10000), --rounds=N (default 5),
 *          --calls=N (resolutions per store per round; default 2000), --versions=N (versions per
 *          slot of the history store; default 100), --only=sites|versions (one of the two
 *          comparisons; default both).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { tsImport } from "tsx/esm/api";
import type { Lockbox } from "./lockbox-sources.js";
import {
  ENV,
  expectedResolution,
  type Filled,
  fill,
  ORG_SECRETS,
  SCOPE,
  SITE_SECRETS,
  SITES_PER_ORG,
  type StoreSpec,
  VALUE_BYTES,
} from "./resolve-fill.js";

type Sources = typeof import("./lockbox-sources.js");

const DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres";

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
 * call's time in µs. Random sites are cold as after their own change: their rows are dropped from
 * memory first, so each call reads its site from the store (an org's change keeps them: `sites`).
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
    if (sites === undefined) target.lockbox.delivery.orgSnapshots?.invalidateSite(siteId);
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
  title: `none vs ${fmt(versions)} versions per slot`,
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
  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    const filled: Filled[] = [];
    for (const spec of comparison.stores) {
      const handle = await open(sources, await locate(spec.label));
      opened.push(handle);
      const f = await fill(sources, handle.lockbox, spec);
      filled.push(f);
      console.log(
        `  filled ${spec.label}: ${fmt(spec.orgs)} ${spec.orgs === 1 ? "org" : "orgs"}, ${fmt(f.siteIds.length)} sites, ${fmt(f.secrets)} secrets, ` +
          `${fmt(f.values)} sealed values, ${fmt(f.versions)} sealed versions in ${f.seconds.toFixed(1)} s`,
      );
    }

    const expected = expectedResolution();
    // Warm-up: every site once, as a server that has served them (data keys unwrapped, org snapshots read).
    for (const f of filled) await timeResolutions(f, f.siteIds.length, expected, f.siteIds);
    const micros = new Map<string, number[]>(filled.map((f) => [f.label, []]));
    const roundRatios: number[] = [];
    const orgChange = new Map<string, number[]>(filled.map((f) => [f.label, []]));
    for (let round = 0; round < options.rounds; round++) {
      // The two stores take turns call by call (in either order, alternately), so that whatever else
      // the machine does meanwhile weighs on both alike.
      const times = filled.map((): number[] => []);
      for (let i = 0; i < options.calls; i++) {
        for (let k = 0; k < filled.length; k++) {
          const s = i % 2 === 0 ? k : filled.length - 1 - k;
          times[s]?.push(...(await timeResolutions(filled[s] as Filled, 1, expected)));
        }
      }
      const roundMedians = times.map((t) =>
        percentile(
          [...t].sort((a, b) => a - b),
          0.5,
        ),
      );
      filled.forEach((f, s) => {
        micros.get(f.label)?.push(...(times[s] ?? []));
      });
      for (const f of filled) orgChange.get(f.label)?.push(await timeOrgChange(f, expected));
      roundRatios.push((roundMedians[1] ?? Number.NaN) / (roundMedians[0] ?? Number.NaN));
    }

    const snapshots = filled[0]?.lockbox.delivery.orgSnapshots;
    console.log(
      `  ${fmt(options.rounds)} rounds × ${fmt(options.calls)} resolutions per store, taking turns call by call, after a warm-up of every site` +
        ` (env '${ENV}', scope '${SCOPE}'; org snapshots ${snapshots?.trusted ? "in use" : "NOT in use"})`,
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
      versions: { type: "string", default: "100" },
      only: { type: "string" },
    },
  });
  if (values.only !== undefined && values.only !== "sites" && values.only !== "versions") {
    throw new Error(`--only must be 'sites' or 'versions' (or left out for both), not '${values.only}'.`);
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
      const locate = async (label: string) => {
        const name = `${prefix}_${label}`;
        await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
        created.push(name);
        const url = new URL(adminUrl);
        url.pathname = `/${name}`;
        return url.toString();
      };
      for (const comparison of comparisons) {
        await runComparison(sources, "PostgreSQL", comparison, locate, options);
      }
    } finally {
      for (const name of created) {
        await withAdmin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      }
    }
  }
}

await main();
