import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { LISTENER_APPLICATION_NAME } from "../db/postgres.js";
import type { RunningServer } from "../server.js";

/** One request to a running server with `token`: its status, headers, text and parsed JSON. */
export async function callServer(
  server: RunningServer,
  method: string,
  path: string,
  token: string,
  body?: unknown,
) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: text ? JSON.parse(text) : undefined,
  };
}

/** The process ids of the backends of every Lockbox change listener on the PostgreSQL at `url`. */
export async function listenerPids(url: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query(
      "select pid from pg_stat_activity where application_name = $1 and state is not null",
      [LISTENER_APPLICATION_NAME],
    );
    return result.rows.map((row: { pid: number }) => row.pid);
  } finally {
    await client.end();
  }
}

/** Waits (20 s at most) until `count` listeners are up at `url` on backends other than `old`. */
export async function waitForListeners(
  url: string,
  count: number,
  old: readonly number[] = [],
): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await listenerPids(url)).filter((pid) => !old.includes(pid)).length < count) {
    if (Date.now() > deadline) throw new Error("the servers did not LISTEN");
    await sleep(20);
  }
}
