/**
 * The server code the benchmarks drive, re-exported from its TypeScript sources. Benchmarks do not
 * import this file statically: they load it with tsx's `tsImport()` under `tsconfig.test.json`, whose
 * `paths` send `@lockbox/core` (imported by the server sources) to `packages/core/src`, as the tests
 * do, so a benchmark measures the code in the tree without a build (see `resolve.ts`).
 */
export { sql } from "kysely";
export type { Database } from "../packages/server/src/db/database.js";
export type { LockboxDb } from "../packages/server/src/db/lockbox-db.js";
export { listenForChanges, openPostgresDb } from "../packages/server/src/db/postgres.js";
export { openSqliteDb } from "../packages/server/src/db/sqlite.js";
export { Keyring, sealValue } from "../packages/server/src/keys/index.js";
export { Vault } from "../packages/server/src/keys/vault.js";
export { createLockbox, type Lockbox, type LockboxConfig } from "../packages/server/src/lockbox.js";
export { SecretReader } from "../packages/server/src/secrets/secret-views.js";
export { SecretsService } from "../packages/server/src/secrets/secrets-service.js";
export { startServer } from "../packages/server/src/server.js";
export { kyselyStores, type LockboxStores } from "../packages/server/src/stores.js";
