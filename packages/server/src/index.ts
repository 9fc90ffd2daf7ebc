/**
 * `@lockbox/server`: what the CLI needs from the server package — starting it, and the offline
 * admin commands that work on its store directly.
 */

export { SYSTEM_CONTEXT } from "./directory/caller.js";
export { Keyring, loadMasterKeys, readMasterKeyFile } from "./keys/index.js";
export { rotateMasterKey } from "./keys/key-rotation.js";
export { checkMasterKey } from "./keys/vault.js";
export { runServer, type ServerFlags } from "./run-server.js";
export {
  DEFAULT_DB,
  isPostgresUrl,
  openStore,
  type RunningServer,
  type ServerOptions,
  startServer,
} from "./server.js";
export { ADMIN_EMAIL, mintAdminToken } from "./tokens/bootstrap.js";
