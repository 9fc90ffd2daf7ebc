import { randomBytes, randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KyselyStore } from "../db/kysely-store.js";
import { SYSTEM_CONTEXT } from "../directory/caller.js";
import { SecretsService } from "../secrets/secrets-service.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { Keyring } from "./index.js";
import { rotateMasterKey } from "./key-rotation.js";
import { checkMasterKey, Vault } from "./vault.js";

describe.each(await contractDatabases())("master key rotation ($name)", ({ create }) => {
  let database: TestDatabase;
  let store: KyselyStore;
  beforeEach(async () => {
    database = await create();
    store = await database.open();
  });
  afterEach(async () => {
    await store.close();
    await database.drop();
  });

  it("re-wraps every data key so values open with the new key alone, and start-up then refuses the old one", async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const before = Keyring.fromKeys(oldKey);
    await checkMasterKey(store, before);
    const vault = new Vault(before, store);
    const secrets = new SecretsService(store, vault);
    const sites = [];
    for (let i = 0; i < 25; i++) {
      const id = randomUUID();
      const site = await store.insertSite({
        id,
        name: `site-${i}`,
        owner: {
          userId: (await store.insertUser({ id: randomUUID(), email: `u${i}@example.com`, isAdmin: false }))
            .id,
        },
        dataKey: vault.newDataKey({ kind: "site", id }),
      });
      await secrets.setSiteSecret(SYSTEM_CONTEXT, site, { name: "V", value: `value-${i}`, scopes: ["web"] });
      sites.push(site);
    }

    const progress: Array<[number, number]> = [];
    const during = Keyring.fromKeys(newKey, [oldKey]);
    await checkMasterKey(store, during);
    const result = await rotateMasterKey(SYSTEM_CONTEXT, store, during, {
      batchSize: 10,
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(result.rewrapped).toBe(25);
    expect(progress.at(-1)).toEqual([25, 25]);

    const after = Keyring.fromKeys(newKey);
    await checkMasterKey(store, after);
    const fresh = new SecretsService(store, new Vault(after, store));
    for (const [i, site] of sites.entries()) {
      expect(await fresh.resolveForDelivery(site.id, "dev", "web")).toMatchObject([
        { name: "V", value: `value-${i}` },
      ]);
    }
    await expect(checkMasterKey(store, Keyring.fromKeys(oldKey))).rejects.toThrow(
      /master key does not match/i,
    );
    await expect(checkMasterKey(store, Keyring.fromKeys(randomBytes(32)))).rejects.toThrow(
      /master key does not match/i,
    );
    expect((await store.listAudit({ limit: 1 }))[0]?.action).toBe("keys.rotate");
  });
});
