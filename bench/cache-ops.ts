/**
 * The hot path's cache operations in isolation: nanoseconds per cache hit of what `GET /site/secrets`
 * does on every request once warm — `MachineTokenCache.get` (who the token is), `RuntimeCache.get`
 * (the serialized set) and `Delivery.recordDelivery` of an already audited version (the
 * first-delivery check) — for this tree and, with `--baseline-tree=DIR`, DIR's classes, loaded into
 * the same process and timed in alternating rounds. It complements `runtime.ts`: a cache hit costs a
 * few hundred nanoseconds of a request's tens of microseconds, a difference that only a quiet
 * machine shows end to end, while here it stands out even on a busy one.
 *
 * Each operation runs over 100 warm entries in turn (several sites and tokens on one server),
 * 200,000 times to warm up, then 5,000,000 times timed; every call must hit, or the run fails.
 *
 * Run (from the repository root; TypeScript sources, no build needed):
 *   npx tsx bench/cache-ops.ts
 *   npx tsx bench/cache-ops.ts --baseline-tree=../lockbox-old    (DIR with its dependencies installed)
 * Options: --rounds=N (default 3), --baseline-tree=DIR (a tree with the same three classes and
 *          constructors: packages/server/src/delivery/{runtime-cache,machine-token-cache,delivery}.ts).
 */
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { tsImport } from "tsx/esm/api";

type Delivery = typeof import("../packages/server/src/delivery/delivery.js");
type RuntimeCacheModule = typeof import("../packages/server/src/delivery/runtime-cache.js");
type TokenCacheModule = typeof import("../packages/server/src/delivery/machine-token-cache.js");

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ENTRIES = 100;
const WARMUP_CALLS = 200_000;
const TIMED_CALLS = 5_000_000;

interface Tree {
  readonly name: string;
  readonly delivery: Delivery;
  readonly runtime: RuntimeCacheModule;
  readonly tokens: TokenCacheModule;
}

async function load(name: string, dir: string): Promise<Tree> {
  // Each tree's tsconfig.test.json sends `@lockbox/core` to that tree's sources, as in runtime.ts.
  const module = (file: string) =>
    tsImport(pathToFileURL(join(dir, "packages/server/src/delivery", file)).href, {
      parentURL: import.meta.url,
      tsconfig: join(dir, "tsconfig.test.json"),
    });
  return {
    name,
    delivery: (await module("delivery.ts")) as Delivery,
    runtime: (await module("runtime-cache.ts")) as RuntimeCacheModule,
    tokens: (await module("machine-token-cache.ts")) as TokenCacheModule,
  };
}

/** Nanoseconds per call of `hit(i)`, which must return true. */
function time(label: string, hit: (i: number) => boolean): number {
  for (let i = 0; i < WARMUP_CALLS; i++) hit(i);
  let hits = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < TIMED_CALLS; i++) if (hit(i)) hits++;
  const ns = Number(process.hrtime.bigint() - start) / TIMED_CALLS;
  if (hits !== TIMED_CALLS) throw new Error(`${label}: ${TIMED_CALLS - hits} calls missed the cache.`);
  return ns;
}

/** One round of the three operations on fresh caches of `tree`. */
function round(tree: Tree): Record<string, number> {
  const sites = Array.from({ length: ENTRIES }, (_, i) => `0000000${i}-0000-4000-8000-000000000000`);
  const tokens = Array.from({ length: ENTRIES }, (_, i) => `lbr_${"x".repeat(40)}${i}`);
  const identities = sites.map((siteId, i) => ({
    tokenId: `token-${i}`,
    kind: "runtime" as const,
    siteId,
    env: "live",
    expiresAtMs: null,
  }));
  const payload = { body: Buffer.alloc(16_500, "x"), version: "v1", etag: '"v1"' };

  const runtime = new tree.runtime.RuntimeCache();
  const tokenCache = new tree.tokens.MachineTokenCache();
  for (let i = 0; i < ENTRIES; i++) {
    runtime.set(sites[i] as string, "live", payload, runtime.epoch);
    tokenCache.set(tokens[i] as string, identities[i] as (typeof identities)[0], tokenCache.epoch);
  }
  let audited = 0;
  const unused = () => Promise.reject(new Error("not used"));
  const delivery = new tree.delivery.Delivery({
    secrets: { resolveForDelivery: unused },
    tokens: { authenticate: unused },
    sites: { findSiteById: unused },
    audit: { record: () => audited++ },
  });
  for (const identity of identities) delivery.recordDelivery(identity, "v1", "r");

  const result = {
    "MachineTokenCache.get": time("MachineTokenCache.get", (i) => {
      return tokenCache.get(tokens[i % ENTRIES] as string) !== undefined;
    }),
    "RuntimeCache.get": time("RuntimeCache.get", (i) => {
      return runtime.get(sites[i % ENTRIES] as string, "live") !== undefined;
    }),
    "recordDelivery (seen)": time("recordDelivery", (i) => {
      delivery.recordDelivery(identities[i % ENTRIES] as (typeof identities)[0], "v1", "r");
      return true;
    }),
  };
  if (audited !== ENTRIES)
    throw new Error(`recordDelivery audited ${audited - ENTRIES} repeated deliveries.`);
  return result;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rounds: { type: "string", default: "3" }, "baseline-tree": { type: "string" } },
  });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer.`);
  const trees = [await load("this tree", ROOT)];
  const baselineDir = values["baseline-tree"];
  if (baselineDir !== undefined) trees.push(await load("baseline", resolve(baselineDir)));

  const results = new Map<string, Record<string, number>[]>(trees.map((t) => [t.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const tree of r % 2 === 0 ? trees : [...trees].reverse()) results.get(tree.name)?.push(round(tree));
  }
  console.log(
    `ns per cache hit, median of ${rounds} rounds (${TIMED_CALLS.toLocaleString("en-US")} calls over ` +
      `${ENTRIES} entries each); node ${process.version}`,
  );
  const operations = Object.keys(results.get("this tree")?.[0] ?? {});
  const of = (name: string, op: string) => median((results.get(name) ?? []).map((x) => x[op] ?? Number.NaN));
  console.log(`  ${"operation".padEnd(24)} ${trees.map((t) => t.name.padStart(10)).join(" ")}`);
  for (const op of operations) {
    const cells = trees.map((t) => of(t.name, op).toFixed(1).padStart(10));
    const ratio =
      trees.length > 1 ? `   this/baseline ${(of("this tree", op) / of("baseline", op)).toFixed(2)}` : "";
    console.log(`  ${op.padEnd(24)} ${cells.join(" ")}${ratio}`);
  }
  const total = (name: string) => operations.reduce((sum, op) => sum + of(name, op), 0);
  console.log(
    `  ${"all three, per request".padEnd(24)} ${trees.map((t) => total(t.name).toFixed(1).padStart(10)).join(" ")}`,
  );
}

try {
  await main();
} catch (error) {
  console.error(`bench/cache-ops.ts failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
