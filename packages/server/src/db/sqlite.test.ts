import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqliteDb } from "./sqlite.js";

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
});
