import { resolve as resolvePath } from "node:path";
import { defaultMasterKeyFile, isPostgresUrl } from "./config.js";
import { readMasterKeyFile } from "./keys/index.js";
import { rotateMasterKey } from "./keys/key-rotation.js";
import { createLockbox, openLockboxStorage } from "./lockbox.js";
import { mintAdminToken } from "./tokens/bootstrap.js";

/**
 * The commands that work on the server's store directly, on the server's machine, with no server
 * running (SQLite) or beside running servers (PostgreSQL).
 */

/** `admin:token`: a new token for the platform admin, when its token is lost. Needs no master key. */
export async function adminTokenOffline(db: string): Promise<string> {
  const { db: handle, stores } = await openLockboxStorage(db);
  try {
    return await mintAdminToken({ actor: "cli:admin:token" }, stores);
  } finally {
    await handle.close();
  }
}

/** What `keys:rotate` is given. */
export interface RotateKeysOptions {
  readonly db: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The current master key's file, instead of `LOCKBOX_MASTER_KEY` or embedded mode's `master.key`. */
  readonly masterKeyFile?: string | undefined;
  readonly newMasterKeyFile: string;
  readonly batchSize?: number | undefined;
  readonly onProgress?: ((done: number, total: number) => void) | undefined;
}

/** What `keys:rotate` did, and what the operator does next. */
export interface RotateKeysResult {
  readonly rewrapped: number;
  readonly newKeyId: string;
  readonly warnings: readonly string[];
  /** The next step, for where the current key came from (never a key). */
  readonly next: string;
}

/** `keys:rotate`: re-wraps every data key under the new master key while servers keep serving. */
export async function rotateKeysOffline(options: RotateKeysOptions): Promise<RotateKeysResult> {
  const next = readMasterKeyFile(options.newMasterKeyFile, "--new-master-key-file");
  const lockbox = await createLockbox({
    db: options.db,
    env: options.env,
    masterKeyFile: options.masterKeyFile,
    newMasterKey: next.key,
  });
  try {
    const { rewrapped } = await rotateMasterKey(
      { actor: "cli:keys:rotate" },
      lockbox.stores,
      lockbox.keyring,
      {
        ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
        ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
      },
    );
    return {
      rewrapped,
      newKeyId: lockbox.keyring.currentKeyId,
      warnings: [...lockbox.warnings, ...next.warnings],
      next: nextStep(options, lockbox.keySource),
    };
  } finally {
    await lockbox.close();
  }
}

/**
 * The last step of the rotation (see keys/README.md): restart with the new key alone. Names a key
 * file only when the current key came from one (never embedded mode's `master.key` when the key came
 * from LOCKBOX_MASTER_KEY or --master-key-file).
 */
function nextStep(options: RotateKeysOptions, source: "env" | "file" | "created"): string {
  const newFile = `'${options.newMasterKeyFile}'`;
  const alone =
    "without LOCKBOX_PREVIOUS_MASTER_KEYS (start-up checks that every data key is wrapped by a loaded key)";
  if (isPostgresUrl(options.db)) {
    return `Next: restart every server with the new key alone (LOCKBOX_MASTER_KEY, or --master-key-file=${newFile}), ${alone}. A server still without the new key answers 503 to new orgs and sites until then.`;
  }
  if (source === "env") {
    return `Next: restart the server with LOCKBOX_MASTER_KEY set to the new key (the content of ${newFile}), ${alone}.`;
  }
  if (options.masterKeyFile !== undefined) {
    return `Next: restart the server with --master-key-file=${newFile} (or copy the new key over '${options.masterKeyFile}'), ${alone}.`;
  }
  const file = defaultMasterKeyFile(options.db);
  if (file !== undefined && resolvePath(file) === resolvePath(options.newMasterKeyFile)) {
    return `Next: restart the server (its key file '${file}' holds the new key), ${alone}.`;
  }
  return `Next: replace '${file}' with the new key file ${newFile} and restart the server, ${alone}. Keep the old key until it has started.`;
}
