import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Lockbox } from "../lockbox.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { createTestLockbox, randomMasterKey, testCaller } from "../testing/test-lockbox.js";
import type { MachineIdentity } from "./machine-token-cache.js";

/**
 * `Version` (and the ETag) of a runtime set is keyed by the current master key: stored in audit
 * rows, it allows no guessing of the values from the database alone, and it still agrees across
 * servers and restarts with the same key.
 */
describe.each(await contractDatabases())("runtime set Version ($name)", ({ create }) => {
  let database: TestDatabase;
  const open: Lockbox[] = [];
  beforeEach(async () => {
    database = await create();
  });
  afterEach(async () => {
    for (const lockbox of open.splice(0)) await lockbox.close();
    await database.drop();
  });
  const opened = async (masterKey: string, env: Record<string, string> = {}) => {
    const lockbox = await createTestLockbox(database, { masterKey, env });
    open.push(lockbox);
    return lockbox;
  };

  /** A site with a weak value, as in the issue; answers the identity of its live runtime. */
  const weakSite = async (lockbox: Lockbox): Promise<MachineIdentity> => {
    const admin = await testCaller(lockbox, { admin: true });
    await lockbox.orgs.createOrg(admin, "acme");
    const site = await lockbox.sites.createSite(admin, { name: "acme-site", org: "acme" });
    await lockbox.secrets.setSiteSecret(admin, site.id, {
      name: "DB_PASSWORD",
      value: "dragon",
      scopes: ["web"],
    });
    return { tokenId: "t-1", kind: "runtime", siteId: site.id, env: "live", expiresAtMs: null };
  };
  const versionOf = async (lockbox: Lockbox, identity: MachineIdentity) => {
    const payload = await lockbox.delivery.runtimeSet(identity);
    const body = JSON.parse(payload.body.toString("utf8")) as { Version: string };
    expect(payload.etag).toBe(`"${body.Version}"`);
    expect(payload.version).toBe(body.Version);
    return body.Version;
  };
  /**
   * The old, unkeyed Version of the set with the value replaced by `guess`: what an attacker with the
   * database alone (site id, environment, names, types, scopes) can recompute per guess.
   */
  const unkeyed = async (lockbox: Lockbox, identity: MachineIdentity, guess: string) => {
    const secrets = (await lockbox.secrets.resolveForDelivery(identity.siteId, identity.env, "web")) ?? [];
    expect(secrets.map((s) => s.name)).toEqual(["DB_PASSWORD"]);
    return createHash("sha256")
      .update(
        JSON.stringify([
          "lockbox.runtime.v1",
          identity.siteId,
          identity.env,
          secrets.map((s) => [s.name, s.type, guess, s.scopes]),
        ]),
      )
      .digest("hex")
      .slice(0, 32);
  };

  it("is not the unkeyed hash of the content: trying a word list against it finds nothing", async () => {
    const key = randomMasterKey();
    const lockbox = await opened(key);
    const identity = await weakSite(lockbox);
    const version = await versionOf(lockbox, identity);
    expect(version).toMatch(/^[0-9a-f]{32}$/);
    const words = ["password", "letmein", "dragon", "monkey", "qwerty"];
    const found = [];
    for (const word of words) if ((await unkeyed(lockbox, identity, word)) === version) found.push(word);
    expect(found).toEqual([]);
  });

  it("agrees between two instances with the same master key, stays the same after a restart, and differs under another current key", async () => {
    const key = randomMasterKey();
    const first = await opened(key);
    const identity = await weakSite(first);
    const version = await versionOf(first, identity);
    // A second server on the same store with the same key.
    const second = await opened(key);
    expect(await versionOf(second, identity)).toBe(version);
    await first.close();
    await second.close();
    open.splice(0);
    // Restarted with the same key.
    expect(await versionOf(await opened(key), identity)).toBe(version);
    // Restarted with a new current key (the old one as previous, as while rotating): a new Version.
    const rotated = await opened(randomMasterKey(), { LOCKBOX_PREVIOUS_MASTER_KEYS: key });
    const other = await versionOf(rotated, identity);
    expect(other).toMatch(/^[0-9a-f]{32}$/);
    expect(other).not.toBe(version);
  });
});
