/**
 * `@lockbox/server`: what the CLI needs from the server package — starting it, and the offline
 * admin commands that work on its store directly.
 */

export { Keyring, loadMasterKeys, readMasterKeyFile } from "./crypto/index.js";
export { runServer, type ServerFlags } from "./run-server.js";
export {
  DEFAULT_DB,
  isPostgresUrl,
  openStore,
  type RunningServer,
  type ServerOptions,
  startServer,
} from "./server.js";
export { ADMIN_EMAIL, mintAdminToken } from "./services/bootstrap.js";
export { SYSTEM_CONTEXT } from "./services/context.js";
export { rotateMasterKey } from "./services/key-rotation.js";
export { checkMasterKey } from "./services/vault.js";
