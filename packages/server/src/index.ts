/**
 * `@lockbox/server`: what the CLI needs from the server package — starting it (`server:start`,
 * which `npm start` runs too), and the offline admin commands that work on its store directly.
 */

export { checkDatabase, DEFAULT_DB, databaseOf, isPostgresUrl } from "./config.js";
export {
  adminTokenOffline,
  type RotateKeysOptions,
  type RotateKeysResult,
  rotateKeysOffline,
} from "./offline.js";
export { runServer, type ServerFlags } from "./run-server.js";
export { type RunningServer, type ServerOptions, startServer } from "./server.js";
export {
  type BackupOptions,
  type BackupResult,
  backupStore,
  type CopyStoreOptions,
  type CopyStoreResult,
  copyStore,
} from "./store-transfer.js";
export { ADMIN_EMAIL } from "./tokens/bootstrap.js";
