import type { Writable } from "node:stream";
import { isLockboxError } from "@lockbox/core";
import {
  checkDatabase,
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_RATE_LIMIT,
  databaseOf,
  isPostgresUrl,
  parseMaxConnections,
  parseMaxConnectionsPerAddress,
  parseMaxHeldRequests,
  parseRateLimit,
  parseRequestTimeout,
} from "./config.js";
import { parseRetention } from "./secrets/retention.js";
import { type ServerOptions, startServer } from "./server.js";

/** The flags of `server:start` as both `npm start` and `lockbox server:start` take them. */
export interface ServerFlags {
  readonly db?: string | undefined;
  readonly host?: string | undefined;
  readonly port?: string | number | undefined;
  readonly masterKeyFile?: string | undefined;
  readonly rateLimit?: string | undefined;
  readonly trustProxy?: boolean | undefined;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  readonly requestTimeout?: string | undefined;
  readonly maxConnections?: string | undefined;
  readonly maxConnectionsPerAddress?: string | undefined;
  readonly maxHeldRequests?: string | undefined;
  readonly retainVersions?: string | undefined;
  readonly retainDeletedDays?: string | undefined;
}

/** What is wrong with the flags themselves (a usage error, exit 2), before anything is opened. */
function flagProblem(flags: ServerFlags, db: string, port: number): string | undefined {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return `Invalid --port '${flags.port}': use a number from 0 to 65535.`;
  }
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    return "HTTPS needs both --tls-cert and --tls-key.";
  }
  try {
    checkDatabase(db);
    parseRateLimit(flags.rateLimit ?? DEFAULT_RATE_LIMIT);
    if (flags.requestTimeout !== undefined) parseRequestTimeout(flags.requestTimeout);
    if (flags.maxConnections !== undefined) parseMaxConnections(flags.maxConnections);
    if (flags.maxConnectionsPerAddress !== undefined) {
      parseMaxConnectionsPerAddress(flags.maxConnectionsPerAddress);
    }
    if (flags.maxHeldRequests !== undefined) parseMaxHeldRequests(flags.maxHeldRequests);
    if (flags.retainVersions !== undefined) parseRetention("--retain-versions", flags.retainVersions);
    if (flags.retainDeletedDays !== undefined) {
      parseRetention("--retain-deleted-days", flags.retainDeletedDays);
    }
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}

/**
 * Starts the server from flags and the environment, prints what a newcomer needs next (the admin
 * token once, on the first start), and stops gracefully on SIGTERM/SIGINT: in-flight requests
 * finish, the store closes. Resolves with the exit code once stopped.
 */
export async function runServer(
  flags: ServerFlags,
  io: { stdout: Writable; stderr: Writable; env: Readonly<Record<string, string | undefined>> },
): Promise<number> {
  const db = databaseOf(flags.db, io.env);
  const port = Number(flags.port ?? DEFAULT_PORT);
  const usage = flagProblem(flags, db, port);
  if (usage !== undefined) {
    io.stderr.write(`${usage}\n`);
    return 2;
  }
  const options: ServerOptions = {
    db,
    host: flags.host ?? DEFAULT_HOST,
    port,
    masterKeyFile: flags.masterKeyFile,
    rateLimit: flags.rateLimit,
    trustProxy: flags.trustProxy,
    tlsCert: flags.tlsCert,
    tlsKey: flags.tlsKey,
    requestTimeout: flags.requestTimeout,
    maxConnections: flags.maxConnections,
    maxConnectionsPerAddress: flags.maxConnectionsPerAddress,
    maxHeldRequests: flags.maxHeldRequests,
    retainVersions: flags.retainVersions,
    retainDeletedDays: flags.retainDeletedDays,
    env: io.env,
    log: true,
  };
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(options);
  } catch (error) {
    io.stderr.write(
      `Lockbox cannot start: ${isLockboxError(error) || error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  }
  const where = isPostgresUrl(db) ? "PostgreSQL" : `SQLite: ${db}`;
  const lines = [`Lockbox is listening on ${server.url} (${where}).`, ""];
  for (const warning of server.warnings) io.stderr.write(`Warning: ${warning}\n`);
  if (server.createdKeyFile) {
    lines.push(
      `Created the master key ${server.createdKeyFile} (mode 0600).`,
      "Back it up separately from the database: without it no secret can be decrypted.",
      "",
    );
  }
  const cli = "npx lockbox";
  if (server.bootstrap.created && server.bootstrap.token) {
    lines.push(
      `The platform admin is ${server.bootstrap.admin.email}. Its token, shown only this once:`,
      "",
      `    ${server.bootstrap.token}`,
      "",
      "Next, in another shell from this folder:",
      `    ${cli} auth:login --url ${server.url}      (paste the token above when asked)`,
      `    ${cli} org:create my-org`,
      `    ${cli} site:create my-org-site --org=my-org`,
      `    ${cli} secret:site:set my-org-site API_KEY s3cr3t --scope=web,user`,
      `    ${cli} secret:site:list my-org-site`,
      "",
    );
  } else if (server.bootstrap.created) {
    lines.push(
      `The platform admin ${server.bootstrap.admin.email} uses the token from LOCKBOX_BOOTSTRAP_TOKEN.`,
      "",
    );
  } else {
    lines.push(
      `Log in with: ${cli} auth:login --url ${server.url}`,
      `Lost the admin token? Run, on this machine (the server may keep running): ${cli} admin:token --db ${isPostgresUrl(db) ? "<postgres URL>" : db}`,
      "",
    );
  }
  io.stdout.write(`${lines.join("\n")}\n`);

  return new Promise<number>((resolveExit) => {
    const stop = (signal: string) => {
      io.stderr.write(`Received ${signal}: finishing requests and closing the store…\n`);
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      server.close().then(
        () => resolveExit(0),
        (error: unknown) => {
          io.stderr.write(`Lockbox did not stop cleanly: ${(error as Error).message}\n`);
          resolveExit(1);
        },
      );
    };
    const onTerm = () => stop("SIGTERM");
    const onInt = () => stop("SIGINT");
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
  });
}
