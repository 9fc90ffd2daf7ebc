import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mountSmallFilesystem } from "../testing/small-filesystem.js";
import { openSqliteDb } from "./sqlite.js";

const run = promisify(execFile);

describe("openSqliteDb()", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "lockbox-sqlite-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("runs in WAL mode with synchronous=FULL and foreign keys on", async () => {
    const store = await openSqliteDb({ path: join(dir, "db", "lockbox.db") });
    const pragma = async (name: string) =>
      Object.values((await sql.raw(`PRAGMA ${name}`).execute(store.kysely)).rows[0] as object)[0];
    expect(await pragma("journal_mode")).toBe("wal");
    expect(await pragma("synchronous")).toBe(2); // FULL
    expect(await pragma("foreign_keys")).toBe(1);
    await store.close();
  });

  it("creates its folder 0700 and the database, WAL and shared-memory files 0600", async () => {
    const path = join(dir, "data", "lockbox.db");
    const store = await openSqliteDb({ path });
    const mode = (file: string) => statSync(file).mode & 0o777;
    expect(mode(join(dir, "data"))).toBe(0o700);
    for (const file of [path, `${path}-wal`, `${path}-shm`])
      expect([file, mode(file)]).toEqual([file, 0o600]);
    await store.close();
  });

  it("refuses a second server on the same file while the first runs, and says why", async () => {
    const path = join(dir, "lockbox.db");
    const first = await openSqliteDb({ path, exclusive: true });
    await expect(openSqliteDb({ path, exclusive: true })).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringContaining(`is already using the SQLite database '${path}'`),
    });
    // Offline tools do not claim the file and may open it beside the server.
    const tool = await openSqliteDb({ path });
    expect(await tool.ping()).toBe(true);
    await tool.close();
    await first.close();
    const second = await openSqliteDb({ path, exclusive: true });
    await second.close();
  });

  it("takes over the claim of a server that died without releasing it", async () => {
    const path = join(dir, "lockbox.db");
    // A pid far above any pid_max the kernel allows, so no process has it.
    writeFileSync(`${path}.lock`, "99999999");
    const store = await openSqliteDb({ path, exclusive: true });
    expect(await store.ping()).toBe(true);
    await store.close();
  });

  it("refuses a store made by a newer Lockbox with the message backup gives", async () => {
    const path = join(dir, "lockbox.db");
    const store = await openSqliteDb({ path });
    await sql`insert into kysely_migration (name, timestamp) values ('9999-from-the-future', ${new Date().toISOString()})`.execute(
      store.kysely,
    );
    await store.close();
    await expect(openSqliteDb({ path, exclusive: true })).rejects.toMatchObject({
      code: "CONFLICT",
      message: `The store '${path}' was made by a newer Lockbox (it has migration(s) 9999-from-the-future, which this version does not know): run this command with that version.`,
    });
  });

  it("names the database file and says its folder must be writable when it is not", async (context) => {
    // As root, permissions do not stop writes: a read-only file system does. Otherwise, chmod.
    const asRoot = process.getuid?.() === 0;
    const small = asRoot ? await mountSmallFilesystem(8 * 1024 * 1024) : undefined;
    if (asRoot && small === undefined) {
      context.skip("no file system can be mounted here to make read-only");
      return;
    }
    const folder = small?.dir ?? join(dir, "data");
    const path = join(folder, "lockbox.db");
    try {
      mkdirSync(folder, { recursive: true });
      await (await openSqliteDb({ path, exclusive: true })).close();
      if (small) await run("mount", ["-o", "remount,ro", small.dir]);
      else chmodSync(folder, 0o500);
      await expect(openSqliteDb({ path, exclusive: true })).rejects.toMatchObject({
        code: "UNAVAILABLE",
        message: `The SQLite database '${path}' cannot be opened for writing (${small ? "EROFS" : "EACCES"}): its folder '${folder}' must be writable, since SQLite writes the database, its -wal and -shm files and a lock file there. Make the folder writable, or give another path (--db or LOCKBOX_DB; --from or --to for store:copy).`,
      });
    } finally {
      if (!small) chmodSync(folder, 0o700);
      await small?.destroy();
    }
  });

  it("says so when a part of the database's path is a file, not a folder", async () => {
    writeFileSync(join(dir, "data"), "");
    const path = join(dir, "data", "lockbox.db");
    await expect(openSqliteDb({ path, exclusive: true })).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: `The SQLite database '${path}' cannot be opened for writing (ENOTDIR): a part of its folder '${join(dir, "data")}' is a file, not a folder: fix the path, or give another path (--db or LOCKBOX_DB; --from or --to for store:copy).`,
    });
  });
});
