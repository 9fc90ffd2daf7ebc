import { randomBytes, randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SYSTEM_CONTEXT } from "../audit/request-context.js";
import type { SiteRow } from "../directory/records.js";
import { createLockbox, type Lockbox } from "../lockbox.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { createTestLockbox, randomMasterKey, testCaller } from "../testing/test-lockbox.js";
import { Keyring } from "./index.js";
import { rotateMasterKey } from "./key-rotation.js";
import { checkMasterKey } from "./vault.js";

describe.each(await contractDatabases())("master key rotation ($name)", ({ create }) => {
  let database: TestDatabase;
  const open: Lockbox[] = [];
  beforeEach(async () => {
    database = await create();
  });
  afterEach(async () => {
    for (const lockbox of open.splice(0)) await lockbox.close();
    await database.drop();
  });

  /** Lockbox on the test database, closed after the test if the test did not. */
  const track = async (opening: Promise<Lockbox>): Promise<Lockbox> => {
    const lockbox = await opening;
    open.push(lockbox);
    return lockbox;
  };
  const close = async (lockbox: Lockbox) => {
    open.splice(open.indexOf(lockbox), 1);
    await lockbox.close();
  };

  it("re-wraps every data key so values open with the new key alone, and start-up then refuses the old one", async () => {
    const oldKey = randomMasterKey();
    const newKey = randomMasterKey();
    const keyOf = (base64: string) => Buffer.from(base64, "base64");

    // First start under the old key: records its check value, then 25 sites with a value each.
    const before = await track(createTestLockbox(database, { masterKey: oldKey }));
    const admin = await testCaller(before, { admin: true });
    const sites: SiteRow[] = [];
    for (let i = 0; i < 25; i++) {
      const id = randomUUID();
      const owner = await before.stores.users.insertUser({
        id: randomUUID(),
        email: `u${i}@example.com`,
        isAdmin: false,
      });
      const site = await before.stores.sites.insertSite({
        id,
        name: `site-${i}`,
        owner: { userId: owner.id },
        dataKey: await before.vault.newDataKey({ kind: "site", id }),
      });
      await before.secrets.setSiteSecret(admin, site.id, { name: "V", value: `value-${i}`, scopes: ["web"] });
      sites.push(site);
    }
    await close(before);

    // During the rotation the keyring holds the new key and the old one as previous.
    const during = await track(
      createLockbox({
        db: database.location,
        env: { LOCKBOX_MASTER_KEY: newKey, LOCKBOX_PREVIOUS_MASTER_KEYS: oldKey },
      }),
    );
    await checkMasterKey(during.stores.dataKeys, during.keyring);
    const progress: Array<[number, number]> = [];
    const result = await rotateMasterKey(SYSTEM_CONTEXT, during.stores, during.keyring, {
      batchSize: 10,
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(result.rewrapped).toBe(25);
    expect(progress.at(-1)).toEqual([25, 25]);
    await close(during);

    // After it, the new key alone opens every value (a new lockbox: no data key is cached).
    const after = await track(createTestLockbox(database, { masterKey: newKey }));
    await checkMasterKey(after.stores.dataKeys, Keyring.fromKeys(keyOf(newKey)));
    for (const [i, site] of sites.entries()) {
      expect(await after.secrets.resolveForDelivery(site.id, "dev", "web")).toMatchObject([
        { name: "V", value: `value-${i}` },
      ]);
    }
    await expect(checkMasterKey(after.stores.dataKeys, Keyring.fromKeys(keyOf(oldKey)))).rejects.toThrow(
      /master key does not match/i,
    );
    await expect(checkMasterKey(after.stores.dataKeys, Keyring.fromKeys(randomBytes(32)))).rejects.toThrow(
      /master key does not match/i,
    );
    expect((await after.stores.audit.listAudit({ limit: 1 }))[0]).toMatchObject({
      action: "keys.rotate",
      actor: "system",
    });
    await close(after);
    await expect(createTestLockbox(database, { masterKey: oldKey })).rejects.toThrow(
      /master key does not match/i,
    );
  });
});
