import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createRuntimeClient, type RuntimeClient, watchSecrets } from "./runtime-client.js";
import { type WatchAnswer, WatchLoop } from "./runtime-watch.js";

const TOKEN = "lbr_TESTTOKENtesttokenTESTTOKENtesttokenTESTTOK";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `GET /site/secrets` with blocking reads, as the server answers them, on a real socket. */
class FakeBlockingServer {
  value = "v1";
  version = 1;
  /**
   * "ok", "500" (every read fails), "cap" (every blocking read: 304 with Retry-After at once),
   * "silent" (a blocking read is held past its wait, never answered) or "hang" (no request is ever
   * answered).
   */
  mode: "ok" | "500" | "cap" | "silent" | "hang" = "ok";
  readonly requests: { url: string; ifNoneMatch: string | undefined; at: number }[] = [];
  /** Requests whose client went away before the answer. */
  aborted = 0;
  /** Connections accepted (blocking reads and plain reads alike). */
  connections = 0;
  /** Resets a connection when a request arrives on it after its first (a kept connection closed meanwhile). */
  resetKept = false;
  /** Same, but after sending the answer's head and part of its body. */
  cutKept = false;
  readonly #held = new Set<() => void>();
  readonly #requestsOn = new WeakMap<object, number>();
  readonly #server: Server = createServer((req, res) => this.#handle(req, res)).on("connection", () => {
    this.connections++;
  });

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  /** Changes the value and answers every held read. */
  set(value: string): void {
    this.value = value;
    this.version++;
    for (const wake of [...this.#held]) wake();
  }

  get held(): number {
    return this.#held.size;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const onSocket = (this.#requestsOn.get(req.socket) ?? 0) + 1;
    this.#requestsOn.set(req.socket, onSocket);
    if (this.resetKept && onSocket > 1) {
      req.socket.resetAndDestroy();
      return;
    }
    if (this.cutKept && onSocket > 1) {
      this.requests.push({
        url: req.url ?? "",
        ifNoneMatch: req.headers["if-none-match"],
        at: performance.now(),
      });
      res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
      res.write('{"SiteID":', () => req.socket.resetAndDestroy());
      return;
    }
    this.requests.push({
      url: req.url ?? "",
      ifNoneMatch: req.headers["if-none-match"],
      at: performance.now(),
    });
    if (this.mode === "hang") return;
    const wait = Number(new URL(req.url ?? "", "http://x").searchParams.get("wait") ?? 0);
    const etag = `"v${this.version}"`;
    if (this.mode === "500") {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "INTERNAL", message: "boom" } }));
      return;
    }
    if (req.headers["if-none-match"] !== etag) {
      this.#send(res);
      return;
    }
    if (wait === 0) {
      res.writeHead(304, { etag }).end();
      return;
    }
    if (this.mode === "cap") {
      res.writeHead(304, { etag, "retry-after": "1" }).end();
      return;
    }
    const wake = () => {
      clearTimeout(timer);
      this.#held.delete(wake);
      this.#send(res);
    };
    const timer = setTimeout(
      () => {
        this.#held.delete(wake);
        res.writeHead(304, { etag }).end();
      },
      this.mode === "silent" ? 3_600_000 : wait * 1000,
    );
    this.#held.add(wake);
    res.on("close", () => {
      if (!res.writableEnded) this.aborted++;
      clearTimeout(timer);
      this.#held.delete(wake);
    });
  }

  #send(res: ServerResponse): void {
    const etag = `"v${this.version}"`;
    res.writeHead(200, { "content-type": "application/json", etag });
    res.end(
      JSON.stringify({
        SiteID: "s",
        Environment: "live",
        Version: `v${this.version}`,
        Secrets: { API_KEY: { Type: "runtime", Value: this.value, Scopes: ["web"] } },
      }),
    );
  }
}

describe("the runtime client's watch (blocking reads)", () => {
  let server: FakeBlockingServer;
  const clients: RuntimeClient[] = [];
  const start = async () => {
    server = new FakeBlockingServer();
    await server.start();
  };
  const watching = (options: Parameters<typeof createRuntimeClient>[0] = {}) => {
    const client = createRuntimeClient({
      url: server.url,
      token: TOKEN,
      ttlSeconds: 3600,
      watch: true,
      ...options,
    });
    clients.push(client);
    return client;
  };
  const until = async (what: () => boolean, ms = 3000) => {
    const deadline = performance.now() + ms;
    while (!what()) {
      if (performance.now() > deadline) throw new Error("timed out");
      await sleep(5);
    }
  };
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server?.stop();
  });

  it("serves a change within a second of it, with a TTL of an hour", async () => {
    await start();
    server.mode = "silent";
    const seen: string[] = [];
    const client = watching({ onChange: (all) => seen.push(all.API_KEY as string) });
    expect(await client.getSecret("API_KEY")).toBe("v1");
    await until(() => server.held === 1);
    const changedAt = performance.now();
    server.set("v2");
    await until(() => seen.includes("v2"));
    expect(await client.getSecret("API_KEY")).toBe("v2");
    expect(performance.now() - changedAt).toBeLessThan(1000);
    expect(seen).toEqual(["v1", "v2"]);
    // Blocking reads ask with the ETag held and a wait.
    await until(() => server.held === 1);
    const last = server.requests.at(-1);
    expect(last?.url).toBe("/site/secrets?wait=90");
    expect(last?.ifNoneMatch).toBe('"v2"');
  });

  it("watchSecrets calls back with the first set and each change", async () => {
    await start();
    server.mode = "silent";
    const seen: string[] = [];
    clients.push(watchSecrets((all) => seen.push(all.API_KEY as string), { url: server.url, token: TOKEN }));
    await until(() => seen.length === 1 && server.held === 1);
    server.set("v2");
    await until(() => seen.length === 2);
    expect(seen).toEqual(["v1", "v2"]);
  });

  it("keeps serving the last set while the server fails, and catches up when it answers again", async () => {
    await start();
    const client = watching();
    expect(await client.getSecret("API_KEY")).toBe("v1");
    await until(() => server.held === 1);
    server.mode = "500";
    server.set("v2");
    // The held read got v2; the next ones fail: the set held is kept.
    await until(() => server.requests.length >= 4);
    expect(await client.getSecret("API_KEY")).toBe("v2");
    server.mode = "ok";
    server.value = "v3";
    server.version++;
    await until(() => server.held === 1, 5000);
    expect(await client.getSecret("API_KEY")).toBe("v3");
  });

  it("reports a failing watch: to onError for each failed read, else one warning per outage", async () => {
    await start();
    const errors: string[] = [];
    const warnings: string[] = [];
    const reported = watching({ onError: (error) => errors.push(error.code) });
    const logged = watching({ logger: { warn: (message) => warnings.push(message) } });
    expect(await reported.getSecret("API_KEY")).toBe("v1");
    expect(await logged.getSecret("API_KEY")).toBe("v1");
    await until(() => server.held === 2);
    server.mode = "500";
    server.set("v2");
    // Each client's held read got v2; the reads after it fail, with a backoff of 1 s, then 2 s.
    await until(() => errors.length >= 2, 6000);
    expect(errors.slice(0, 2)).toEqual(["SERVER_ERROR", "SERVER_ERROR"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^Lockbox: watching the secrets failed \(SERVER_ERROR: .*\); retrying with backoff\.$/,
    );
    expect(warnings[0]).not.toContain(TOKEN);
  }, 10_000);

  it("waits Retry-After when the server holds as many reads as it may", async () => {
    await start();
    server.mode = "cap";
    const client = watching();
    await client.getSecret("API_KEY");
    const blocking = () => server.requests.filter((r) => r.ifNoneMatch !== undefined);
    await until(() => blocking().length >= 2, 5000);
    const [first, second] = blocking();
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(990);
  });

  it("keeps one connection for its blocking reads, change after change", async () => {
    await start();
    const client = watching();
    await client.getSecret("API_KEY");
    await until(() => server.held === 1);
    const opened = server.connections;
    for (const value of ["v2", "v3", "v4", "v5"]) {
      server.set(value);
      await until(() => server.held === 1 && server.requests.at(-1)?.ifNoneMatch === `"v${server.version}"`);
      expect(await client.getSecret("API_KEY")).toBe(value);
    }
    expect(server.connections).toBe(opened);
  });

  it("sends a read again on a new connection, without backing off, when the server reset the kept one", async () => {
    await start();
    const client = watching();
    await client.getSecret("API_KEY");
    await until(() => server.held === 1);
    server.resetKept = true;
    for (const value of ["v2", "v3"]) {
      const changedAt = performance.now();
      server.set(value);
      // Each next read goes out on the kept connection, is reset, and goes out once more at once.
      await until(
        () => server.held === 1 && server.requests.at(-1)?.ifNoneMatch === `"v${server.version}"`,
        900,
      );
      expect(performance.now() - changedAt).toBeLessThan(900);
      expect(await client.getSecret("API_KEY")).toBe(value);
    }
  });

  it("does not send a read again when its kept connection was reset while the answer arrived", async () => {
    await start();
    const client = watching();
    await client.getSecret("API_KEY");
    await until(() => server.held === 1);
    server.cutKept = true;
    const before = server.requests.length;
    server.set("v2");
    // The next read goes out on the kept connection and is cut mid-answer: a failure, retried by
    // the watch's backoff (1 s and more), not at once.
    await until(() => server.requests.length === before + 1);
    await sleep(400);
    expect(server.requests.length).toBe(before + 1);
  });

  it("ends a blocking read not answered within watchSeconds + timeoutMs, then reads again after a backoff", async () => {
    await start();
    server.mode = "silent";
    const seen: string[] = [];
    const client = watching({
      watchSeconds: 1,
      timeoutMs: 200,
      onChange: (secrets) => seen.push(secrets.API_KEY ?? ""),
    });
    expect(await client.getSecret("API_KEY")).toBe("v1");
    await until(() => server.held === 1);
    const heldAt = performance.now();
    const before = server.requests.length;
    await until(() => server.aborted === 1, 3000);
    // Its own deadline (1 s + 200 ms), not earlier; the loop ends it by itself.
    expect(performance.now() - heldAt).toBeGreaterThanOrEqual(1000);
    expect(server.requests.length).toBe(before);
    server.mode = "ok";
    // The failure's backoff (1 to 1.5 s), then a blocking read again.
    await until(() => server.requests.length === before + 1 && server.held === 1, 3000);
    server.set("v2");
    await until(() => seen.includes("v2"));
    expect(await client.getSecret("API_KEY")).toBe("v2");
  });

  it("close() aborts the held read and ends the loop", async () => {
    await start();
    const client = watching();
    await client.getSecret("API_KEY");
    await until(() => server.held === 1);
    client.close();
    await until(() => server.held === 0 && server.aborted === 1);
    const count = server.requests.length;
    await sleep(300);
    expect(server.requests.length).toBe(count);
  });

  it("refuses a watchSeconds outside 1 to 300", () => {
    for (const watchSeconds of [0, 301, 1.5, Number.NaN]) {
      expect(() =>
        createRuntimeClient({ url: "http://127.0.0.1:1", token: TOKEN, watch: true, watchSeconds }),
      ).toThrow(/watchSeconds must be a whole number of seconds from 1 to 300/);
    }
  });

  const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
  // Over a fetch the caller gave, a request in flight keeps the process alive, as any fetch does
  // (fetch cannot unref its socket): close() ends the watch, and the process exits.
  it.skipIf(!existsSync(dist)).each([
    ["over its own transport", "", ""],
    ["over a fetch the caller gave, once closed", ", fetch: globalThis.fetch", "client.close();"],
  ])("does not keep a Node process alive while a read is held (%s)", async (_case, option, close) => {
    await start();
    const script = `
      import { createRuntimeClient } from ${JSON.stringify(dist)};
      const client = createRuntimeClient({ url: process.argv[1], token: ${JSON.stringify(TOKEN)}, watch: true${option} });
      console.log(await client.getSecret("API_KEY"));
      // Give the watch time to send its blocking read before closing.
      await new Promise((resolve) => setTimeout(resolve, 300));
      ${close}
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, server.url], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += String(chunk);
    });
    const startedAt = performance.now();
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(out.trim()).toBe("v1");
    expect(code).toBe(0);
    // Exited on its own, long before its 90 s blocking read would have ended.
    expect(performance.now() - startedAt).toBeLessThan(5000);
  });

  /** Runs `script` (an ES module; `SDK` is the built entry point) in a Node process of its own. */
  const runScript = async (script: string, env: Record<string, string>) => {
    const child = spawn(
      process.execPath,
      ["--input-type=module", "-e", `const SDK = ${JSON.stringify(dist)};\n${script}`],
      { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += String(chunk);
    });
    child.stderr.on("data", (chunk) => {
      stderr += String(chunk);
    });
    const startedAt = performance.now();
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    return { code, stdout, stderr, ms: performance.now() - startedAt };
  };
  // Nothing else keeps these processes alive: no timer, no server, no await.
  const watchOnly =
    'const { watchSecrets } = await import(SDK); watchSecrets((all) => console.log("onChange", all.API_KEY));';

  it.skipIf(!existsSync(dist))(
    "keeps a process that only watches alive until onChange has the first set, then lets it exit",
    async () => {
      await start();
      const run = await runScript(watchOnly, { LOCKBOX_URL: server.url, LOCKBOX_RUNTIME_TOKEN: TOKEN });
      expect(run).toMatchObject({ code: 0, stdout: "onChange v1\n", stderr: "" });
      // The next read is held for 90 s: the process did not wait for it.
      expect(run.ms).toBeLessThan(5000);
    },
  );

  it.skipIf(!existsSync(dist))(
    "keeps a process that only watches alive until a failed first read is reported, then lets it exit",
    async () => {
      await start();
      server.mode = "500";
      const run = await runScript(watchOnly, { LOCKBOX_URL: server.url, LOCKBOX_RUNTIME_TOKEN: TOKEN });
      expect(run.code).toBe(0);
      expect(run.stdout).toBe("");
      expect(run.stderr).toMatch(/^Lockbox: watching the secrets failed \(SERVER_ERROR: /);
      // Exited before the backoff's next read (1 s and more).
      expect(server.requests).toHaveLength(1);
    },
  );

  it.skipIf(!existsSync(dist))(
    "gives up a first read not answered within timeoutMs, not timeoutMs plus the wait",
    async () => {
      await start();
      server.mode = "hang";
      const run = await runScript(
        `const { watchSecrets } = await import(SDK);
        watchSecrets(() => console.log("onChange"), { timeoutMs: 300, onError: (error) => console.log(error.code) });`,
        { LOCKBOX_URL: server.url, LOCKBOX_RUNTIME_TOKEN: TOKEN },
      );
      expect(run).toMatchObject({ code: 0, stdout: "UNREACHABLE\n" });
      expect(run.ms).toBeLessThan(5000);
    },
  );

  it.skipIf(!existsSync(dist))(
    "keeps a process that only watches a local file alive until onChange has its set",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "lockbox-sdk-watch-"));
      try {
        const file = join(dir, "secrets.json");
        writeFileSync(file, JSON.stringify({ Secrets: { API_KEY: { Value: "local" } } }));
        const run = await runScript(watchOnly, { LOCKBOX_SECRETS_FILE: file });
        expect(run).toMatchObject({ code: 0, stdout: "onChange local\n", stderr: "" });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe("WatchLoop", () => {
  it("backs off 1 s, 2 s, 4 s… after failures, plus up to half as jitter, and stops", async () => {
    const at: number[] = [];
    let loop: WatchLoop | undefined;
    const failing = {
      watchOnce: async (): Promise<WatchAnswer> => {
        at.push(performance.now());
        if (at.length === 3) loop?.stop();
        throw new Error("unreachable");
      },
    };
    const errors: unknown[] = [];
    loop = new WatchLoop(failing, { onChange: () => {}, onError: (e) => errors.push(e), random: () => 0.5 });
    await loop.done;
    expect(at).toHaveLength(3);
    const [a = 0, b = 0, c = 0] = at;
    expect(b - a).toBeGreaterThanOrEqual(1240);
    expect(b - a).toBeLessThan(1700);
    expect(c - b).toBeGreaterThanOrEqual(2490);
    expect(errors).toHaveLength(2);
  }, 10_000);

  it("pauses between reads that answer at once without a change", async () => {
    const at: number[] = [];
    let loop: WatchLoop | undefined;
    const immediate = {
      watchOnce: async (): Promise<WatchAnswer> => {
        at.push(performance.now());
        if (at.length === 2) loop?.stop();
        return { changed: false, retryAfterMs: undefined };
      },
    };
    loop = new WatchLoop(immediate, { onChange: () => {}, random: () => 0 });
    await loop.done;
    expect((at[1] ?? 0) - (at[0] ?? 0)).toBeGreaterThanOrEqual(990);
  });

  it.each([
    ["0 s", 0, 1000],
    ["more than a timer can wait (it would fire at once)", 99_999_999_999_000, 300_000],
    ["5 s", 5000, 5000],
  ])(
    "after a Retry-After of %s, pauses as it says, from 1 s to 300 s",
    async (_name, retryAfterMs, pauseMs) => {
      const pauses: number[] = [];
      const setTimer = ((callback: () => void, ms: number) => {
        pauses.push(ms);
        return setTimeout(callback, ms);
      }) as typeof setTimeout;
      let reads = 0;
      const capped = {
        watchOnce: async (): Promise<WatchAnswer> => {
          reads += 1;
          return { changed: false, retryAfterMs };
        },
      };
      const loop = new WatchLoop(capped, { onChange: () => {}, random: () => 0, setTimer });
      try {
        await vi.waitFor(() => expect(pauses).toEqual([pauseMs]));
        // Asleep, not spinning: one read so far.
        expect(reads).toBe(1);
      } finally {
        loop.stop();
        await loop.done;
      }
    },
  );
});
