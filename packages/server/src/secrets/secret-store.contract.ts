import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { LockboxStores } from "../stores.js";
import { useContractDatabase } from "../testing/store-fixtures.js";
import type { TestDatabase } from "../testing/test-databases.js";

/**
 * The contract of the secrets' port (`SecretStore`) that every implementation must pass, run
 * against each dialect with `secretStoreContract(name, createDatabase)`: names per owner, base
 * values and overrides, and what a site's resolution loads.
 */
export function secretStoreContract(name: string, createDatabase: () => Promise<TestDatabase>): void {
  describe(`SecretStore contract (${name})`, () => {
    const database = useContractDatabase(createDatabase);
    const { newUser, newOrg, newSite, newSecret } = database;
    let stores: LockboxStores;
    beforeAll(() => {
      stores = database.stores;
    });

    it("keeps secret names unique per owner and case-sensitive", async () => {
      const org = await newOrg();
      const site = await newSite({ orgId: org.id });
      await newSecret({ kind: "site", id: site.id }, "API_KEY");
      await newSecret({ kind: "site", id: site.id }, "api_key");
      await newSecret({ kind: "org", id: org.id }, "API_KEY");
      await expect(newSecret({ kind: "site", id: site.id }, "API_KEY")).rejects.toMatchObject({
        code: "CONFLICT",
      });
      expect((await stores.secrets.listSecrets({ kind: "site", id: site.id })).map((s) => s.name)).toEqual([
        "API_KEY",
        "api_key",
      ]);
    });

    it("stores base values and overrides and reports which environments override", async () => {
      const org = await newOrg();
      const site = await newSite({ orgId: org.id });
      const secret = await newSecret({ kind: "site", id: site.id }, "TOKEN", "b");
      await stores.secrets.putValue(secret.id, "live", Buffer.from("l"));
      await stores.secrets.putValue(secret.id, "dev", Buffer.from("d"));
      await stores.secrets.putValue(secret.id, "live", Buffer.from("l2"));
      const found = await stores.secrets.findSecret({ kind: "site", id: site.id }, "TOKEN");
      expect(found?.overrideEnvs).toEqual(["dev", "live"]);
      expect(found?.scopes).toEqual(["web", "user"]);
      const [listed] = await stores.secrets.listSecrets({ kind: "site", id: site.id });
      expect(listed?.base.toString()).toBe("b");
      expect([...(listed?.overrides ?? [])].map(([env, v]) => [env, v.toString()])).toEqual([
        ["dev", "d"],
        ["live", "l2"],
      ]);
      expect((await stores.secrets.findValue(secret.id, null))?.toString()).toBe("b");
      expect((await stores.secrets.findValue(secret.id, "live"))?.toString()).toBe("l2");
      expect(await stores.secrets.findValue(secret.id, "test")).toBeUndefined();
      expect(await stores.secrets.deleteOverride(secret.id, "live")).toBe(true);
      expect(await stores.secrets.deleteOverride(secret.id, "live")).toBe(false);
      expect(await stores.secrets.findValue(secret.id, "live")).toBeUndefined();
      expect(await stores.secrets.deleteSecret(secret.id)).toBe(true);
      expect(await stores.secrets.findSecret({ kind: "site", id: site.id }, "TOKEN")).toBeUndefined();
      expect(await stores.secrets.listSecrets({ kind: "site", id: site.id })).toEqual([]);
    });

    it("loads a site's secrets with its owner org's and never a supporting org's", async () => {
      const owner = await newOrg();
      const supporting = await newOrg();
      const site = await newSite({ orgId: owner.id });
      await stores.sites.addSupportingOrg(site.id, supporting.id);
      await newSecret({ kind: "site", id: site.id }, "SITE_ONLY");
      await newSecret({ kind: "org", id: owner.id }, "FROM_OWNER");
      await newSecret({ kind: "org", id: supporting.id }, "FROM_SUPPORTING");
      const loaded = await stores.secrets.loadSiteSecrets(site.id);
      expect(loaded?.ownerOrgId).toBe(owner.id);
      expect(loaded?.siteSecrets.map((s) => s.name)).toEqual(["SITE_ONLY"]);
      expect(loaded?.orgSecrets.map((s) => s.name)).toEqual(["FROM_OWNER"]);
      expect(await stores.secrets.loadSiteSecrets(randomUUID())).toBeUndefined();
    });

    it("loads no org secrets for a personal site", async () => {
      const person = await newUser();
      const site = await newSite({ userId: person.id });
      await newSecret({ kind: "site", id: site.id }, "MINE");
      const loaded = await stores.secrets.loadSiteSecrets(site.id);
      expect(loaded?.ownerOrgId).toBeUndefined();
      expect(loaded?.orgSecrets).toEqual([]);
    });
  });
}
