import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kyselyStores, type LockboxStores } from "../stores.js";
import { postgresAvailable, postgresTestDatabase, type TestDatabase } from "../testing/test-databases.js";
import type { LockboxDb } from "./lockbox-db.js";
import type { StoreChange } from "./ports.js";
import {
  CHANGES_CHANNEL,
  type ChangeListener,
  LISTENER_APPLICATION_NAME,
  listenForChanges,
} from "./postgres.js";

const waitFor = async (condition: () => boolean, timeoutMs = 5000) => {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe.skipIf(!(await postgresAvailable()))("listenForChanges() on PostgreSQL", () => {
  let database: TestDatabase;
  let db: LockboxDb;
  let writer: LockboxStores;
  let listener: ChangeListener;
  const received: StoreChange[] = [];
  const sentAt: Array<number | undefined> = [];
  const events: string[] = [];

  beforeAll(async () => {
    database = await postgresTestDatabase();
    db = await database.open();
    writer = kyselyStores(db);
    listener = listenForChanges(database.location, {
      onChange: (change, sentAtMs) => {
        received.push(change);
        sentAt.push(sentAtMs);
      },
      onLost: () => events.push("lost"),
      onListening: () => events.push("listening"),
    });
    await waitFor(() => listener.listening);
  });
  afterAll(async () => {
    await listener?.close();
    await db?.close();
    await database?.drop();
  });

  it("receives changes committed by another connection, and none that rolled back", async () => {
    await writer.transaction((tx) => tx.recordChange({ kind: "site", id: "a" }));
    await writer
      .transaction(async (tx) => {
        await tx.recordChange({ kind: "org", id: "never" });
        throw new Error("abort");
      })
      .catch(() => {});
    await writer.transaction((tx) => tx.recordChange({ kind: "token", id: "b" }));
    await waitFor(() => received.length >= 2);
    expect(received).toEqual([
      { kind: "site", id: "a" },
      { kind: "token", id: "b" },
    ]);
  });

  it("carries the writer's clock at the commit, for NOTIFY lag; a payload without it still counts", async () => {
    const count = received.length;
    const before = Date.now();
    await writer.transaction(async (tx) => {
      await tx.recordChange({ kind: "site", id: "timed" });
      // Recorded early, sent last: the time is taken right before the commit.
      await new Promise((resolve) => setTimeout(resolve, 50));
    });
    const after = Date.now();
    await waitFor(() => received.length > count);
    expect(received[count]).toEqual({ kind: "site", id: "timed" });
    expect(sentAt[count]).toBeGreaterThanOrEqual(before + 50);
    expect(sentAt[count]).toBeLessThanOrEqual(after);
    // An older server's payload (no time): the change, without a time.
    await sql`select pg_notify(${CHANGES_CHANNEL}, ${JSON.stringify({ kind: "org", id: "old" })})`.execute(
      db.kysely,
    );
    await waitFor(() => received.length > count + 1);
    expect([received[count + 1], sentAt[count + 1]]).toEqual([{ kind: "org", id: "old" }, undefined]);
  });

  it("reports a cut connection, reconnects, and receives changes again", async () => {
    const admin = new pg.Client({ connectionString: database.location });
    await admin.connect();
    await admin.query(
      "select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and datname = current_database()",
      [LISTENER_APPLICATION_NAME],
    );
    await admin.end();
    await waitFor(() => events.includes("lost"));
    await waitFor(() => listener.listening && events.at(-1) === "listening");
    received.length = 0;
    await writer.transaction((tx) => tx.recordChange({ kind: "site", id: "after-reconnect" }));
    await waitFor(() => received.length === 1);
    expect(received).toEqual([{ kind: "site", id: "after-reconnect" }]);
  });
});
