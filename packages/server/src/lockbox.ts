import { existsSync, rmSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { LockboxError } from "@lockbox/core";
import { AuditBatchWriter } from "./audit/audit-batch-writer.js";
import { AuditService } from "./audit/audit-service.js";
import { checkDatabase, defaultMasterKeyFile, isPostgresUrl, openDb } from "./config.js";
import type { LockboxDb } from "./db/lockbox-db.js";
import type { StoreFault } from "./db/store-faults.js";
import { Delivery } from "./delivery/delivery.js";
import { AccessPolicy } from "./directory/access-policy.js";
import { OrgService } from "./directory/org-service.js";
import { SiteService } from "./directory/site-service.js";
import { Keyring, loadMasterKeys } from "./keys/index.js";
import { checkDataKeysLoaded, checkMasterKey, Vault } from "./keys/vault.js";
import { OrgSnapshots } from "./secrets/org-snapshots.js";
import { SecretHistoryService } from "./secrets/secret-history-service.js";
import { SecretRestoreService } from "./secrets/secret-restore-service.js";
import { SecretsService } from "./secrets/secrets-service.js";
import { kyselyStores, type LockboxStores } from "./stores.js";
import { SigninLinkService } from "./tokens/signin-links.js";
import { TokenService } from "./tokens/token-service.js";
import { TokenUsageRecorder } from "./tokens/token-usage.js";

/** What {@link createLockbox} reads. */
export interface LockboxConfig {
  /** SQLite path or `postgres://` URL. */
  readonly db: string;
  /** Where `LOCKBOX_MASTER_KEY` and `LOCKBOX_PREVIOUS_MASTER_KEYS` come from. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** `--master-key-file`: the current master key, instead of `LOCKBOX_MASTER_KEY`. */
  readonly masterKeyFile?: string | undefined;
  /**
   * A server: claim a SQLite file for this process, and create embedded mode's master key beside it
   * on the first start. Offline tools (`admin:token`, `keys:rotate`) do neither.
   */
  readonly server?: boolean | undefined;
  /** Migrate the store to the latest schema (default true); false: refuse one not at it (read-only tools). */
  readonly migrate?: boolean | undefined;
  /**
   * `keys:rotate`: the new master key, which becomes the keyring's current key; the configured
   * keys become previous ones.
   */
  readonly newMasterKey?: Buffer | undefined;
  /** How often delivery audit events are written (default 250 ms). */
  readonly auditFlushIntervalMs?: number | undefined;
  /** Called when delivery audit events could not be written (they are retried). */
  readonly onAuditError?: ((error: unknown) => void) | undefined;
  /**
   * The clock token expiry is judged with, everywhere a token authenticates or is listed as still
   * active (the system clock by default; tests move their own).
   */
  readonly now?: (() => Date) | undefined;
}

/** Lockbox wired: the database, every area's store and service, and how to close them. */
export interface Lockbox {
  readonly db: LockboxDb;
  readonly stores: LockboxStores;
  readonly keyring: Keyring;
  readonly vault: Vault;
  readonly policy: AccessPolicy;
  readonly orgs: OrgService;
  readonly sites: SiteService;
  readonly secrets: SecretsService;
  readonly secretHistory: SecretHistoryService;
  readonly secretRestore: SecretRestoreService;
  readonly tokens: TokenService;
  /** One-time sign-in links of the web dashboard (`lockbox ui`). */
  readonly signinLinks: SigninLinkService;
  readonly audit: AuditService;
  /** Delivery audit events, written in batches. */
  readonly auditWriter: AuditBatchWriter;
  /** Runtime and build delivery with their caches, kept right by every committed change. */
  readonly delivery: Delivery;
  /** Last-use times of tokens, written in batches. */
  readonly tokenUsage: TokenUsageRecorder;
  /** The master key file this start created (embedded mode's first start), to be backed up. */
  readonly createdKeyFile: string | undefined;
  /** Where the current master key came from. */
  readonly keySource: "env" | "file" | "created";
  /** Problems that do not stop start-up (a key file readable by others). */
  readonly warnings: readonly string[];
  /** Whether the database answers (for `/readyz`). Never throws. */
  ping(): Promise<boolean>;
  /** Calls `listener` when a store fault (full disk, unreachable database) begins, once per episode. */
  onStoreFault(listener: (fault: StoreFault) => void): () => void;
  /** Writes what is pending and closes the database. */
  close(): Promise<void>;
}

/** The database and every area's store, without keys or services (what `admin:token` needs). */
export interface LockboxStorage {
  readonly db: LockboxDb;
  readonly stores: LockboxStores;
}

/**
 * Opens (and migrates) the database `db` names and puts every area's store on it, for offline
 * work that needs no master key. Close it with `db.close()`.
 */
export async function openLockboxStorage(db: string): Promise<LockboxStorage> {
  const handle = await openDb(db, { exclusive: false });
  return { db: handle, stores: kyselyStores(handle) };
}

/**
 * The composition root: reads the configuration, opens and migrates the database, checks the
 * master key against it, and wires every area's store and service. The server (`server:start`,
 * `npm start`), the tests and the CLI's offline commands all start here (or at {@link openLockboxStorage});
 * nothing else constructs a service. (`server.ts` adds what only a listening server reads: the HTTP
 * flags, `LOCKBOX_BOOTSTRAP_TOKEN`, `LOCKBOX_LOG_LEVEL`.)
 *
 * The master key: `LOCKBOX_MASTER_KEY` or `masterKeyFile`, else embedded mode's `master.key` beside
 * a SQLite database (created by a server's first start; offline tools only read an existing one).
 */
export async function createLockbox(config: LockboxConfig): Promise<Lockbox> {
  checkDatabase(config.db); // before a master key is created for it
  const server = config.server ?? false;
  const defaultKeyFile = defaultMasterKeyFile(config.db);
  const useDefaultFile =
    defaultKeyFile !== undefined &&
    (server || (config.env.LOCKBOX_MASTER_KEY === undefined && existsSync(defaultKeyFile)));
  if (
    useDefaultFile &&
    config.env.LOCKBOX_MASTER_KEY === undefined &&
    config.masterKeyFile === undefined &&
    !existsSync(defaultKeyFile) &&
    sqliteStoreHoldsData(config.db)
  ) {
    // A restored or copied database without its key: a new key would not open it.
    throw new LockboxError(
      "VALIDATION_FAILED",
      `The database '${resolve(config.db)}' exists but its master key does not: put the master key file ` +
        `it was set up with at '${defaultKeyFile}' (from your backup), or pass --master-key-file=PATH or ` +
        "set LOCKBOX_MASTER_KEY. A new key cannot open its secrets, so none was created.",
    );
  }
  const keys = loadMasterKeys({
    env: config.env,
    ...(config.masterKeyFile !== undefined ? { masterKeyFile: config.masterKeyFile } : {}),
    ...(useDefaultFile ? { defaultKeyFile } : {}),
    createIfMissing: useDefaultFile,
  });
  const keyring =
    config.newMasterKey === undefined
      ? Keyring.fromKeys(keys.current, keys.previous)
      : Keyring.fromKeys(config.newMasterKey, [keys.current, ...keys.previous]);
  let db: LockboxDb;
  try {
    db = await openDb(config.db, { exclusive: server, migrate: config.migrate ?? true });
  } catch (error) {
    if (keys.createdFile !== undefined) removeFirstStart(config.db, keys.createdFile);
    throw error;
  }
  try {
    const stores = kyselyStores(db);
    await checkMasterKey(stores.dataKeys, keyring);
    await checkDataKeysLoaded(stores.dataKeys, keyring);
    const vault = new Vault(keyring, stores.dataKeys);
    const policy = new AccessPolicy(stores);
    const now = config.now ?? (() => new Date());
    const deps = { stores, vault, policy, now };
    // Shared by the cold delivery path (which reads through them) and delivery (which keeps them current).
    const orgSnapshots = new OrgSnapshots();
    const secrets = new SecretsService(stores, vault, policy, orgSnapshots);
    const tokens = new TokenService(stores, policy, { now });
    const auditWriter = new AuditBatchWriter(stores, {
      ...(config.auditFlushIntervalMs !== undefined ? { flushIntervalMs: config.auditFlushIntervalMs } : {}),
      ...(config.onAuditError !== undefined ? { onError: config.onAuditError } : {}),
    });
    // On PostgreSQL other servers write too: a server caches only while their changes reach it
    // (the caller turns caching on once it listens for them).
    const delivery = new Delivery(
      { secrets, tokens, sites: stores.sites, audit: auditWriter },
      { cachingAtStart: !isPostgresUrl(config.db), versionKey: keyring.versionKey(), now, orgSnapshots },
    );
    const unsubscribe = db.onChange((change) => delivery.applyChange(change));
    const tokenUsage = new TokenUsageRecorder(stores.tokens);
    let closing: Promise<void> | undefined;
    return {
      db,
      stores,
      keyring,
      vault,
      policy,
      orgs: new OrgService(deps),
      sites: new SiteService(deps),
      secrets,
      secretHistory: new SecretHistoryService(stores, vault, policy),
      secretRestore: new SecretRestoreService(stores, vault, policy),
      tokens,
      signinLinks: new SigninLinkService(stores, { now }),
      audit: new AuditService(stores.audit, policy, stores.users),
      auditWriter,
      delivery,
      tokenUsage,
      createdKeyFile: keys.createdFile,
      keySource: keys.source,
      warnings: keys.warnings,
      ping: () => db.ping(),
      onStoreFault: (listener) => db.onFault(listener),
      close() {
        closing ??= (async () => {
          unsubscribe();
          await tokenUsage.close();
          await auditWriter.close();
          await db.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await db.close();
    if (keys.createdFile !== undefined) removeFirstStart(config.db, keys.createdFile);
    throw error;
  }
}

/** Whether the SQLite file `db` exists and is not empty (PostgreSQL: false, it has no key file). */
function sqliteStoreHoldsData(db: string): boolean {
  if (isPostgresUrl(db)) return false;
  try {
    return statSync(db).size > 0;
  } catch {
    return false;
  }
}

/**
 * Undoes a first start that failed (a taken port, a bad bootstrap token …): removes the master key
 * file it created and the SQLite store it created with it, which holds nothing else yet (a store
 * with data and no key is refused before any key is made). The next start is a first start again:
 * it creates both and says to back the key up, instead of leaving a key nobody was told about.
 */
export function removeFirstStart(db: string, createdKeyFile: string): void {
  rmSync(createdKeyFile, { force: true });
  if (isPostgresUrl(db)) return;
  for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(`${db}${suffix}`, { force: true });
}
