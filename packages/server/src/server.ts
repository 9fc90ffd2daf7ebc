import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { LockboxError } from "@lockbox/core";
import type { FastifyInstance } from "fastify";
import { AuditBatchWriter } from "./audit/audit-batch-writer.js";
import type { KyselyStore } from "./db/kysely-store.js";
import { type ChangeListener, listenForChanges, openPostgresStore } from "./db/postgres.js";
import { openSqliteStore } from "./db/sqlite.js";
import { Delivery } from "./delivery/delivery.js";
import { SYSTEM_CONTEXT } from "./directory/caller.js";
import { DirectoryService } from "./directory/directory-service.js";
import { buildApp } from "./http/app.js";
import { DEFAULT_RATE_LIMIT, parseRateLimit } from "./http/rate-limiter.js";
import { Keyring, loadMasterKeys } from "./keys/index.js";
import { checkMasterKey, Vault } from "./keys/vault.js";
import { SecretsService } from "./secrets/secrets-service.js";
import { type BootstrapResult, bootstrapAdmin } from "./tokens/bootstrap.js";
import { TokenService } from "./tokens/token-service.js";
import { TokenUsageRecorder } from "./tokens/token-usage.js";

/** The default embedded database (SPEC §6). */
export const DEFAULT_DB = "./data/lockbox.db";

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
  /** Where `LOCKBOX_MASTER_KEY`, `LOCKBOX_PREVIOUS_MASTER_KEYS` and `LOCKBOX_BOOTSTRAP_TOKEN` come from. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Request logs (JSON lines on stderr); off in tests. */
  readonly log?: boolean | undefined;
}

/** A started server: its address, what start-up did, and how to stop it. */
export interface RunningServer {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly store: KyselyStore;
  readonly bootstrap: BootstrapResult;
  /** The master key file this start created (embedded mode's first start), to be backed up. */
  readonly createdKeyFile: string | undefined;
  readonly warnings: readonly string[];
  /** Stops accepting connections, finishes in-flight requests, flushes and closes the store. */
  close(): Promise<void>;
}

/** Whether `db` names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/** Opens the store `db` names: SQLite claimed for this process (servers), or PostgreSQL. */
export function openStore(db: string, options: { exclusive: boolean }): Promise<KyselyStore> {
  return isPostgresUrl(db)
    ? openPostgresStore({ url: db })
    : openSqliteStore({ path: db, exclusive: options.exclusive });
}

/**
 * The composition root: reads the configuration, opens and migrates the store, checks the master
 * key against it, wires services and the HTTP app, creates the platform admin on an empty store,
 * and listens. Nothing else in the server reads configuration.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const postgres = isPostgresUrl(options.db);
  const keys = loadMasterKeys({
    env: options.env,
    ...(options.masterKeyFile !== undefined ? { masterKeyFile: options.masterKeyFile } : {}),
    ...(postgres ? {} : { defaultKeyFile: join(dirname(resolve(options.db)), "master.key") }),
    createIfMissing: !postgres,
  });
  const rateLimit = parseRateLimit(options.rateLimit ?? DEFAULT_RATE_LIMIT);
  const https = tlsOptions(options);

  const store = await openStore(options.db, { exclusive: true });
  // What start-up has opened so far, closed again if a later step fails.
  let listener: ChangeListener | undefined;
  let app: FastifyInstance | undefined;
  let tokenUsage: TokenUsageRecorder | undefined;
  let audit: AuditBatchWriter | undefined;
  // In this order: stop taking requests, drop the change listener, write what is pending, close the store.
  const closeOpened = async () => {
    await app?.close();
    await listener?.close();
    await tokenUsage?.close();
    await audit?.close();
    await store.close();
  };
  try {
    const keyring = Keyring.fromKeys(keys.current, keys.previous);
    await checkMasterKey(store, keyring);
    const vault = new Vault(keyring, store);
    const directory = new DirectoryService(store, vault);
    const secrets = new SecretsService(store, vault);
    const tokens = new TokenService(store);
    audit = new AuditBatchWriter(store, {
      onError: () => process.emitWarning("Lockbox: delivery audit events could not be written; retrying."),
    });
    // On PostgreSQL other servers write too: cache only while their changes can reach us.
    const delivery = new Delivery(secrets, tokens, audit, { cachingAtStart: !postgres });
    tokenUsage = new TokenUsageRecorder(store);
    listener = postgres
      ? listenForChanges(options.db, {
          onChange: (change) => delivery.applyChange(change),
          onLost: () => delivery.setCaching(false),
          onListening: () => delivery.setCaching(true),
        })
      : undefined;
    app = await buildApp({
      store,
      directory,
      secrets,
      tokens,
      delivery,
      tokenUsage,
      rateLimit,
      trustProxy: options.trustProxy ?? false,
      https,
      logger: options.log
        ? { level: options.env.LOCKBOX_LOG_LEVEL ?? "info", stream: process.stderr }
        : false,
    });
    const address = await app.listen({ host: options.host, port: options.port });
    // Only a start that serves creates the admin: its token is printed once, by this start.
    const bootstrap = await bootstrapAdmin(SYSTEM_CONTEXT, store, {
      token: options.env.LOCKBOX_BOOTSTRAP_TOKEN || undefined,
    });
    const warnings = [...keys.warnings];
    if (!bootstrap.created && bootstrap.ignoredToken) {
      warnings.push("LOCKBOX_BOOTSTRAP_TOKEN is ignored: this store already has a platform admin.");
    }
    let closing: Promise<void> | undefined;
    return {
      url: address.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]"),
      app,
      store,
      bootstrap,
      createdKeyFile: keys.createdFile,
      warnings,
      close: () => {
        closing ??= closeOpened();
        return closing;
      },
    };
  } catch (error) {
    await closeOpened();
    throw error;
  }
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
