/**
 * What `keepTickShape` (packages/server/src/http/tick-shape.ts) is for, shown on `process.nextTick`
 * alone: nanoseconds per tick in three kinds of fresh process, in alternating rounds.
 *
 * - `plain`: ticks, nothing else (a small process, which never runs a full garbage collection);
 * - `collected`: the same after a full collection at a moment when no tick object is alive, as a
 *   server process runs while it starts or idles: V8's feedback for the tick literal loses the map
 *   it held, turns megamorphic for good, and each tick from then on goes through V8's runtime;
 * - `kept`: `keepTickShape()` first, then the same collection: the kept tick keeps the map alive.
 *
 * Expected: `collected` well above `plain`, `kept` near `plain`. The figures are ratios against
 * `plain` in the same run; the CPU-bound loop runs in a child process per measurement.
 *
 * Run (from the repository root; TypeScript sources, no build needed):
 *   npx tsx bench/tick-shape.ts
 * Options: --rounds=N (default 5), --ticks=N (ticks per measurement, default 5,000,000).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { keepTickShape } from "../packages/server/src/http/tick-shape.js";

const MODES = ["plain", "collected", "kept"] as const;
type Mode = (typeof MODES)[number];
const BURST = 100_000;

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    ticks: { type: "string", default: "5000000" },
    child: { type: "string" },
  },
});

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a whole number above 0 (got '${text}').`);
    process.exit(2);
  }
  return value;
}

const noop = (): void => {};

/** Queues `count` ticks and resolves once they have all run. */
function burst(count: number): Promise<void> {
  return new Promise((resolve) => {
    for (let i = 0; i < count; i++) process.nextTick(noop);
    process.nextTick(resolve);
  });
}

/** The child: one measurement, printed as ns per tick. */
async function measure(mode: Mode, ticks: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run the child with --expose-gc");
  if (mode === "kept") keepTickShape();
  await burst(1000); // the literal's feedback is recorded
  await new Promise((resolve) => setTimeout(resolve, 10)); // no tick object alive any more
  if (mode !== "plain") {
    gc();
    gc();
  }
  await burst(BURST); // warm-up
  const start = process.hrtime.bigint();
  for (let done = 0; done < ticks; done += BURST) await burst(BURST);
  const elapsed = Number(process.hrtime.bigint() - start);
  process.stdout.write(`${elapsed / ticks}\n`);
}

function median(numbers: readonly number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function main(): Promise<void> {
  const ticks = positive("ticks", values.ticks);
  if (values.child !== undefined) {
    if (!MODES.includes(values.child as Mode)) throw new Error(`unknown mode ${values.child}`);
    await measure(values.child as Mode, ticks);
    return;
  }
  const rounds = positive("rounds", values.rounds);
  const self = fileURLToPath(import.meta.url);
  const results = new Map<Mode, number[]>(MODES.map((mode) => [mode, []]));
  console.log(
    `process.nextTick, ${ticks.toLocaleString("en")} ticks per measurement, ${rounds} rounds, node ${process.version}`,
  );
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? MODES : [...MODES].reverse();
    const line: string[] = [];
    for (const mode of order) {
      const child = spawnSync(
        process.execPath,
        ["--expose-gc", "--import", "tsx", self, `--child=${mode}`, `--ticks=${ticks}`],
        { encoding: "utf8" },
      );
      if (child.status !== 0) throw new Error(`the ${mode} child failed: ${child.stderr}`);
      const nanos = Number(child.stdout.trim());
      results.get(mode)?.push(nanos);
      line.push(`${mode} ${nanos.toFixed(0)} ns`);
    }
    console.log(`  round ${round}: ${line.join(", ")}`);
  }
  const plain = median(results.get("plain") ?? []);
  console.log("median ns per tick, and against plain:");
  for (const mode of MODES) {
    const value = median(results.get(mode) ?? []);
    console.log(`  ${mode.padEnd(10)} ${value.toFixed(0).padStart(6)} ns   ${(value / plain).toFixed(2)}`);
  }
}

await main();
