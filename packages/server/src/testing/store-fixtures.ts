import { randomUUID } from "node:crypto";
import type { OwnerRef } from "@lockbox/core";
import { afterAll, beforeAll } from "vitest";
import type { LockboxDb } from "../db/lockbox-db.js";
import type { OrgRow, SiteOwner, SiteRow, UserRow } from "../directory/records.js";
import type { WrappedDataKey } from "../keys/data-key-store.js";
import type { SecretRow } from "../secrets/secret-store.js";
import { kyselyStores, type LockboxStores } from "../stores.js";
import type { NewToken, TokenRow } from "../tokens/records.js";
import type { TestDatabase } from "./test-databases.js";

/**
 * Fixtures shared by the storage contract suites (`<area>/<area>-store.contract.ts`): rows made
 * through the ports themselves, with unique names so that tests sharing one database never meet.
 */

/** A stand-in wrapped data key: the stores keep its bytes and master key id, and never open it. */
export const wrappedKey = (label: string): WrappedDataKey => ({
  wrapped: Buffer.from(`wrapped:${label}`),
  masterKeyId: "mk-1",
});

/** `prefix` with a random suffix. */
export const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Row makers over one set of stores. */
export interface StoreFixtures {
  /** A user that is no platform admin (a random email unless given). */
  newUser(email?: string): Promise<UserRow>;
  newOrg(name?: string): Promise<OrgRow>;
  /** A site (with its `dev`, `test`, `live` environments). */
  newSite(owner: SiteOwner, name?: string): Promise<SiteRow>;
  /** A `runtime` secret with scopes `web,user` and the base value `base`. */
  newSecret(owner: OwnerRef, name: string, base?: string): Promise<SecretRow>;
  /** A token with a random hash; unset fields are null. */
  newToken(token: Pick<NewToken, "kind"> & Partial<NewToken>): Promise<TokenRow>;
}

/** The fixtures over `stores` (from `kyselyStores(db)`). */
export function storeFixtures(stores: LockboxStores): StoreFixtures {
  return {
    newUser: (email = `${unique("u")}@example.com`) =>
      stores.users.insertUser({ id: randomUUID(), email, isAdmin: false }),
    newOrg: (name = unique("org")) =>
      stores.orgs.insertOrg({ id: randomUUID(), name, dataKey: wrappedKey(name) }),
    newSite: (owner, name = unique("site")) =>
      stores.sites.insertSite({ id: randomUUID(), name, owner, dataKey: wrappedKey(name) }),
    async newSecret(owner, name, base = "base") {
      const secret = await stores.secrets.insertSecret({
        id: randomUUID(),
        owner,
        name,
        type: "runtime",
        scopes: ["web", "user"],
      });
      await stores.secrets.putValue(secret.id, null, Buffer.from(base));
      return secret;
    },
    newToken: (token) =>
      stores.tokens.insertToken({
        id: randomUUID(),
        hash: randomUUID(),
        userId: null,
        environmentId: null,
        createdBy: null,
        expiresAt: null,
        ...token,
      }),
  };
}

/** A contract suite's database: its handle, every store on it, and the fixtures. */
export interface ContractDatabase extends StoreFixtures {
  readonly db: LockboxDb;
  readonly stores: LockboxStores;
}

/**
 * Opens a fresh database from `createDatabase` before the enclosing `describe`'s tests and closes
 * and drops it after them. The returned object is usable inside tests (not while defining them).
 */
export function useContractDatabase(createDatabase: () => Promise<TestDatabase>): ContractDatabase {
  let database: TestDatabase | undefined;
  let db: LockboxDb | undefined;
  let stores: LockboxStores | undefined;
  let fixtures: StoreFixtures | undefined;
  beforeAll(async () => {
    database = await createDatabase();
    db = await database.open();
    stores = kyselyStores(db);
    fixtures = storeFixtures(stores);
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });
  const opened = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("The contract database is open only inside tests.");
    return value;
  };
  return {
    get db() {
      return opened(db);
    },
    get stores() {
      return opened(stores);
    },
    newUser: (email) => opened(fixtures).newUser(email),
    newOrg: (name) => opened(fixtures).newOrg(name),
    newSite: (owner, name) => opened(fixtures).newSite(owner, name),
    newSecret: (owner, name, base) => opened(fixtures).newSecret(owner, name, base),
    newToken: (token) => opened(fixtures).newToken(token),
  };
}
