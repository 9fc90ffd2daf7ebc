import { createHash } from "node:crypto";
import type { CompiledQuery, PostgresPool, PostgresPoolClient } from "kysely";
import type pg from "pg";

/** The SQL texts PostgreSQL keeps prepared on each connection, and their statement names. */
const preparedNames = new Map<string, string>();

/**
 * Marks a compiled statement to be prepared by name on each PostgreSQL connection that runs it, so
 * that the server plans it once per connection instead of at each execution (Kysely's driver sends
 * every query unnamed; planning the cold path's statement cost about as much as running it). For
 * statements run often with the same text only, and whose result columns are named: a prepared
 * statement's result type is fixed, so `select *` from a table a later migration widens would fail
 * on the connections that prepared it. Returns `compiled`, unchanged; SQLite caches every statement
 * already (`sqlite.ts`).
 */
export function preparedOnPostgres<R>(compiled: CompiledQuery<R>): CompiledQuery<R> {
  if (!preparedNames.has(compiled.sql)) {
    const digest = createHash("sha256").update(compiled.sql).digest("hex").slice(0, 24);
    preparedNames.set(compiled.sql, `lockbox_${digest}`);
  }
  return compiled;
}

/**
 * `pool` as Kysely's PostgreSQL dialect takes it, sending the statements {@link preparedOnPostgres}
 * marked by name (node-postgres parses a named statement once per connection, then only binds and
 * executes it) and every other one as before. One wrapper per pooled client, as Kysely keys its
 * connections by client.
 */
export function preparingPool(pool: pg.Pool): PostgresPool {
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const wrap = (client: pg.PoolClient): PostgresPoolClient => {
    // Kysely passes either SQL text and its parameters (a fresh array), or a cursor.
    const query = (textOrCursor: string | pg.Submittable, values?: unknown[]) => {
      if (typeof textOrCursor !== "string") return client.query(textOrCursor);
      const name = preparedNames.get(textOrCursor);
      if (name === undefined) return client.query(textOrCursor, values);
      return client.query({ name, text: textOrCursor, values: values ?? [] });
    };
    return {
      query: query as unknown as PostgresPoolClient["query"],
      release: (destroy) => client.release(destroy),
    };
  };
  return {
    async connect() {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (!wrapper) {
        wrapper = wrap(client);
        wrappers.set(client, wrapper);
      }
      return wrapper;
    },
    end: () => pool.end(),
  };
}
