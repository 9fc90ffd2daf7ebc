import { readFileSync } from "node:fs";
import { LockboxError } from "@lockbox/core";
import type { FastifyInstance } from "fastify";
import { SYSTEM_CONTEXT } from "./audit/request-context.js";
import {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  DEFAULT_MAX_HELD_REQUESTS,
  DEFAULT_RATE_LIMIT,
  DEFAULT_REQUEST_TIMEOUT_SECONDS,
  isPostgresUrl,
  parseMaxConnections,
  parseMaxConnectionsPerAddress,
  parseMaxHeldRequests,
  parseRateLimit,
  parseRequestTimeout,
} from "./config.js";
import { type ChangeListener, listenForChanges } from "./db/postgres.js";
import { buildApp } from "./http/app.js";
import { keepTickShape } from "./http/tick-shape.js";
import { createLockbox, type Lockbox, removeFirstStart } from "./lockbox.js";
import {
  DEFAULT_RETENTION,
  type PruneOptions,
  parseRetention,
  RetentionPruner,
} from "./secrets/retention.js";
import { type BootstrapResult, bootstrapAdmin } from "./tokens/bootstrap.js";

/** `server:start` options (flags and environment, already merged by the caller). */
export interface ServerOptions {
  /** SQLite path or `postgres://` URL. */
  readonly db: string;
  readonly host: string;
  readonly port: number;
  readonly masterKeyFile?: string | undefined;
  /** `RPS/BURST`, or `0` to disable (default `10/20`). */
  readonly rateLimit?: string | undefined;
  readonly trustProxy?: boolean | undefined;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  /** Seconds a client has to send a whole request, `0` for none (default 30). */
  readonly requestTimeout?: string | number | undefined;
  /** Connections open at once at most, `0` for no cap (default 1000). */
  readonly maxConnections?: string | number | undefined;
  /** Connections open at once from one client address, `0` for no cap (default 256; none with `trustProxy`). */
  readonly maxConnectionsPerAddress?: string | number | undefined;
  /** Blocking reads (`GET /site/secrets?wait=`) held at once (default 10000). */
  readonly maxHeldRequests?: string | number | undefined;
  /** Versions kept per value slot (default 100). */
  readonly retainVersions?: string | number | undefined;
  /** Days a deleted secret can be restored (default 30). */
  readonly retainDeletedDays?: string | number | undefined;
  /** History pruning's timing and clock, for tests (the policy comes from the two options above). */
  readonly pruning?: Omit<PruneOptions, "policy"> | undefined;
  /** Where `LOCKBOX_MASTER_KEY`, `LOCKBOX_PREVIOUS_MASTER_KEYS` and `LOCKBOX_BOOTSTRAP_TOKEN` come from. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Request logs (JSON lines on stderr); off in tests. */
  readonly log?: boolean | undefined;
}

/** A started server: its address, what start-up did, and how to stop it. */
export interface RunningServer {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly lockbox: Lockbox;
  readonly bootstrap: BootstrapResult;
  /** The background pruning of history (issue 9's retention). */
  readonly pruner: RetentionPruner;
  /** The master key file this start created (embedded mode's first start), to be backed up. */
  readonly createdKeyFile: string | undefined;
  readonly warnings: readonly string[];
  /** Stops accepting connections, finishes in-flight requests, flushes and closes the store. */
  close(): Promise<void>;
}

/**
 * Starts a server: wires Lockbox ({@link createLockbox}), listens for other servers' changes on
 * PostgreSQL, builds the HTTP app, listens, and creates the platform admin on an empty store.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  keepTickShape(); // done by the CLI's bin already; here for a server started another way
  const rateLimit = parseRateLimit(options.rateLimit ?? DEFAULT_RATE_LIMIT);
  const limits = {
    requestTimeoutMs: parseRequestTimeout(options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_SECONDS),
    maxConnections: parseMaxConnections(options.maxConnections ?? DEFAULT_MAX_CONNECTIONS),
    // Behind a proxy every connection comes from the proxy's address: no cap unless one is asked for.
    maxConnectionsPerAddress: parseMaxConnectionsPerAddress(
      options.maxConnectionsPerAddress ?? (options.trustProxy ? 0 : DEFAULT_MAX_CONNECTIONS_PER_ADDRESS),
    ),
  };
  const maxHeldRequests = parseMaxHeldRequests(options.maxHeldRequests ?? DEFAULT_MAX_HELD_REQUESTS);
  const retention = {
    versions: parseRetention("--retain-versions", options.retainVersions ?? DEFAULT_RETENTION.versions),
    deletedDays: parseRetention(
      "--retain-deleted-days",
      options.retainDeletedDays ?? DEFAULT_RETENTION.deletedDays,
    ),
  };
  const https = tlsOptions(options);
  const postgres = isPostgresUrl(options.db);
  const lockbox = await createLockbox({
    db: options.db,
    env: options.env,
    masterKeyFile: options.masterKeyFile,
    server: true,
    onAuditError: () => process.emitWarning("Lockbox: delivery audit events could not be written; retrying."),
  });
  // What start-up has opened so far, closed again if a later step fails.
  let listener: ChangeListener | undefined;
  let app: FastifyInstance | undefined;
  const pruner = new RetentionPruner(lockbox.stores, {
    onError: () => process.emitWarning("Lockbox: pruning history failed; the next run tries again."),
    ...options.pruning,
    policy: retention,
  });
  // In this order: stop taking requests and pruning, drop the change listener, write what is pending, close the store.
  const closeOpened = async () => {
    await app?.close();
    await pruner.close();
    await listener?.close();
    await lockbox.close();
  };
  try {
    const { delivery } = lockbox;
    listener = postgres
      ? listenForChanges(options.db, {
          onChange: (change, sentAtMs) => delivery.applyChange(change, sentAtMs),
          onLost: () => delivery.setCaching(false),
          onListening: () => delivery.setCaching(true),
        })
      : undefined;
    app = await buildApp(lockbox, {
      rateLimit,
      trustProxy: options.trustProxy ?? false,
      https,
      limits,
      maxHeldRequests,
      logger: options.log
        ? { level: options.env.LOCKBOX_LOG_LEVEL ?? "info", stream: process.stderr }
        : false,
    });
    const address = await app.listen({ host: options.host, port: options.port }).catch((error: unknown) => {
      throw listenError(error, options.host, options.port);
    });
    // Only a start that serves creates the admin: its token is printed once, by this start.
    const bootstrap = await bootstrapAdmin(SYSTEM_CONTEXT, lockbox.stores, {
      token: options.env.LOCKBOX_BOOTSTRAP_TOKEN || undefined,
    });
    pruner.start();
    const warnings = [...lockbox.warnings];
    if (!bootstrap.created && bootstrap.ignoredToken) {
      warnings.push("LOCKBOX_BOOTSTRAP_TOKEN is ignored: this store already has a platform admin.");
    }
    let closing: Promise<void> | undefined;
    return {
      url: address.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]"),
      app,
      lockbox,
      bootstrap,
      pruner,
      createdKeyFile: lockbox.createdKeyFile,
      warnings,
      close: () => {
        closing ??= closeOpened();
        return closing;
      },
    };
  } catch (error) {
    await closeOpened();
    if (lockbox.createdKeyFile !== undefined) removeFirstStart(options.db, lockbox.createdKeyFile);
    throw error;
  }
}

/** A failure to listen, said with its fix (Node's own: `listen EADDRINUSE: address already in use …`). */
function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EADDRINUSE") {
    return new LockboxError(
      "VALIDATION_FAILED",
      `Another process is listening on ${host}:${port}: stop it, or choose another port with --port.`,
    );
  }
  if (code === "EACCES") {
    return new LockboxError(
      "VALIDATION_FAILED",
      `Listening on ${host}:${port} is not permitted to this user: choose a port above 1023 with --port.`,
    );
  }
  if (code === "EADDRNOTAVAIL") {
    return new LockboxError(
      "VALIDATION_FAILED",
      `${host} is not an address of this machine: choose one with --host (127.0.0.1, or 0.0.0.0 for every address).`,
    );
  }
  return error;
}

function tlsOptions(options: ServerOptions): { cert: Buffer; key: Buffer } | undefined {
  if (options.tlsCert === undefined && options.tlsKey === undefined) return undefined;
  if (options.tlsCert === undefined || options.tlsKey === undefined) {
    throw new LockboxError("VALIDATION_FAILED", "HTTPS needs both --tls-cert and --tls-key.");
  }
  const read = (path: string, flag: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new LockboxError(
        "VALIDATION_FAILED",
        `Cannot read ${flag} '${path}': ${(error as Error).message}`,
      );
    }
  };
  return { cert: read(options.tlsCert, "--tls-cert"), key: read(options.tlsKey, "--tls-key") };
}
