import type { AuditReader, AuditStore } from "./audit/audit-store.js";
import { KyselyAuditStore } from "./audit/kysely-audit-store.js";
import type { KyselyContext, LockboxDb } from "./db/lockbox-db.js";
import type { ChangeRecorder, OwnerLocks, Transactional } from "./db/ports.js";
import type { EnvironmentStore, OrgStore, SiteStore, UserStore } from "./directory/directory-store.js";
import { KyselyEnvironmentStore, KyselySiteStore } from "./directory/kysely-site-store.js";
import { KyselyOrgStore, KyselyUserStore } from "./directory/kysely-user-org-store.js";
import type { DataKeyStore } from "./keys/data-key-store.js";
import { KyselyDataKeyStore } from "./keys/kysely-data-key-store.js";
import type { DeletedSecretStore } from "./secrets/deleted-secret-store.js";
import { KyselyDeletedSecretStore } from "./secrets/kysely-deleted-secret-store.js";
import { KyselyRetentionStore, type RetentionStore } from "./secrets/kysely-retention-store.js";
import { KyselySecretStore } from "./secrets/kysely-secret-store.js";
import { KyselySecretVersionStore } from "./secrets/kysely-secret-version-store.js";
import type { SecretStore } from "./secrets/secret-store.js";
import type { SecretVersionStore } from "./secrets/secret-version-store.js";
import { KyselyTokenStore } from "./tokens/kysely-token-store.js";
import { KyselySigninLinkStore, type SigninLinkStore } from "./tokens/signin-link-store.js";
import type { TokenStore } from "./tokens/token-store.js";

/** Every area's store, over one connection (the pool, or one transaction's). */
export interface Stores {
  readonly users: UserStore;
  readonly orgs: OrgStore;
  readonly sites: SiteStore;
  readonly environments: EnvironmentStore;
  readonly secrets: SecretStore;
  readonly secretVersions: SecretVersionStore;
  readonly deletedSecrets: DeletedSecretStore;
  /** History pruning (secrets/retention.ts); its deletes run in transactions only. */
  readonly retention: RetentionStore;
  readonly tokens: TokenStore;
  /** One-time sign-in links of the web dashboard. */
  readonly signinLinks: SigninLinkStore;
  /** Outside a transaction the chain is read only: an append serializes on its transaction's lock. */
  readonly audit: AuditReader;
  readonly dataKeys: DataKeyStore;
}

/** One transaction over every area's tables: a secret write and its audit event commit together. */
export interface StoresTx extends Stores, OwnerLocks, ChangeRecorder {
  readonly audit: AuditStore;
}

/**
 * Every area's store and transactions across them. Each service is handed this object but types it
 * as its own narrow port (the stores it reads, and what its transactions use), so a service can be
 * tested against a small fake of just that.
 */
export interface LockboxStores extends Stores, Transactional<StoresTx> {}

/** The Kysely implementation of every area's port on one database handle. */
export function kyselyStores(db: LockboxDb): LockboxStores {
  return {
    ...storesOn(db.context),
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          ...storesOn(tx.context),
          lockOwner: (owner) => tx.lockOwner(owner),
          recordChange: (change) => tx.recordChange(change),
        }),
      ),
  };
}

function storesOn(context: KyselyContext): Stores & { readonly audit: AuditStore } {
  return {
    users: new KyselyUserStore(context),
    orgs: new KyselyOrgStore(context),
    sites: new KyselySiteStore(context),
    environments: new KyselyEnvironmentStore(context),
    secrets: new KyselySecretStore(context),
    secretVersions: new KyselySecretVersionStore(context),
    deletedSecrets: new KyselyDeletedSecretStore(context),
    retention: new KyselyRetentionStore(context),
    tokens: new KyselyTokenStore(context),
    signinLinks: new KyselySigninLinkStore(context),
    audit: new KyselyAuditStore(context),
    dataKeys: new KyselyDataKeyStore(context),
  };
}
