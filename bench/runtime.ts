/**
 * The runtime hot path against the floor: how close `GET /site/secrets` comes to a plain `node:http`
 * server answering the same bytes from memory (STYLE.md, "The hot path"; SPEC §3). Target: at least
 * 0.9 of the plain server's throughput (issue 10, item 4). With `--baseline-tree=DIR` it also measures the Lockbox of
 * another source tree (say a worktree of an older commit) in the same run, so a change to the hot
 * path can be compared with what it replaces under the same conditions.
 *
 * Set-up: each Lockbox contender — this tree's and, with `--baseline-tree`, DIR's — gets a fresh
 * SQLite store in a temporary folder (random master key, no rate limit, no request log) and, through
 * its management API, an org, a site it owns, 50 org and 50 site secrets of scope `web` with the
 * same 100-byte values, and a runtime token for `live`. One `GET /site/secrets` gives the body
 * (~16 KB, 100 secrets) each must answer; this tree's body and headers are what the plain
 * `node:http` server then serves (same content-type, etag and cache-control).
 *
 * Measurement: each server runs alone in a child process (`runtime-server.ts`, forked with
 * `node --import tsx`; for the baseline DIR/bench/runtime-server.ts with DIR as its working
 * directory, so it loads DIR's sources and DIR's node_modules), started fresh for each run. Load
 * comes from wrk, a C load generator, spawned by the parent: the JavaScript generator used before
 * (autocannon, decoding every 16 KB body) topped out near 25k requests/s on 2 cores and needed about
 * as much CPU per request as the server, so it measured itself. Same settings for every server
 * (`wrk -t1 -c16 --latency -H 'Authorization: Bearer <runtime token>'` by default), a warm-up run
 * before each measured run, and rounds that reverse the order of the servers each time, so drift
 * favours none; the summary gives the median of the rounds, each ratio the median of its per-round
 * ratios. wrk cannot compare bodies, so before the
 * warm-up and after the measured run each server must answer one request with a 200 and exactly the
 * expected body; under load, any status ≥ 400, socket error or timeout wrk reports ("Non-2xx or 3xx
 * responses", "Socket errors"), or fewer bytes per response than the body, fails the benchmark: it
 * cannot time errors. wrk's figures are read from a `done()` Lua hook that prints them in µs.
 *
 * The key figure is each server's CPU time per request (from the child's `process.cpuUsage()`, all
 * threads, over the measured run): it depends little on the client. Requests/s compare the servers
 * only while each is saturated, i.e. uses at least 90% of a core (reported per run). Also printed,
 * from /proc (Linux only): wrk's CPU use, and "others", what the rest of the machine used meanwhile;
 * over 10% of a core there means other processes competed with the run. Run it on an otherwise idle
 * machine.
 *
 * Run (from the repository root; runs on the TypeScript sources, no build needed; needs `wrk`: when
 * it is not on the PATH, the script installs Debian's with `apt-get install -y wrk`, which needs
 * root; ~1.5 minutes with the defaults, ~2 with a baseline):
 *   npx tsx bench/runtime.ts
 *   npx tsx bench/runtime.ts --baseline-tree=../lockbox-old    (a checkout with `npm ci` done)
 * Options: --duration=S (measured seconds per run; default 10), --warmup=S (default 2),
 *          --connections=N (default 16), --threads=N (wrk threads; default 1),
 *          --rounds=N (runs per server; default 3), --wrk=PATH (default `wrk`),
 *          --baseline-tree=DIR (also measure DIR's Lockbox as "lockbox-baseline"; DIR needs its
 *          dependencies installed and a bench/runtime-server.ts speaking the same IPC protocol),
 *          --cpu-prof=DIR (write a V8 CPU profile of every server child to DIR, for Chrome DevTools).
 * Exits 1 if a response was not the expected 200 (or the set-up failed); the verdict against the
 * target is printed, not turned into an exit code.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { StartMessage } from "./runtime-server.js";
import { api, children, ServerChild, type Tree } from "./server-child.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SECRETS_PER_OWNER = 50;
const VALUE_BYTES = 100;
const ENV = "live";
const TARGET_RATIO = 0.9;
/** Below this, a server child was waiting for requests rather than limiting the throughput. */
const SATURATED_CPU_PERCENT = 90;
/** Above this (% of a core), other processes competed with a run. */
const DISTURBED_CPU_PERCENT = 10;
/** wrk's per-request timeout: a slower answer counts as an error, which fails the run. */
const WRK_TIMEOUT_SECONDS = 5;
/** Marks the line the `done()` hook prints, among wrk's own output. */
const WRK_RESULT_MARK = "LOCKBOX_BENCH_RESULT ";
/** Prints wrk's totals as one JSON line; µs, counts and bytes, unrounded. Defines no `request` or
 * `response` hook, so wrk's request loop stays in C. */
const WRK_SCRIPT = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '${WRK_RESULT_MARK}{"durationMicros":%.0f,"requests":%.0f,"bytes":%.0f,' ..
    '"connectErrors":%.0f,"readErrors":%.0f,"writeErrors":%.0f,"statusErrors":%.0f,"timeouts":%.0f,' ..
    '"meanMicros":%.3f,"p50Micros":%.0f,"p99Micros":%.0f,"maxMicros":%.0f}\\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(99), latency.max))
end
`;
/** Headers node:http writes itself (or that describe the framing): not copied to the plain server. */
const TRANSPORT_HEADERS = new Set([
  "date",
  "connection",
  "keep-alive",
  "content-length",
  "transfer-encoding",
]);

type ServerKind = "lockbox" | "lockbox-baseline" | "plain";

interface Options {
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly threads: number;
  readonly rounds: number;
  readonly wrk: string;
  readonly baselineTree: Tree | undefined;
  readonly cpuProfDir: string | undefined;
}

/** What `GET /site/secrets` answered once, and what a server must answer under load. */
interface Expected {
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  readonly runtimeToken: string;
  readonly count: number;
}

/** A server to measure: the tree whose runtime-server.ts runs it, what starts it, what it must answer. */
interface Contender {
  readonly server: ServerKind;
  readonly tree: Tree;
  readonly start: StartMessage;
  readonly expected: Expected;
}

/** wrk's totals for one run (the `done()` hook's line). */
interface WrkResult {
  readonly durationMicros: number;
  readonly requests: number;
  readonly bytes: number;
  readonly connectErrors: number;
  readonly readErrors: number;
  readonly writeErrors: number;
  readonly statusErrors: number;
  readonly timeouts: number;
  readonly meanMicros: number;
  readonly p50Micros: number;
  readonly p99Micros: number;
  readonly maxMicros: number;
}

interface Run {
  readonly server: ServerKind;
  readonly round: number;
  readonly requestsPerSecond: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly serverCpuPercent: number;
  readonly serverCpuMicrosPerRequest: number;
  /** NaN where /proc is not available. */
  readonly clientCpuPercent: number;
  /** The whole machine's CPU use during the run less the server's, wrk's and this process's, in % of
   * a core: other processes competing with the benchmark. NaN where /proc is not available. */
  readonly othersCpuPercent: number;
}

/** `GET /site/secrets` once; throws unless it answers 200. */
async function getSecrets(url: string, runtimeToken: string): Promise<{ response: Response; body: Buffer }> {
  const response = await fetch(`${url}/site/secrets`, {
    headers: { authorization: `Bearer ${runtimeToken}` },
  });
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200) {
    throw new Error(`GET /site/secrets answered ${response.status}: ${body.toString().slice(0, 300)}`);
  }
  return { response, body };
}

/** The secret values every Lockbox store gets: `[org, site]` for each index. */
function secretValues(): readonly (readonly [string, string])[] {
  const value = () => randomBytes((VALUE_BYTES * 3) / 4).toString("base64");
  return Array.from({ length: SECRETS_PER_OWNER }, () => [value(), value()] as const);
}

/** Fills a fresh Lockbox and reads the runtime set once: what it (and the plain server) will answer. */
async function setUp(
  url: string,
  adminToken: string,
  values: readonly (readonly [string, string])[],
): Promise<Expected> {
  await api(url, adminToken, "POST", "/v1/orgs", { name: "bench-org" });
  await api(url, adminToken, "POST", "/v1/sites", { name: "bench-site", org: "bench-org" });
  for (const [i, [orgValue, siteValue]] of values.entries()) {
    const n = String(i).padStart(2, "0");
    const secret = (value: string) => ({ value, type: "runtime", scopes: "web" });
    await api(url, adminToken, "PUT", `/v1/orgs/bench-org/secrets/ORG_SECRET_${n}`, secret(orgValue));
    await api(url, adminToken, "PUT", `/v1/sites/bench-site/secrets/SITE_SECRET_${n}`, secret(siteValue));
  }
  const minted = await api(url, adminToken, "POST", "/v1/tokens", {
    kind: "runtime",
    site: "bench-site",
    env: ENV,
  });
  const runtimeToken = minted?.token;
  if (typeof runtimeToken !== "string") throw new Error("POST /v1/tokens answered no token.");

  const { response, body } = await getSecrets(url, runtimeToken);
  const parsed = JSON.parse(body.toString()) as {
    Count?: unknown;
    Secrets?: Record<string, { Value?: unknown }>;
  };
  const count = 2 * SECRETS_PER_OWNER;
  const delivered = Object.values(parsed.Secrets ?? {});
  if (
    parsed.Count !== count ||
    delivered.length !== count ||
    delivered.some((s) => s.Value?.toString().length !== VALUE_BYTES)
  ) {
    throw new Error(
      `GET /site/secrets did not deliver the ${count} secrets of ${VALUE_BYTES} bytes just set.`,
    );
  }
  const headers: Record<string, string> = {};
  for (const [name, headerValue] of response.headers) {
    if (!TRANSPORT_HEADERS.has(name)) headers[name] = headerValue;
  }
  if (!headers.etag || !headers["content-type"]?.startsWith("application/json")) {
    throw new Error("GET /site/secrets answered without an ETag or a JSON content type.");
  }
  return { body, headers, runtimeToken, count };
}

/** Starts a Lockbox of `tree` on a fresh store at `db`, fills it, and stops it. */
async function prepareLockbox(
  server: ServerKind,
  tree: Tree,
  db: string,
  masterKey: string,
  values: readonly (readonly [string, string])[],
  options: Options,
): Promise<Contender> {
  const start: StartMessage = { type: "start", server: "lockbox", db, masterKey };
  const setup = await ServerChild.start(server, tree, start, options);
  try {
    if (setup.adminToken === undefined) throw new Error(`The fresh ${server} store printed no admin token.`);
    return { server, tree, start, expected: await setUp(setup.url, setup.adminToken, values) };
  } finally {
    await setup.child.close();
  }
}

/** One request before and after the load: a 200 with exactly the expected body, or the run fails. */
async function checkAnswer(label: string, url: string, expected: Expected): Promise<void> {
  const { body } = await getSecrets(url, expected.runtimeToken).catch((error: unknown) => {
    throw new Error(`${label}: ${error instanceof Error ? error.message : String(error)}`);
  });
  if (!body.equals(expected.body)) {
    throw new Error(
      `${label}: GET /site/secrets answered a body unlike the expected one ` +
        `(${fmt(body.length)} bytes, expected ${fmt(expected.body.length)}).`,
    );
  }
}

/** Children's CPU time the kernel has charged to this process so far (reaped children only), in µs. */
function reapedChildrenCpuMicros(): number {
  try {
    // After the parenthesised command name: state is field 3; cutime and cstime are fields 16 and 17.
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[13]) + Number(fields[14]);
    return (ticks * 1_000_000) / 100; // USER_HZ, 100 on Linux
  } catch {
    return Number.NaN;
  }
}

/** CPU time all processes on the machine have used so far (user, system, interrupts, steal), in µs. */
function machineBusyMicros(): number {
  try {
    // "cpu  user nice system idle iowait irq softirq steal guest guest_nice", in USER_HZ ticks.
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    const ticks = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
    return ticks > 0 ? (ticks * 1_000_000) / 100 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Runs wrk against `url` for `seconds`; resolves with its totals, throws on any error it reports. */
function runWrk(
  label: string,
  url: string,
  seconds: number,
  expected: Expected,
  options: Options,
  script: string,
): Promise<WrkResult> {
  const args = [
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-d${seconds}s`,
    `--timeout=${WRK_TIMEOUT_SECONDS}s`,
    "--latency",
    "-s",
    script,
    "-H",
    `Authorization: Bearer ${expected.runtimeToken}`,
    `${url}/site/secrets`,
  ];
  return new Promise((resolveRun, reject) => {
    const wrk = spawn(options.wrk, args, { stdio: ["ignore", "pipe", "pipe"] });
    children.add(wrk);
    let stdout = "";
    let stderr = "";
    wrk.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    wrk.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => wrk.kill("SIGKILL"), (seconds + 30) * 1000);
    wrk.once("error", (error) => {
      clearTimeout(timer);
      children.delete(wrk);
      reject(
        new Error(
          `${label}: cannot run '${options.wrk}' (${error.message}); install wrk or pass --wrk=PATH.`,
        ),
      );
    });
    wrk.once("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(wrk);
      const output = `${stdout}${stderr}`.trim();
      const line = stdout.split("\n").find((l) => l.startsWith(WRK_RESULT_MARK));
      if (code !== 0 || line === undefined) {
        reject(new Error(`${label}: wrk exited (${signal ?? `code ${code}`}) without a result:\n${output}`));
        return;
      }
      const result = JSON.parse(line.slice(WRK_RESULT_MARK.length)) as WrkResult;
      const errors =
        result.connectErrors + result.readErrors + result.writeErrors + result.statusErrors + result.timeouts;
      const bytesPerRequest = result.bytes / result.requests;
      if (
        errors > 0 ||
        result.requests === 0 ||
        /Non-2xx or 3xx responses|Socket errors/.test(stdout) ||
        // Each response carries the body; the in-flight bytes at the end add well under one.
        bytesPerRequest < expected.body.length ||
        bytesPerRequest > expected.body.length + 4096
      ) {
        reject(
          new Error(
            `${label}: ${fmt(result.requests)} requests, ${fmt(result.statusErrors)} answers with a status ≥ 400, ` +
              `socket errors connect ${fmt(result.connectErrors)} read ${fmt(result.readErrors)} write ` +
              `${fmt(result.writeErrors)} timeout ${fmt(result.timeouts)}, ${fmt(bytesPerRequest)} bytes per ` +
              `response for a ${fmt(expected.body.length)}-byte body. The measurement is not valid.\n${output}`,
          ),
        );
        return;
      }
      resolveRun(result);
    });
  });
}

async function measure(contender: Contender, round: number, options: Options, script: string): Promise<Run> {
  const { server, expected } = contender;
  const { child, url } = await ServerChild.start(server, contender.tree, contender.start, options);
  try {
    await checkAnswer(`${server} before round ${round}`, url, expected);
    await runWrk(`${server} warm-up`, url, options.warmupSeconds, expected, options, script);
    const serverBefore = await child.cpu();
    const clientBefore = reapedChildrenCpuMicros();
    const machineBefore = machineBusyMicros();
    const parentBefore = process.cpuUsage();
    const result = await runWrk(
      `${server} round ${round}`,
      url,
      options.durationSeconds,
      expected,
      options,
      script,
    );
    const clientCpuMicros = reapedChildrenCpuMicros() - clientBefore;
    const parentCpu = process.cpuUsage(parentBefore);
    const machineMicros = machineBusyMicros() - machineBefore;
    const serverAfter = await child.cpu();
    await checkAnswer(`${server} after round ${round}`, url, expected);
    const serverCpuMicros = serverAfter.cpuMicros - serverBefore.cpuMicros;
    return {
      server,
      round,
      requestsPerSecond: result.requests / (result.durationMicros / 1e6),
      meanMs: result.meanMicros / 1000,
      p50Ms: result.p50Micros / 1000,
      p99Ms: result.p99Micros / 1000,
      requests: result.requests,
      serverCpuPercent: (100 * serverCpuMicros) / (serverAfter.wallMicros - serverBefore.wallMicros),
      serverCpuMicrosPerRequest: serverCpuMicros / result.requests,
      clientCpuPercent: (100 * clientCpuMicros) / result.durationMicros,
      othersCpuPercent:
        (100 * (machineMicros - serverCpuMicros - clientCpuMicros - parentCpu.user - parentCpu.system)) /
        result.durationMicros,
    };
  } finally {
    await child.close();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

function fmt(n: number, digits = 0): string {
  if (Number.isNaN(n)) return "?";
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function saturated(cpuPercent: number): string {
  return cpuPercent >= SATURATED_CPU_PERCENT ? "saturated" : "NOT saturated";
}

function runLine(run: Run): string {
  return (
    `  round ${run.round} ${run.server.padEnd(16)} ${fmt(run.requestsPerSecond).padStart(8)} req/s  ` +
    `latency mean ${fmt(run.meanMs, 2)} p50 ${fmt(run.p50Ms, 2)} p99 ${fmt(run.p99Ms, 2)} ms  ` +
    `${fmt(run.requests)} requests  server CPU ${fmt(run.serverCpuPercent)}% ${saturated(run.serverCpuPercent)} ` +
    `(${fmt(run.serverCpuMicrosPerRequest, 1)} µs/request)  wrk CPU ${fmt(run.clientCpuPercent)}%  ` +
    `others ${fmt(run.othersCpuPercent)}%`
  );
}

function positiveInteger(text: string, option: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${option} must be a positive integer, not '${text}'.`);
  return n;
}

function baselineTree(dir: string): Tree {
  const root = resolve(dir);
  const runner = join(root, "bench", "runtime-server.ts");
  if (!existsSync(runner)) throw new Error(`--baseline-tree: ${runner} does not exist.`);
  if (!existsSync(join(root, "node_modules", "tsx"))) {
    throw new Error(`--baseline-tree: ${root} has no node_modules/tsx; run 'npm ci' there first.`);
  }
  return { root, runner };
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: "string", default: "10" },
      warmup: { type: "string", default: "2" },
      connections: { type: "string", default: "16" },
      threads: { type: "string", default: "1" },
      rounds: { type: "string", default: "3" },
      wrk: { type: "string", default: "wrk" },
      "baseline-tree": { type: "string" },
      "cpu-prof": { type: "string" },
    },
  });
  const options = {
    durationSeconds: positiveInteger(values.duration, "duration"),
    warmupSeconds: positiveInteger(values.warmup, "warmup"),
    connections: positiveInteger(values.connections, "connections"),
    threads: positiveInteger(values.threads, "threads"),
    rounds: positiveInteger(values.rounds, "rounds"),
    wrk: values.wrk,
    baselineTree: values["baseline-tree"] === undefined ? undefined : baselineTree(values["baseline-tree"]),
    cpuProfDir: values["cpu-prof"] === undefined ? undefined : resolve(values["cpu-prof"]),
  };
  if (options.connections < options.threads) throw new Error("--connections must be at least --threads.");
  return options;
}

function ratioLine(label: string, ratios: readonly number[]): string {
  const each = ratios.map((r) => r.toFixed(3)).join(", ");
  return `  ${label.padEnd(42)} ${median(ratios).toFixed(3)}  (per round: ${each})`;
}

function printSummary(runs: readonly Run[], servers: readonly ServerKind[], options: Options): void {
  const of = (server: ServerKind) => runs.filter((r) => r.server === server);
  const summary = (server: ServerKind) => ({
    requestsPerSecond: median(of(server).map((r) => r.requestsPerSecond)),
    meanMs: median(of(server).map((r) => r.meanMs)),
    p50Ms: median(of(server).map((r) => r.p50Ms)),
    p99Ms: median(of(server).map((r) => r.p99Ms)),
    serverCpuPercent: median(of(server).map((r) => r.serverCpuPercent)),
    cpuMicrosPerRequest: median(of(server).map((r) => r.serverCpuMicrosPerRequest)),
    clientCpuPercent: median(of(server).map((r) => r.clientCpuPercent)),
    othersCpuPercent: median(of(server).map((r) => r.othersCpuPercent)),
  });
  console.log(
    `\nmedian of ${options.rounds} ${options.rounds === 1 ? "round" : "rounds"}:\n` +
      `  ${"server".padEnd(16)} ${"req/s".padStart(8)} ${"mean ms".padStart(8)} ${"p50 ms".padStart(7)} ` +
      `${"p99 ms".padStart(7)} ${"server CPU".padStart(11)} ${"CPU µs/request".padStart(15)} ${"wrk CPU".padStart(8)} ${"others".padStart(7)}`,
  );
  const medians = new Map(servers.map((server) => [server, summary(server)] as const));
  for (const [server, s] of medians) {
    console.log(
      `  ${server.padEnd(16)} ${fmt(s.requestsPerSecond).padStart(8)} ${fmt(s.meanMs, 2).padStart(8)} ` +
        `${fmt(s.p50Ms, 2).padStart(7)} ${fmt(s.p99Ms, 2).padStart(7)} ${`${fmt(s.serverCpuPercent)}%`.padStart(11)} ` +
        `${fmt(s.cpuMicrosPerRequest, 1).padStart(15)} ${`${fmt(s.clientCpuPercent)}%`.padStart(8)} ` +
        `${`${fmt(s.othersCpuPercent)}%`.padStart(7)}`,
    );
  }

  /** Per round, `of(a)/of(b)` of a figure: the servers of a round ran minutes apart at most. */
  const perRound = (a: ServerKind, b: ServerKind, figure: (run: Run) => number) =>
    Array.from({ length: options.rounds }, (_, i) => {
      const runA = runs.find((r) => r.server === a && r.round === i + 1);
      const runB = runs.find((r) => r.server === b && r.round === i + 1);
      return runA && runB ? figure(runA) / figure(runB) : Number.NaN;
    });
  const rps = (run: Run) => run.requestsPerSecond;
  const cpu = (run: Run) => run.serverCpuMicrosPerRequest;
  console.log("\nratios (median of the per-round ratios):");
  const ratio = median(perRound("lockbox", "plain", rps));
  console.log(ratioLine("lockbox/plain, requests/s", perRound("lockbox", "plain", rps)));
  console.log(ratioLine("plain/lockbox, server CPU per request", perRound("plain", "lockbox", cpu)));
  if (servers.includes("lockbox-baseline")) {
    console.log(ratioLine("lockbox-baseline/plain, requests/s", perRound("lockbox-baseline", "plain", rps)));
    console.log(
      ratioLine("lockbox/lockbox-baseline, requests/s", perRound("lockbox", "lockbox-baseline", rps)),
    );
    console.log(
      ratioLine("lockbox/lockbox-baseline, CPU per request", perRound("lockbox", "lockbox-baseline", cpu)),
    );
    console.log(
      "  (this tree against the baseline: above 1 in requests/s, below 1 in CPU per request is faster)",
    );
  }
  const verdict =
    ratio >= TARGET_RATIO
      ? `meets the target (≥ ${TARGET_RATIO})`
      : `BELOW the target of ${TARGET_RATIO}: profile the hot path (--cpu-prof=DIR)`;
  console.log(`lockbox/plain, requests/s: ${ratio.toFixed(2)} — ${verdict}`);
  const disturbed = runs.filter((r) => r.othersCpuPercent > DISTURBED_CPU_PERCENT);
  if (disturbed.length > 0) {
    console.log(
      `note: other processes used more than ${DISTURBED_CPU_PERCENT}% of a core during ` +
        `${disturbed.map((r) => `${r.server} round ${r.round}`).join(", ")}: those runs competed for the CPU.`,
    );
  }
  const unsaturated = runs.filter((r) => r.serverCpuPercent < SATURATED_CPU_PERCENT);
  if (unsaturated.length > 0) {
    console.log(
      `note: ${unsaturated.map((r) => `${r.server} round ${r.round}`).join(", ")} used less than ` +
        `${SATURATED_CPU_PERCENT}% of a core: wrk (or another process on this machine) limited the load, so ` +
        "requests/s understate what that server can do; the CPU per request depends on it much less.",
    );
  }
}

/** Makes sure `wrk` runs: when the default `wrk` is not on the PATH, installs Debian's with apt-get. */
function ensureWrk(options: Options): void {
  const runs = () => spawnSync(options.wrk, ["--version"], { stdio: "ignore" }).error === undefined;
  if (runs()) return;
  if (options.wrk !== "wrk") throw new Error(`cannot run --wrk=${options.wrk}: point it at a wrk binary.`);
  console.log("wrk is not installed: apt-get install -y wrk");
  const apt = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "wrk"], {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (apt.status !== 0 || !runs()) {
    throw new Error(
      "wrk is not installed and `apt-get install -y wrk` failed: install it (as root, after `apt-get update`) or pass --wrk=PATH.",
    );
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  ensureWrk(options);
  if (options.cpuProfDir !== undefined) mkdirSync(options.cpuProfDir, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), "lockbox-bench-runtime-"));
  const script = join(dir, "done.lua");
  writeFileSync(script, WRK_SCRIPT);
  const masterKey = randomBytes(32).toString("base64");
  const onSignal = (signal: NodeJS.Signals) => {
    for (const child of children) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    process.kill(process.pid, signal);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const values = secretValues();
    const thisTree: Tree = {
      root: ROOT,
      runner: fileURLToPath(new URL("./runtime-server.ts", import.meta.url)),
    };
    const lockbox = await prepareLockbox(
      "lockbox",
      thisTree,
      join(dir, "lockbox.db"),
      masterKey,
      values,
      options,
    );
    const baseline =
      options.baselineTree === undefined
        ? undefined
        : await prepareLockbox(
            "lockbox-baseline",
            options.baselineTree,
            join(dir, "lockbox-baseline.db"),
            masterKey,
            values,
            options,
          );
    const plain: Contender = {
      server: "plain",
      tree: thisTree,
      start: {
        type: "start",
        server: "plain",
        body: lockbox.expected.body.toString("base64"),
        headers: lockbox.expected.headers,
      },
      // Any token: the plain server does not look at it.
      expected: lockbox.expected,
    };

    const { expected } = lockbox;
    console.log(
      `GET /site/secrets: ${expected.count} secrets (${SECRETS_PER_OWNER} site + ${SECRETS_PER_OWNER} org, ` +
        `${VALUE_BYTES}-byte values), body ${fmt(expected.body.length)} bytes; ` +
        `headers copied to the plain server: ${Object.keys(expected.headers).join(", ")}`,
    );
    if (baseline !== undefined) {
      // Not the same bytes: the site's id, hence the version and ETag, differ between stores.
      console.log(
        `lockbox-baseline: ${options.baselineTree?.root}, body ${fmt(baseline.expected.body.length)} bytes ` +
          "(each Lockbox is checked against the body its own store answered)",
      );
    }
    console.log(
      `wrk -t${options.threads} -c${options.connections}, ${options.warmupSeconds} s warm-up + ` +
        `${options.durationSeconds} s per run, each server alone in a fresh child process; ` +
        `${options.rounds} ${options.rounds === 1 ? "round" : "rounds"}, order reversed each round; ` +
        `node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg()[0]?.toFixed(1)} at the start`,
    );

    const contenders = baseline === undefined ? [lockbox, plain] : [lockbox, baseline, plain];
    const runs: Run[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const order = round % 2 === 1 ? contenders : [...contenders].reverse();
      for (const contender of order) {
        const run = await measure(contender, round, options, script);
        runs.push(run);
        console.log(runLine(run));
      }
    }
    printSummary(
      runs,
      contenders.map((c) => c.server),
      options,
    );
  } finally {
    for (const child of children) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

try {
  await main();
} catch (error) {
  console.error(`bench/runtime.ts failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
