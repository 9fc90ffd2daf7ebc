/**
 * The child process of `runtime.ts`: serves one server under load while the load generator (wrk,
 * spawned by the parent) runs in another process, so load generation does not take the measured
 * server's CPU. `runtime.ts --baseline-tree=DIR` forks DIR's copy of this file, so keep the protocol.
 * Not meant to be run by hand: `runtime.ts` forks it with `node --import tsx` and an IPC channel.
 *
 * Protocol (IPC messages, see {@link ParentMessage} and {@link ChildMessage}):
 *   parent → `start` (which server) → child answers `ready` with its URL (and, for Lockbox on an empty
 *   store, the bootstrap admin token); parent → `cpu` → child answers `cpu` with its CPU time so far
 *   (all threads) and a monotonic clock; parent → `profile-start` → child starts a CPU profile of itself and answers
 *   `profiling`; parent → `profile-stop` with a path → child writes the profile there and answers
 *   `profiled`; parent → `close` → child stops its server and exits. The holding server (the floor of
 *   propagation.ts) also takes `change` (a new set: every held read is answered with it at once) and
 *   `held` (answered by `held` with the number of reads it holds).
 * The child also exits when the parent goes away (IPC disconnect), so a crashed parent leaves no server.
 */
import { createServer, type OutgoingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { tsImport } from "tsx/esm/api";
import { keepTickShape } from "../packages/server/src/http/tick-shape.js";
import { startCpuProfile } from "./cpu-profile.js";

// Before any server starts, as the CLI's bin does for `npm start`, in every server process alike.
keepTickShape();

type Lockbox = typeof import("./lockbox-sources.js");

/** What the parent sends. */
export type ParentMessage =
  | {
      readonly type: "start";
      readonly server: "lockbox";
      /** SQLite path or `postgres://` URL. */
      readonly db: string;
      readonly masterKey: string;
      /** `--max-connections` (0: no cap); the server's default when absent. */
      readonly maxConnections?: number;
      /** `--max-connections-per-address` (0: no cap); the server's default when absent. */
      readonly maxConnectionsPerAddress?: number;
      /** `--max-held-requests`; the server's default when absent. */
      readonly maxHeldRequests?: number;
    }
  | {
      readonly type: "start";
      readonly server: "plain";
      /** The body bytes, base64. */
      readonly body: string;
      readonly headers: Readonly<Record<string, string>>;
    }
  | {
      readonly type: "start";
      /**
       * The floor of propagation.ts: holds every blocking read (`?wait=` with the current ETag in
       * If-None-Match) until `change`, answers anything else at once with the set.
       */
      readonly server: "holding";
      /** The set (JSON with a `Version`), base64. */
      readonly body: string;
    }
  /** To the holding server: the set is now `body` (base64); answer every held read with it. */
  | { readonly type: "change"; readonly body: string }
  /** To the holding server: how many reads it holds (answered by `held`). */
  | { readonly type: "held" }
  | { readonly type: "cpu" }
  /** Start a CPU profile of this child (answered by `profiling`). */
  | { readonly type: "profile-start" }
  /** Stop it and write it to `path` (answered by `profiled`). */
  | { readonly type: "profile-stop"; readonly path: string }
  | { readonly type: "close" };

/** The message that starts a server. */
export type StartMessage = Extract<ParentMessage, { type: "start" }>;

/** What the child answers. */
export type ChildMessage =
  | { readonly type: "ready"; readonly url: string; readonly adminToken: string | undefined }
  | { readonly type: "cpu"; readonly cpuMicros: number; readonly wallMicros: number }
  | { readonly type: "held"; readonly count: number }
  | { readonly type: "profiling" }
  | { readonly type: "profiled" }
  | { readonly type: "failed"; readonly message: string };

let close: (() => Promise<void>) | undefined;
let profile: Awaited<ReturnType<typeof startCpuProfile>> | undefined;

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function startLockbox(start: Extract<StartMessage, { server: "lockbox" }>): Promise<void> {
  // tsconfig.test.json sends `@lockbox/core` to its sources, as in resolve.ts.
  const lockbox = (await tsImport("./lockbox-sources.ts", {
    parentURL: import.meta.url,
    tsconfig: fileURLToPath(new URL("../tsconfig.test.json", import.meta.url)),
  })) as Lockbox;
  const server = await lockbox.startServer({
    db: start.db,
    host: "127.0.0.1",
    port: 0,
    env: { LOCKBOX_MASTER_KEY: start.masterKey },
    rateLimit: "0",
    log: false,
    ...(start.maxConnections !== undefined ? { maxConnections: start.maxConnections } : {}),
    ...(start.maxConnectionsPerAddress !== undefined
      ? { maxConnectionsPerAddress: start.maxConnectionsPerAddress }
      : {}),
    ...(start.maxHeldRequests !== undefined ? { maxHeldRequests: start.maxHeldRequests } : {}),
  });
  close = () => server.close();
  send({
    type: "ready",
    url: server.url,
    adminToken: (server.bootstrap.created && server.bootstrap.token) || undefined,
  });
}

/** The baseline: the same bytes and headers from memory, nothing else. */
async function startPlain(body: Buffer, headers: Readonly<Record<string, string>>): Promise<void> {
  const head: OutgoingHttpHeaders = { ...headers, "content-length": body.length };
  const server: Server = createServer((_request, response) => {
    response.writeHead(200, head);
    response.end(body);
  });
  await listenOnLoopback(server);
}

/** Listens on a free loopback port, makes `close` stop `server`, and tells the parent its URL. */
async function listenOnLoopback(server: Server): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  const { port } = server.address() as AddressInfo;
  send({ type: "ready", url: `http://127.0.0.1:${port}`, adminToken: undefined });
}

/** The holding server's own: see {@link ParentMessage}. */
let holding: { change(body: Buffer): void; readonly held: number } | undefined;

/** The floor of propagation: blocking reads answered the moment the set changes, by nothing else. */
async function startHolding(first: Buffer): Promise<void> {
  let body = first;
  let etag = etagOf(first);
  const held = new Set<ServerResponse>();
  const answer = (response: ServerResponse) => {
    response.writeHead(200, {
      etag,
      "cache-control": "no-cache",
      "content-type": "application/json; charset=utf-8",
      "content-length": body.length,
    });
    response.end(body);
  };
  const server: Server = createServer((request, response) => {
    if (request.url?.includes("wait=") && request.headers["if-none-match"] === etag) {
      held.add(response);
      response.once("close", () => held.delete(response));
    } else answer(response);
  });
  holding = {
    change(next) {
      body = next;
      etag = etagOf(next);
      for (const response of held) answer(response);
      held.clear();
    },
    get held() {
      return held.size;
    },
  };
  await listenOnLoopback(server);
}

function etagOf(body: Buffer): string {
  return `"${(JSON.parse(body.toString()) as { Version: string }).Version}"`;
}

async function stop(code: number): Promise<never> {
  try {
    await close?.();
  } finally {
    process.exit(code);
  }
}

process.on("message", (message: ParentMessage) => {
  if (message.type === "start") {
    const started =
      message.server === "lockbox"
        ? startLockbox(message)
        : message.server === "holding"
          ? startHolding(Buffer.from(message.body, "base64"))
          : startPlain(Buffer.from(message.body, "base64"), message.headers);
    started.catch((error: unknown) => {
      send({ type: "failed", message: error instanceof Error ? error.message : String(error) });
      void stop(1);
    });
  } else if (message.type === "change") {
    holding?.change(Buffer.from(message.body, "base64"));
  } else if (message.type === "held") {
    send({ type: "held", count: holding?.held ?? 0 });
  } else if (message.type === "cpu") {
    const { user, system } = process.cpuUsage();
    send({ type: "cpu", cpuMicros: user + system, wallMicros: Number(process.hrtime.bigint() / 1000n) });
  } else if (message.type === "profile-start") {
    void startCpuProfile().then((started) => {
      profile = started;
      send({ type: "profiling" });
    });
  } else if (message.type === "profile-stop") {
    // Answered even without a profile running, so that the parent never waits out its timeout.
    void (profile?.stop(message.path) ?? Promise.resolve()).then(() => send({ type: "profiled" }));
    profile = undefined;
  } else {
    void stop(0);
  }
});
process.on("disconnect", () => void stop(0));
