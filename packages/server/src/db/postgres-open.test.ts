import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  POSTGRES_ADMIN_URL,
  postgresAvailable,
  postgresTestDatabase,
  type TestDatabase,
} from "../testing/test-databases.js";
import { openPostgresDb } from "./postgres.js";
import { postgresConnectError } from "./postgres-connect-error.js";

/** The test server's URL with `change` applied (another user, database, port or host). */
function urlWith(change: (url: URL) => void): string {
  const url = new URL(POSTGRES_ADMIN_URL);
  change(url);
  return url.toString();
}

describe("openPostgresDb() when it cannot connect", () => {
  it("names a refused connection with host, port and database, and the fix, not a migration or a retry", async () => {
    // Nothing listens on this port (the range the project's own servers may use is 9500-9599).
    const url = "postgres://lockbox:hunter2-pw@127.0.0.1:9599/lockbox_store";
    const error = await openPostgresDb({ url }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "UNAVAILABLE",
      message:
        "Cannot connect to PostgreSQL at 127.0.0.1:9599 (database lockbox_store): connection refused. Check the database URL (--db or LOCKBOX_DB; --from or --to for store:copy) and that PostgreSQL is running.",
    });
    expect(String((error as Error).message)).not.toContain("hunter2");
  });

  it("names a host that does not resolve as such, not as a database that is down", async () => {
    const error = await openPostgresDb({ url: "postgres://lockbox@nohost.invalid/lockbox_store" }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringMatching(
        /^Cannot connect to PostgreSQL at nohost\.invalid:5432 \(database lockbox_store\): the host 'nohost\.invalid' is not found \(DNS\)\. Check the host in the database URL \(--db or LOCKBOX_DB; --from or --to for store:copy\)\.$/,
      ),
    });
  });

  it("names the user when the password is refused, never the password", () => {
    const refused = Object.assign(new Error('password authentication failed for user "bob"'), {
      code: "28P01",
    });
    const error = postgresConnectError("postgres://bob:hunter2-pw@db.example:6543/lockbox", refused);
    expect(error.message).toBe(
      'Cannot connect to PostgreSQL at db.example:6543 (database lockbox): password authentication failed for user "bob". Check the user and password in the database URL (--db or LOCKBOX_DB; --from or --to for store:copy).',
    );
    expect(error.cause).toBe(refused);
  });

  it("says a password is needed when the server asks for one and the URL has none", () => {
    const missing = new Error("SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string");
    expect(postgresConnectError("postgres://bob@db.example/lockbox", missing).message).toBe(
      'Cannot connect to PostgreSQL at db.example:5432 (database lockbox): the server asks user "bob" for a password and none was given. Put it in the database URL (--db or LOCKBOX_DB; --from or --to for store:copy): postgres://USER:PASSWORD@HOST:PORT/DATABASE.',
    );
  });
});

describe.skipIf(!(await postgresAvailable()))("openPostgresDb() on a reachable server", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await postgresTestDatabase();
  });
  afterAll(() => database.drop());

  it("says which database does not exist and how to create it, never the password", async () => {
    const name = `lockbox_missing_${randomBytes(4).toString("hex")}`;
    const url = urlWith((u) => {
      u.pathname = `/${name}`;
      u.password = "hunter2-pw";
    });
    const { hostname, port } = new URL(POSTGRES_ADMIN_URL);
    const error = await openPostgresDb({ url }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "UNAVAILABLE",
      message: `Cannot connect to PostgreSQL at ${hostname}:${port || 5432} (database ${name}): database "${name}" does not exist. Create it (createdb ${name}) or fix the database URL (--db or LOCKBOX_DB; --from or --to for store:copy).`,
    });
    expect(String((error as Error).message)).not.toContain("hunter2");
  });

  it("names the user a role that does not exist", async () => {
    const user = `nouser_${randomBytes(4).toString("hex")}`;
    const url = urlWith((u) => {
      u.username = user;
    });
    await expect(openPostgresDb({ url })).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringContaining(
        `: role "${user}" does not exist. Check the user in the database URL (--db or LOCKBOX_DB; --from or --to for store:copy), or create the role (createuser ${user}).`,
      ),
    });
  });

  it("refuses a store made by a newer Lockbox with the message backup gives", async () => {
    const store = await database.open();
    await sql`insert into kysely_migration (name, timestamp) values ('9999-from-the-future', ${new Date().toISOString()})`.execute(
      store.kysely,
    );
    await store.close();
    await expect(database.open()).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining(
        "was made by a newer Lockbox (it has migration(s) 9999-from-the-future, which this version does not know): run this command with that version.",
      ),
    });
  });
});
