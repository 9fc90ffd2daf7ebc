/**
 * The runtime hot path against the floor: how close `GET /site/secrets` comes to a plain `node:http`
 * server answering the same bytes from memory (STYLE.md, "The hot path"; SPEC §3). Target: at least
 * 0.8 of the plain server's throughput.
 *
 * Set-up: the real Lockbox server (SQLite in a temporary folder, a random master key, no rate limit,
 * no request log) gets, through the management API, an org, a site it owns, 50 org and 50 site
 * secrets of scope `web` with 100-byte values, and a runtime token for `live`. One `GET /site/secrets`
 * gives the body (~16 KB, 100 secrets) and headers the baseline then serves: a plain `node:http`
 * server writing the same bytes with the same content-type, etag and cache-control.
 *
 * Measurement: each server runs alone in a child process (`runtime-server.ts`, forked with
 * `node --import tsx`), started fresh for each run; autocannon runs here, in the parent, so load
 * generation never takes the measured server's CPU. Same settings for both (connections, pipelining
 * 1, `Authorization: Bearer <runtime token>`), a warm-up run before each measured run, and rounds
 * that alternate which server goes first, so drift favours neither; the summary is the median of the
 * rounds. Every response must be a 2xx with exactly the expected body (autocannon's `expectBody`), or
 * the benchmark fails: it cannot time errors. Besides requests/s and latency it prints each server's
 * CPU time per request (from the child's `process.cpuUsage()`, all threads) and the CPU use of both
 * sides. On 2 cores autocannon (JavaScript, decoding every 16 KB body) needs about as much CPU per
 * request as the server: when a server uses less than 90% of a core, the client (or another process)
 * limited the load, the requests/s ratio moves toward 1, and the CPU-per-request ratio is the
 * better estimate of what the servers can do. Run it on an otherwise idle machine.
 *
 * Run (from the repository root; runs on the TypeScript sources, no build needed; ~1 minute with
 * the defaults):
 *   npx tsx bench/runtime.ts
 * Options: --duration=S (measured seconds per run; default 10), --warmup=S (default 2),
 *          --connections=N (default 50), --rounds=N (runs per server; default 2),
 *          --cpu-prof=DIR (write a V8 CPU profile of every server child to DIR, for Chrome DevTools).
 * Exits 1 if a response was not the expected 200 (or the set-up failed); the verdict against the
 * target is printed, not turned into an exit code.
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon, { type Result } from "autocannon";
import type { ChildMessage, ParentMessage, StartMessage } from "./runtime-server.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RUNNER = fileURLToPath(new URL("./runtime-server.ts", import.meta.url));
const SECRETS_PER_OWNER = 50;
const VALUE_BYTES = 100;
const ENV = "live";
const TARGET_RATIO = 0.8;
/** Below this, a server child was waiting for requests rather than limiting the throughput. */
const SATURATED_CPU_PERCENT = 90;
const CHILD_TIMEOUT_MS = 30_000;
/** Headers node:http writes itself (or that describe the framing): not copied to the baseline. */
const TRANSPORT_HEADERS = new Set([
  "date",
  "connection",
  "keep-alive",
  "content-length",
  "transfer-encoding",
]);

type ServerKind = "lockbox" | "plain";

interface Options {
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly rounds: number;
  readonly cpuProfDir: string | undefined;
}

/** What `GET /site/secrets` answered once, and what both servers must answer under load. */
interface Expected {
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  readonly runtimeToken: string;
  readonly count: number;
}

interface Run {
  readonly server: ServerKind;
  readonly round: number;
  readonly requestsPerSecond: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly serverCpuPercent: number;
  readonly serverCpuMicrosPerRequest: number;
  readonly clientCpuPercent: number;
}

/** The server children alive now, so that every exit path can end them. */
const children = new Set<ChildProcess>();

/** A server in a child process, driven over IPC (see runtime-server.ts). */
class ServerChild {
  readonly #child: ChildProcess;
  #exited = false;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.once("exit", () => {
      this.#exited = true;
      children.delete(child);
    });
  }

  static async start(
    start: StartMessage,
    options: Options,
  ): Promise<{ child: ServerChild; url: string; adminToken: string | undefined }> {
    const profile =
      options.cpuProfDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`];
    const process_ = fork(RUNNER, [], {
      cwd: ROOT,
      execArgv: ["--import", "tsx", ...profile],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.add(process_);
    const child = new ServerChild(process_);
    try {
      const ready = await child.#ask(start, "ready");
      return { child, url: ready.url, adminToken: ready.adminToken };
    } catch (error) {
      await child.close();
      throw error;
    }
  }

  /** The child's CPU time so far (all its threads) and its clock, both in µs. */
  cpu(): Promise<{ cpuMicros: number; wallMicros: number }> {
    return this.#ask({ type: "cpu" }, "cpu");
  }

  /** Asks the child to stop its server and exit; kills it if it has not within 5 s. */
  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolveExit) => this.#child.once("exit", () => resolveExit()));
    if (this.#child.connected) this.#child.send({ type: "close" } satisfies ParentMessage);
    else this.#child.kill("SIGKILL");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }

  #ask<T extends ChildMessage["type"]>(
    message: ParentMessage,
    answer: T,
  ): Promise<Extract<ChildMessage, { type: T }>> {
    return new Promise((resolveAnswer, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`The ${answerName(message)} child did not answer '${message.type}' in time.`));
      }, CHILD_TIMEOUT_MS);
      const onMessage = (reply: ChildMessage) => {
        if (reply.type === "failed") {
          cleanup();
          reject(new Error(`The server child failed: ${reply.message}`));
        } else if (reply.type === answer) {
          cleanup();
          resolveAnswer(reply as Extract<ChildMessage, { type: T }>);
        }
      };
      const onExit = (code: number | null, signal: string | null) => {
        cleanup();
        reject(new Error(`The server child exited (${signal ?? `code ${code}`}) before answering.`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.#child.off("message", onMessage);
        this.#child.off("exit", onExit);
      };
      this.#child.on("message", onMessage);
      this.#child.once("exit", onExit);
      this.#child.send(message);
    });
  }
}

function answerName(message: ParentMessage): string {
  return message.type === "start" ? message.server : "server";
}

/** A management API call as the admin; throws with the status and the server's message. */
async function api(baseUrl: string, token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
  return text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>);
}

/** Fills a fresh Lockbox and reads the runtime set once: what both servers will then answer. */
async function setUp(url: string, adminToken: string): Promise<Expected> {
  const value = () => randomBytes((VALUE_BYTES * 3) / 4).toString("base64");
  await api(url, adminToken, "POST", "/v1/orgs", { name: "bench-org" });
  await api(url, adminToken, "POST", "/v1/sites", { name: "bench-site", org: "bench-org" });
  for (let i = 0; i < SECRETS_PER_OWNER; i++) {
    const n = String(i).padStart(2, "0");
    const secret = { value: value(), type: "runtime", scopes: "web" };
    await api(url, adminToken, "PUT", `/v1/orgs/bench-org/secrets/ORG_SECRET_${n}`, secret);
    await api(url, adminToken, "PUT", `/v1/sites/bench-site/secrets/SITE_SECRET_${n}`, secret);
  }
  const minted = await api(url, adminToken, "POST", "/v1/tokens", {
    kind: "runtime",
    site: "bench-site",
    env: ENV,
  });
  const runtimeToken = minted?.token;
  if (typeof runtimeToken !== "string") throw new Error("POST /v1/tokens answered no token.");

  const response = await fetch(`${url}/site/secrets`, {
    headers: { authorization: `Bearer ${runtimeToken}` },
  });
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200) {
    throw new Error(`GET /site/secrets answered ${response.status}: ${body.toString().slice(0, 300)}`);
  }
  const parsed = JSON.parse(body.toString()) as {
    Count?: unknown;
    Secrets?: Record<string, { Value?: unknown }>;
  };
  const count = 2 * SECRETS_PER_OWNER;
  const values = Object.values(parsed.Secrets ?? {});
  if (
    parsed.Count !== count ||
    values.length !== count ||
    values.some((s) => s.Value?.toString().length !== VALUE_BYTES)
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

function startMessage(server: ServerKind, db: string, masterKey: string, expected: Expected): StartMessage {
  return server === "lockbox"
    ? { type: "start", server, db, masterKey }
    : { type: "start", server, body: expected.body.toString("base64"), headers: expected.headers };
}

/** Fails loudly on anything but the expected 200 with the expected body. */
function checkAnswers(label: string, result: Result): void {
  const bad = result.non2xx + result.errors + result.timeouts + result.mismatches;
  if (bad > 0 || result["2xx"] === 0 || result["2xx"] !== result.requests.total) {
    const codes = Object.entries(result.statusCodeStats)
      .map(([code, { count }]) => `${code}: ${fmt(count)}`)
      .join(", ");
    throw new Error(
      `${label}: ${fmt(result.non2xx)} non-2xx, ${fmt(result.errors)} errors, ${fmt(result.timeouts)} timeouts, ` +
        `${fmt(result.mismatches)} bodies unlike the expected one, ${fmt(result["2xx"])} of ${fmt(result.requests.total)} ` +
        `answers 2xx (status codes: ${codes || "none"}). The measurement is not valid.`,
    );
  }
}

async function measure(
  server: ServerKind,
  round: number,
  options: Options,
  start: StartMessage,
  expected: Expected,
): Promise<Run> {
  const { child, url } = await ServerChild.start(start, options);
  try {
    const load = {
      url: `${url}/site/secrets`,
      connections: options.connections,
      pipelining: 1,
      headers: { authorization: `Bearer ${expected.runtimeToken}` },
      expectBody: expected.body.toString(),
    };
    checkAnswers(`${server} warm-up`, await autocannon({ ...load, duration: options.warmupSeconds }));
    const serverBefore = await child.cpu();
    const clientBefore = process.cpuUsage();
    const clientStart = process.hrtime.bigint();
    const result = await autocannon({ ...load, duration: options.durationSeconds });
    const clientCpu = process.cpuUsage(clientBefore);
    const clientWallMicros = Number((process.hrtime.bigint() - clientStart) / 1000n);
    const serverAfter = await child.cpu();
    checkAnswers(`${server} round ${round}`, result);
    const serverCpuMicros = serverAfter.cpuMicros - serverBefore.cpuMicros;
    return {
      server,
      round,
      requestsPerSecond: result.requests.average,
      meanMs: result.latency.mean,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      requests: result.requests.total,
      non2xx: result.non2xx,
      serverCpuPercent: (100 * serverCpuMicros) / (serverAfter.wallMicros - serverBefore.wallMicros),
      serverCpuMicrosPerRequest: serverCpuMicros / result.requests.total,
      clientCpuPercent: (100 * (clientCpu.user + clientCpu.system)) / clientWallMicros,
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
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function runLine(run: Run): string {
  return (
    `  round ${run.round} ${run.server.padEnd(8)} ${fmt(run.requestsPerSecond).padStart(8)} req/s  ` +
    `latency mean ${fmt(run.meanMs, 2)} p50 ${fmt(run.p50Ms)} p99 ${fmt(run.p99Ms)} ms  ${fmt(run.requests)} requests  ` +
    `server CPU ${fmt(run.serverCpuPercent)}% (${fmt(run.serverCpuMicrosPerRequest, 1)} µs/request)  ` +
    `autocannon CPU ${fmt(run.clientCpuPercent)}%`
  );
}

function positiveInteger(text: string, option: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${option} must be a positive integer, not '${text}'.`);
  return n;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: "string", default: "10" },
      warmup: { type: "string", default: "2" },
      connections: { type: "string", default: "50" },
      rounds: { type: "string", default: "2" },
      "cpu-prof": { type: "string" },
    },
  });
  return {
    durationSeconds: positiveInteger(values.duration, "duration"),
    warmupSeconds: positiveInteger(values.warmup, "warmup"),
    connections: positiveInteger(values.connections, "connections"),
    rounds: positiveInteger(values.rounds, "rounds"),
    cpuProfDir: values["cpu-prof"] === undefined ? undefined : resolve(values["cpu-prof"]),
  };
}

function printSummary(runs: readonly Run[], options: Options): void {
  const of = (server: ServerKind) => runs.filter((r) => r.server === server);
  const summary = (server: ServerKind) => ({
    requestsPerSecond: median(of(server).map((r) => r.requestsPerSecond)),
    meanMs: median(of(server).map((r) => r.meanMs)),
    p50Ms: median(of(server).map((r) => r.p50Ms)),
    p99Ms: median(of(server).map((r) => r.p99Ms)),
    non2xx: of(server).reduce((sum, r) => sum + r.non2xx, 0),
    cpuMicrosPerRequest: median(of(server).map((r) => r.serverCpuMicrosPerRequest)),
  });
  const plain = summary("plain");
  const lockbox = summary("lockbox");
  console.log(
    `\nmedian of ${options.rounds} ${options.rounds === 1 ? "round" : "rounds"}:\n` +
      `  ${"server".padEnd(8)} ${"req/s (mean)".padStart(12)} ${"mean ms".padStart(8)} ${"p50 ms".padStart(7)} ${"p99 ms".padStart(7)} ` +
      `${"non-2xx".padStart(8)} ${"server CPU µs/request".padStart(22)}`,
  );
  for (const [name, s] of [
    ["plain", plain],
    ["lockbox", lockbox],
  ] as const) {
    console.log(
      `  ${name.padEnd(8)} ${fmt(s.requestsPerSecond).padStart(12)} ${fmt(s.meanMs, 2).padStart(8)} ${fmt(s.p50Ms, 1).padStart(7)} ${fmt(s.p99Ms, 1).padStart(7)} ` +
        `${fmt(s.non2xx).padStart(8)} ${fmt(s.cpuMicrosPerRequest, 1).padStart(22)}`,
    );
  }
  const ratio = lockbox.requestsPerSecond / plain.requestsPerSecond;
  const cpuRatio = plain.cpuMicrosPerRequest / lockbox.cpuMicrosPerRequest;
  const verdict =
    ratio >= TARGET_RATIO
      ? `meets the target (≥ ${TARGET_RATIO})`
      : `BELOW the target of ${TARGET_RATIO}: profile the hot path (--cpu-prof=DIR)`;
  console.log(`ratio lockbox/plain, requests/s: ${ratio.toFixed(2)} — ${verdict}`);
  console.log(
    `ratio plain/lockbox, server CPU per request: ${cpuRatio.toFixed(2)} (what the requests/s ratio would be with the server, not the client, the bottleneck)`,
  );
  if (runs.some((r) => r.serverCpuPercent < SATURATED_CPU_PERCENT)) {
    console.log(
      `note: the server used less than ${SATURATED_CPU_PERCENT}% of a core in some runs: autocannon (or another ` +
        "process on this machine) limited the load, so the requests/s ratio understates the gap between the " +
        "servers; the CPU-per-request ratio depends on it much less.",
    );
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  if (options.cpuProfDir !== undefined) mkdirSync(options.cpuProfDir, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), "lockbox-bench-runtime-"));
  const db = join(dir, "lockbox.db");
  const masterKey = randomBytes(32).toString("base64");
  const onSignal = (signal: NodeJS.Signals) => {
    for (const child of children) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    process.kill(process.pid, signal);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const setup = await ServerChild.start({ type: "start", server: "lockbox", db, masterKey }, options);
    let expected: Expected;
    try {
      if (setup.adminToken === undefined) throw new Error("The fresh Lockbox store printed no admin token.");
      expected = await setUp(setup.url, setup.adminToken);
    } finally {
      await setup.child.close();
    }

    console.log(
      `GET /site/secrets: ${expected.count} secrets (${SECRETS_PER_OWNER} site + ${SECRETS_PER_OWNER} org, ` +
        `${VALUE_BYTES}-byte values), body ${fmt(expected.body.length)} bytes; ` +
        `headers copied to the plain server: ${Object.keys(expected.headers).join(", ")}`,
    );
    console.log(
      `autocannon ${options.connections} connections, pipelining 1, ${options.warmupSeconds} s warm-up + ` +
        `${options.durationSeconds} s per run, each server alone in a fresh child process; ` +
        `${options.rounds} ${options.rounds === 1 ? "round" : "rounds"}, order alternating; ` +
        `node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg()[0]?.toFixed(1)} at the start`,
    );

    const runs: Run[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const order: ServerKind[] = round % 2 === 1 ? ["lockbox", "plain"] : ["plain", "lockbox"];
      for (const server of order) {
        const run = await measure(
          server,
          round,
          options,
          startMessage(server, db, masterKey, expected),
          expected,
        );
        runs.push(run);
        console.log(runLine(run));
      }
    }
    printSummary(runs, options);
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
