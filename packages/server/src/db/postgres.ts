import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Database } from "./database.js";
import { type DialectDriver, LockboxDb } from "./lockbox-db.js";
import { migrateToLatest, requireCurrentSchema } from "./migrate.js";
import type { StoreChange } from "./ports.js";
import { postgresConnectError } from "./postgres-connect-error.js";
import { preparingPool } from "./prepared-statements.js";
import { classifyPostgresError, faultClassifyingDialect, StoreHealth } from "./store-faults.js";

/** The NOTIFY channel that carries {@link StoreChange}s between server processes. */
export const CHANGES_CHANNEL = "lockbox_changes";

/** The `application_name` of the LISTEN connection, so operators (and tests) can find it. */
export const LISTENER_APPLICATION_NAME = "lockbox-listener";

/** The advisory lock key that serializes audit appends across every server ("lockbox" in ASCII). */
const AUDIT_LOCK_KEY = 0x6c6f636b626f78n;

export interface PostgresDbOptions {
  /** A `postgres://` connection string. Never logged or put in an error message. */
  readonly url: string;
  /** Pool size (default 10). */
  readonly maxConnections?: number;
  /** Migrate to the latest schema (the default); false: refuse a store not at it, changing nothing. */
  readonly migrate?: boolean;
}

/**
 * Opens (and migrates, under Kysely's advisory lock) a PostgreSQL store. Write transactions run at
 * READ COMMITTED; rules are kept by a row lock on the owner (`SELECT … FOR UPDATE`) taken before
 * any read, by constraints, and by a transaction-scoped advisory lock for audit appends.
 */
export async function openPostgresDb(options: PostgresDbOptions): Promise<LockboxDb> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    // A database that neither answers nor refuses must not hold requests forever: 503 instead.
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // An idle client's error (the server restarted) must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  // Nor may a checked-out client's, cut between two queries of a transaction: its next query fails
  // (an unreachable store, 503) and the pool discards it on release.
  pool.on("connect", (client) => client.on("error", () => {}));
  const health = new StoreHealth(describePostgres(options.url));
  const dialect = faultClassifyingDialect(
    new PostgresDialect({ pool: preparingPool(pool) }),
    classifyPostgresError,
    health,
  );
  const db = new Kysely<Database>({ dialect });
  const label = describePostgres(options.url);
  try {
    // The first connection's failure is said as one (which server, what refused, what to fix), not
    // as a failed migration or a passing outage: nothing retries at start.
    await sql`select 1`.execute(db).catch((error: unknown) => {
      throw postgresConnectError(options.url, error);
    });
    if (options.migrate === false) await requireCurrentSchema(db, "postgres", label);
    else await migrateToLatest(db, "postgres", label);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new LockboxDb(db, postgresDriver, health);
}

/** How long getting a connection may take before the store counts as unreachable. */
const CONNECT_TIMEOUT_MS = 10_000;

/** `PostgreSQL at host:port/database`: the URL without credentials or parameters, for logs. */
function describePostgres(url: string): string {
  try {
    const parsed = new URL(url);
    return `PostgreSQL at ${parsed.host}${parsed.pathname}`;
  } catch {
    return "PostgreSQL";
  }
}

const postgresDriver: DialectDriver = {
  dialect: "postgres",
  writeTransaction: (db, fn) => db.transaction().execute(fn),
  consistentRead: (db, fn) =>
    db.transaction().setIsolationLevel("repeatable read").setAccessMode("read only").execute(fn),
  async lockRow(conn, table, id) {
    const row = await conn.selectFrom(table).select("id").where("id", "=", id).forUpdate().executeTakeFirst();
    return row !== undefined;
  },
  async notify(conn, change, sentAtMs) {
    const payload = JSON.stringify({ kind: change.kind, id: change.id, at: sentAtMs });
    await sql`select pg_notify(${CHANGES_CHANNEL}, ${payload})`.execute(conn);
  },
  async lockAudit(conn) {
    await sql`select pg_advisory_xact_lock(${sql.lit(AUDIT_LOCK_KEY.toString())}::bigint)`.execute(conn);
  },
  constraintOf(error) {
    const code = (error as { code?: unknown }).code;
    if (code === "23505") return "unique";
    if (code === "23503") return "foreign-key";
    if (code === "23514") return "check";
    return undefined;
  },
  async destroy(db) {
    await db.destroy();
  },
};

/** What {@link listenForChanges} tells its owner. */
export interface ChangeHandlers {
  /**
   * A change committed by any process on the database (this one included), with the writer's
   * clock just before its commit (epoch ms) when the payload carries it.
   */
  onChange(change: StoreChange, sentAtMs: number | undefined): void;
  /** The listening connection is gone: changes may be missed until `onListening` is called again. */
  onLost(): void;
  /** Listening (again): changes from now on arrive; earlier ones may have been missed. */
  onListening(): void;
}

/** A running listener; `close()` stops it for good. */
export interface ChangeListener {
  readonly listening: boolean;
  close(): Promise<void>;
}

/** How the listener checks that its connection still answers (see {@link listenForChanges}). */
export interface ListenerOptions {
  /** Between two checks (default 1000 ms). */
  readonly heartbeatMs?: number;
  /** How long a check may wait for its answer before the connection counts as lost (default 1000 ms). */
  readonly heartbeatTimeoutMs?: number;
}

/**
 * LISTENs for changes on a dedicated connection outside the pool (a pooled connection would be
 * handed to queries and lose the subscription). When the connection drops it reports `onLost` and
 * reconnects with backoff (100 ms doubling to 5 s), reporting `onListening` once subscribed again.
 * Payloads that are not well-formed changes are ignored.
 *
 * A connection can also stall without dropping (a NAT or firewall that forgets it, a backend that
 * stops answering): no error, no end, and no notification either, while other servers' writes go
 * unseen. So the listener checks its connection with `SELECT 1` every `heartbeatMs`; an answer
 * late by more than `heartbeatTimeoutMs` counts as a drop (the socket is destroyed, `onLost`, then
 * a new connection), so a server stops trusting its caches within about two seconds of a stall.
 */
export function listenForChanges(
  url: string,
  handlers: ChangeHandlers,
  options: ListenerOptions = {},
): ChangeListener {
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 1000;
  let client: pg.Client | undefined;
  let closed = false;
  let listening = false;
  let delayMs = 100;
  let timer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  const lost = (dead: pg.Client) => {
    if (client !== dead) return;
    client = undefined;
    clearTimeout(heartbeat);
    dead.removeAllListeners();
    dead.on("error", () => {});
    void dead.end().catch(() => {});
    // end() waits for the server's goodbye, which a stalled connection never sends.
    dead.connection.stream.destroy();
    if (listening) {
      listening = false;
      handlers.onLost();
    }
    if (!closed) {
      timer = setTimeout(connect, delayMs);
      timer.unref();
      delayMs = Math.min(delayMs * 2, 5000);
    }
  };

  /** Checks `live` every heartbeatMs while it is the listening connection. */
  const beat = (live: pg.Client) => {
    heartbeat = setTimeout(async () => {
      if (client !== live) return;
      let deadline: NodeJS.Timeout | undefined;
      const answered = await Promise.race([
        live.query("SELECT 1").then(
          () => true,
          () => false,
        ),
        new Promise<false>((resolve) => {
          deadline = setTimeout(() => resolve(false), heartbeatTimeoutMs);
        }),
      ]);
      clearTimeout(deadline);
      if (client !== live) return;
      if (answered) beat(live);
      else lost(live);
    }, heartbeatMs);
    heartbeat.unref();
  };

  const connect = async () => {
    if (closed) return;
    const next = new pg.Client({
      connectionString: url,
      application_name: LISTENER_APPLICATION_NAME,
      keepAlive: true,
      // A server that accepts the connection but never answers must not hold up the reconnection.
      connectionTimeoutMillis: 5000,
      query_timeout: 5000,
    });
    client = next;
    next.on("error", () => lost(next));
    next.on("end", () => lost(next));
    next.on("notification", (message) => {
      if (message.channel !== CHANGES_CHANNEL || message.payload === undefined) return;
      const parsed = parseChange(message.payload);
      if (parsed) handlers.onChange(parsed.change, parsed.sentAtMs);
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${CHANGES_CHANNEL}`);
      if (client !== next || closed) return;
      listening = true;
      delayMs = 100;
      handlers.onListening();
      beat(next);
    } catch {
      lost(next);
    }
  };

  void connect();
  return {
    get listening() {
      return listening;
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      clearTimeout(heartbeat);
      const current = client;
      client = undefined;
      listening = false;
      if (current) {
        current.removeAllListeners();
        current.on("error", () => {});
        // A stalled connection never answers the goodbye: wait a second at most, then cut it.
        let waited: NodeJS.Timeout | undefined;
        await Promise.race([
          current.end().catch(() => {}),
          new Promise((resolve) => {
            waited = setTimeout(resolve, 1000);
          }),
        ]);
        clearTimeout(waited);
        current.connection.stream.destroy();
      }
    },
  };
}

/** A change and its commit time (absent from payloads of servers before it was added). */
export function parseChange(
  payload: string,
): { change: StoreChange; sentAtMs: number | undefined } | undefined {
  try {
    const parsed = JSON.parse(payload) as { kind?: unknown; id?: unknown; at?: unknown };
    if (
      (parsed.kind === "site" || parsed.kind === "org" || parsed.kind === "token") &&
      typeof parsed.id === "string"
    ) {
      const sentAtMs = typeof parsed.at === "number" && Number.isFinite(parsed.at) ? parsed.at : undefined;
      return { change: { kind: parsed.kind, id: parsed.id }, sentAtMs };
    }
  } catch {
    // Not ours: ignore.
  }
  return undefined;
}
