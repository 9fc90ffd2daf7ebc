import { existsSync } from "node:fs";
import { join } from "node:path";
import { isLockboxError } from "@lockbox/core";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { countRows } from "./db/store-copy.js";
import { STORE_TABLES, tablesInStore } from "./db/tables.js";
import type { Lockbox } from "./lockbox.js";
import { backupStore, copyStore } from "./store-transfer.js";
import { contractDatabases, sqliteTestDatabase, type TestDatabase } from "./testing/test-databases.js";
import { createTestLockbox, errorOf, randomMasterKey, testCaller } from "./testing/test-lockbox.js";

/**
 * `backupStore` and `copyStore` on real stores of each dialect: the table list matches the migrated
 * schema, and the checks after a copy catch a source that changed during it. (The CLI's end-to-end
 * suite, backup.e2e.test.ts, covers backups of live servers and SQLite → PostgreSQL.)
 */
describe.each(await contractDatabases())("store transfer ($name)", ({ create }) => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const database = async (): Promise<TestDatabase> => {
    const made = await create();
    cleanups.push(() => made.drop());
    return made;
  };
  const lockboxOn = async (made: TestDatabase, masterKey: string): Promise<Lockbox> => {
    const lockbox = await createTestLockbox(made, { masterKey });
    cleanups.push(() => lockbox.close());
    return lockbox;
  };

  /** A store with an org, a site, secrets and overrides; answers the writer. */
  async function filledStore(masterKey: string) {
    const made = await database();
    const lockbox = await lockboxOn(made, masterKey);
    const admin = await testCaller(lockbox, { admin: true });
    await lockbox.orgs.createOrg(admin, "acme");
    await lockbox.sites.createSite(admin, { name: "shop", org: "acme" });
    await lockbox.secrets.setOrgSecret(admin, "acme", { name: "ORG_V", value: "org-value", scopes: "web" });
    await lockbox.secrets.setSiteSecret(admin, "shop", { name: "API_KEY", value: "v1", scopes: "web,user" });
    await lockbox.secrets.setSiteSecret(admin, "shop", { name: "API_KEY", value: "v2-live", env: "live" });
    await lockbox.secrets.setSiteSecret(admin, "shop", { name: "GONE", value: "kept", scopes: "web,user" });
    await lockbox.secrets.deleteSiteSecret(admin, "shop", "GONE");
    return { made, lockbox, admin };
  }

  it("lists exactly the tables the migrations create", async () => {
    const made = await database();
    const db = await made.open();
    cleanups.push(() => db.close());
    expect((await tablesInStore(db.kysely)).sort()).toEqual(STORE_TABLES.map((t) => t.name).sort());
  });

  it("copies every row, then its checks pass; a source changed during the copy fails them, naming what differs", async () => {
    const masterKey = randomMasterKey();
    const { made, lockbox, admin } = await filledStore(masterKey);
    const env = { LOCKBOX_MASTER_KEY: masterKey };

    const goodTarget = await database();
    const good = await copyStore({ from: made.location, to: goodTarget.location, env, batchSize: 2 });
    expect(good.ok).toBe(true);
    expect(good.audit.ok).toBe(true);
    expect(good.environments).toBe(3);
    expect(good.tables.find((t) => t.table === "secret_values")).toEqual({
      table: "secret_values",
      source: 3,
      target: 3,
    });
    // A secret deleted before the copy can be restored from the copy, value and all.
    expect(good.tables.find((t) => t.table === "deleted_secrets")).toMatchObject({ source: 1, target: 1 });
    const copy = await lockboxOn(goodTarget, masterKey);
    const copyAdmin = await testCaller(copy, { admin: true });
    await copy.secretRestore.restoreSite(copyAdmin, "shop", "GONE");
    expect(
      (await copy.secrets.listSiteSecrets(copyAdmin, "shop")).find((r) => r.name === "GONE")?.value,
    ).toBe("kept");

    // A write to the source after the copy's snapshot: the copy no longer matches it.
    let wrote: Promise<unknown> | undefined;
    const changed = await copyStore({
      from: made.location,
      to: (await database()).location,
      env,
      onProgress: (done, total) => {
        if (done === total && wrote === undefined) {
          wrote = lockbox.secrets.setSiteSecret(admin, "shop", { name: "API_KEY", value: "v3", env: "live" });
        }
      },
    });
    expect(await wrote).toMatchObject({ created: false });
    expect(changed.ok).toBe(false);
    expect(changed.versionMismatches).toEqual(["shop.live"]);
    expect(changed.tables.find((t) => t.table === "secret_versions")).toMatchObject({ source: 6, target: 5 });
  });

  it("refuses a non-empty target and changes nothing in it", async () => {
    const masterKey = randomMasterKey();
    const { made } = await filledStore(masterKey);
    const target = await filledStore(masterKey);
    const before = await countRows(target.lockbox.db.kysely);
    const error = await errorOf(
      copyStore({ from: made.location, to: target.made.location, env: { LOCKBOX_MASTER_KEY: masterKey } }),
    );
    expect(isLockboxError(error, "CONFLICT")).toBe(true);
    expect((error as Error).message).toMatch(/is not empty \(.*secrets: 2.*\).*nothing was changed/);
    expect(await countRows(target.lockbox.db.kysely)).toEqual(before);
  });

  it("backs up into a new SQLite file and refuses an existing one, leaving it alone", async () => {
    const masterKey = randomMasterKey();
    const { made } = await filledStore(masterKey);
    const folder = sqliteTestDatabase();
    cleanups.push(() => folder.drop());
    const file = join(folder.location, "..", "backup.db");
    const progress: number[] = [];
    const result = await backupStore({
      db: made.location,
      to: file,
      onProgress: (done) => progress.push(done),
    });
    expect(result.rows.secret_values).toBe(3);
    expect(progress.at(-1)).toBe(Object.values(result.rows).reduce((a, b) => a + b, 0));
    const again = await errorOf(backupStore({ db: made.location, to: file }));
    expect(isLockboxError(again, "CONFLICT")).toBe(true);
    expect((again as Error).message).toContain("already exists");
    expect(existsSync(file)).toBe(true);
    const copied = await copyStore({
      from: file,
      to: (await database()).location,
      env: { LOCKBOX_MASTER_KEY: masterKey },
    });
    expect(copied.ok).toBe(true);
  });

  it("never migrates the store it reads: an older or a newer store is refused and left as it was", async () => {
    const masterKey = randomMasterKey();
    const { made } = await filledStore(masterKey);
    const db = await made.open();
    cleanups.push(() => db.close());
    const applied = async () =>
      (
        await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db.kysely)
      ).rows.map((row) => row.name);
    const latest = (await applied()).at(-1) as string;
    const folder = sqliteTestDatabase();
    cleanups.push(() => folder.drop());
    const env = { LOCKBOX_MASTER_KEY: masterKey };

    // As a store whose servers are one version behind: the latest migration not applied.
    await sql`delete from kysely_migration where name = ${latest}`.execute(db.kysely);
    const before = await applied();
    for (const attempt of [
      () => backupStore({ db: made.location, to: join(folder.location, "..", "old.db") }),
      async () => copyStore({ from: made.location, to: (await database()).location, env }),
    ]) {
      const error = await errorOf(attempt());
      expect(isLockboxError(error, "CONFLICT")).toBe(true);
      expect((error as Error).message).toContain(
        `is older than this Lockbox (it lacks migration(s) ${latest})`,
      );
      expect(await applied()).toEqual(before);
    }
    expect(existsSync(join(folder.location, "..", "old.db"))).toBe(false);

    // A store of a newer Lockbox.
    await sql`insert into kysely_migration (name, timestamp) values (${latest}, ${new Date().toISOString()}), ('9999-from-the-future', ${new Date().toISOString()})`.execute(
      db.kysely,
    );
    const newer = await errorOf(
      backupStore({ db: made.location, to: join(folder.location, "..", "new.db") }),
    );
    expect((newer as Error).message).toContain(
      "was made by a newer Lockbox (it has migration(s) 9999-from-the-future",
    );
  });
});
