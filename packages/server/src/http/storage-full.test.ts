import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../audit/audit-verify.js";
import { mountSmallFilesystem, type SmallFilesystem } from "../testing/small-filesystem.js";
import { createTestApp, type TestApp } from "../testing/test-app.js";
import { sqliteTestDatabase, type TestDatabase } from "../testing/test-databases.js";

const VALUE_BYTES = 16 * 1024;

/**
 * The SQLite store on a full disk: a real 3 MB tmpfs where the test may mount one (as root),
 * otherwise SQLite's `max_page_count`, which fails writes with the same SQLITE_FULL.
 */
describe("the SQLite store on a full disk", () => {
  let filesystem: SmallFilesystem | undefined;
  let database: TestDatabase;
  let t: TestApp;
  let runtimeToken: string;
  let warmBody: string;
  /** Room that is given back once the disk is full (a ballast file, or a higher page limit). */
  let makeRoom: () => Promise<void>;
  const admin = () => ({ token: t.adminToken });
  const acknowledged: string[] = [];
  const value = (i: number, bytes: number) => `${String(i).padStart(4, "0")}${"x".repeat(bytes - 4)}`;

  beforeAll(async () => {
    filesystem = await mountSmallFilesystem(3 * 1024 * 1024);
    database = sqliteTestDatabase(filesystem?.dir);
    t = await createTestApp(database);
    if (filesystem) {
      const ballast = join(filesystem.dir, "ballast");
      writeFileSync(ballast, Buffer.alloc(512 * 1024));
      makeRoom = async () => rmSync(ballast);
    } else {
      console.warn("No tmpfs could be mounted: SQLITE_FULL comes from max_page_count instead.");
      const { rows } = await sql<{ page_count: number }>`PRAGMA page_count`.execute(t.db.kysely);
      const pages = Number(rows[0]?.page_count);
      await sql.raw(`PRAGMA max_page_count = ${pages + 500}`).execute(t.db.kysely);
      makeRoom = async () => {
        await sql.raw(`PRAGMA max_page_count = ${pages + 1000}`).execute(t.db.kysely);
      };
    }
    await t.call("POST", "/v1/orgs", { ...admin(), body: { name: "acme" } });
    await t.call("POST", "/v1/sites", { ...admin(), body: { name: "shop", org: "acme" } });
    const put = await t.call("PUT", "/v1/sites/shop/secrets/API_KEY", {
      ...admin(),
      body: { value: "warm", scopes: "web" },
    });
    expect(put.status, put.body).toBeLessThan(300);
    const minted = await t.call("POST", "/v1/tokens", {
      ...admin(),
      body: { kind: "runtime", site: "shop", env: "live" },
    });
    runtimeToken = minted.json.token;
    const warm = await t.call("GET", "/site/secrets", { token: runtimeToken });
    expect(warm.status).toBe(200);
    warmBody = warm.body;
  });

  afterAll(async () => {
    await t?.close();
    await database?.drop();
    await filesystem?.destroy();
  });

  it("answers 507 STORAGE_FULL naming the cause, logs it once with the store's path, and loses nothing", async () => {
    /** Writes values of `bytes` until one is refused; returns the refusal. */
    const fill = async (bytes: number) => {
      for (let i = acknowledged.length; i < 1000; i++) {
        const response = await t.call("PUT", `/v1/sites/shop/secrets/FILL_${i}`, {
          ...admin(),
          body: { value: value(i, bytes), scopes: "ic" },
        });
        if (response.status >= 300) return response;
        acknowledged.push(`FILL_${i}`);
      }
      return undefined;
    };
    const full = await fill(VALUE_BYTES);
    expect(full?.status, full?.body).toBe(507);
    expect(full?.json.error.code).toBe("STORAGE_FULL");
    expect(full?.json.error.message).toMatch(/disk is full/);
    expect(full?.json.error.message).not.toContain(database.location);
    expect(acknowledged.length).toBeGreaterThan(5);
    // Smaller writes may still fit: fill what is left, down to the last page.
    for (const bytes of [2048, 256, 16]) expect((await fill(bytes))?.status).toBe(507);

    // While the disk stays full: more writes refused the same way, …
    for (let i = 0; i < 3; i++) {
      const again = await t.call("PUT", "/v1/sites/shop/secrets/ONE_MORE", {
        ...admin(),
        body: { value: "v" },
      });
      expect([again.status, again.json.error.code]).toEqual([507, "STORAGE_FULL"]);
    }
    // … reads that write nothing answer (they did before too; token last-use times are written
    // off the request path and dropped when they cannot be), …
    for (const url of ["/v1/whoami", "/v1/orgs", "/v1/sites", "/v1/sites/shop", "/v1/tokens"]) {
      const read = await t.call("GET", url, admin());
      expect([url, read.status]).toEqual([url, 200]);
    }
    // … and the warm runtime endpoint keeps serving.
    for (let i = 0; i < 20; i++) {
      const read = await t.call("GET", "/site/secrets", { token: runtimeToken });
      expect([read.status, read.body]).toEqual([200, warmBody]);
    }

    const faultLines = t.logs.filter((line) => line.includes("STORAGE_FULL"));
    expect(faultLines).toHaveLength(1);
    expect(JSON.parse(faultLines[0] ?? "{}")).toMatchObject({ level: 50, store: database.location });
    expect(t.logs.filter((line) => line.includes('"request failed"'))).toEqual([]);

    // A read of values must be audited (`secret.list`): when its audit event cannot be written it
    // is refused (fail closed). A small event may still fit a page or two, so read until it is.
    const listings: number[] = [];
    for (let i = 0; i < 50 && listings.at(-1) !== 507; i++) {
      const listing = await t.call("GET", "/v1/sites/shop/secrets", admin());
      listings.push(listing.status);
      if (listing.status === 507) expect(listing.json.error.code).toBe("STORAGE_FULL");
    }
    expect(listings.at(-1)).toBe(507);
    expect(listings.filter((status) => status !== 200 && status !== 507)).toEqual([]);

    // Room again: writes work without a restart, and nothing acknowledged was lost.
    await makeRoom();
    const after = await t.call("PUT", "/v1/sites/shop/secrets/AFTER", {
      ...admin(),
      body: { value: "back" },
    });
    expect(after.status, after.body).toBeLessThan(300);
    const names = (await t.call("GET", "/v1/sites/shop/secrets?limit=1000", admin())).json.items.map(
      (item: { name: string }) => item.name,
    );
    expect(names).toEqual(expect.arrayContaining([...acknowledged, "API_KEY", "AFTER"]));
    expect(names).not.toContain("ONE_MORE");
    expect((await verifyAuditChain(t.stores.audit)).ok).toBe(true);
  }, 60_000);
});
