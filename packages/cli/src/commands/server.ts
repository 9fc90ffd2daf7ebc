import { existsSync } from "node:fs";
import { SERVER_DEFAULTS } from "@lockbox/core";
import type { Command } from "commander";
import { withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { CliError } from "../errors.js";
import { ProgressBar } from "../progress.js";

/**
 * Registers the commands that run on the server's machine: `server:start`, and the offline
 * `admin:token` and `keys:rotate`, which open the store directly. The server package is loaded
 * only when one of them runs, so everyday commands start fast.
 */
export function registerServerCommands(program: Command, context: CliContext): void {
  program.commandsGroup("Server (on the server's machine):");

  withExamples(
    program
      .command("server:start")
      .description(
        `Start the Lockbox server: SQLite by default (${SERVER_DEFAULTS.db}) or PostgreSQL with a postgres:// URL. The first start on an empty store creates the platform admin and prints its token once.`,
      )
      .option(
        "--db <path-or-url>",
        `SQLite file or postgres:// URL (default: LOCKBOX_DB or ${SERVER_DEFAULTS.db})`,
      )
      .option("--host <host>", `address to listen on (default: ${SERVER_DEFAULTS.host})`)
      .option("--port <port>", `port to listen on (default: ${SERVER_DEFAULTS.port})`)
      .option(
        "--master-key-file <path>",
        "file holding the base64 master key (instead of LOCKBOX_MASTER_KEY)",
      )
      .option(
        "--rate-limit <rps/burst>",
        `management API rate limit per token, 0 to disable (default: ${SERVER_DEFAULTS.rateLimit})`,
      )
      .option(
        "--request-timeout <seconds>",
        `seconds a client has to send a whole request, headers and body, 0 for none; the time the server takes to answer does not count (default: ${SERVER_DEFAULTS.requestTimeout})`,
      )
      .option(
        "--max-connections <n>",
        `connections open at once, 0 for no cap; over it new connections are closed at once (default: ${SERVER_DEFAULTS.maxConnections})`,
      )
      .option(
        "--max-connections-per-address <n>",
        `connections open at once from one client address, 0 for no cap; over it that address's new connections are closed at once (default: ${SERVER_DEFAULTS.maxConnectionsPerAddress}, none with --trust-proxy)`,
      )
      .option(
        "--max-held-requests <n>",
        `blocking reads (GET /site/secrets?wait=) held at once; over it a blocking read answers 304 with Retry-After at once (default: ${SERVER_DEFAULTS.maxHeldRequests})`,
      )
      .option(
        "--retain-versions <n>",
        `versions of each secret value (base or override) kept in its history; older ones are pruned in the background, never the current value (default: ${SERVER_DEFAULTS.retainVersions})`,
      )
      .option(
        "--retain-deleted-days <days>",
        `days a deleted secret, with its overrides and history, can be restored before it is pruned (default: ${SERVER_DEFAULTS.retainDeletedDays})`,
      )
      .option("--trust-proxy", "trust X-Forwarded-* and X-Request-Id headers from a reverse proxy")
      .option("--tls-cert <path>", "PEM certificate, to serve HTTPS (with --tls-key)")
      .option("--tls-key <path>", "PEM private key, to serve HTTPS (with --tls-cert)")
      .action(async (options: Record<string, string | boolean | undefined>) => {
        const { runServer } = await import("@lockbox/server");
        context.exitCode = await runServer(
          {
            db: options.db as string | undefined,
            host: options.host as string | undefined,
            port: options.port as string | undefined,
            masterKeyFile: options.masterKeyFile as string | undefined,
            rateLimit: options.rateLimit as string | undefined,
            trustProxy: options.trustProxy === true,
            tlsCert: options.tlsCert as string | undefined,
            tlsKey: options.tlsKey as string | undefined,
            requestTimeout: options.requestTimeout as string | undefined,
            maxConnections: options.maxConnections as string | undefined,
            maxConnectionsPerAddress: options.maxConnectionsPerAddress as string | undefined,
            maxHeldRequests: options.maxHeldRequests as string | undefined,
            retainVersions: options.retainVersions as string | undefined,
            retainDeletedDays: options.retainDeletedDays as string | undefined,
          },
          { stdout: process.stdout, stderr: process.stderr, env: context.io.env },
        );
      }),
    [
      "lockbox server:start",
      "lockbox server:start --db=postgres://lockbox@db/lockbox --master-key-file=master.key --host=0.0.0.0",
      "lockbox server:start --tls-cert=cert.pem --tls-key=key.pem --port=8443",
      "lockbox server:start --retain-versions=20 --retain-deleted-days=90",
    ],
  );

  withExamples(
    program
      .command("admin:token")
      .description(
        "Mint a new token for the platform admin, offline, on the server's machine (when the admin's token is lost). Printed alone on the last line of stdout.",
      )
      .option(
        "--db <path-or-url>",
        `SQLite file or postgres:// URL (default: LOCKBOX_DB or ${SERVER_DEFAULTS.db})`,
      )
      .action(async (options: { db?: string }) => {
        const server = await import("@lockbox/server");
        const token = await server.adminTokenOffline(existingDatabase(context, options.db, server));
        context.info(
          `Created a new token for ${server.ADMIN_EMAIL}. It is shown only this once: store it now.`,
        );
        context.data(token);
      }),
    ["lockbox admin:token", "lockbox admin:token --db=./data/lockbox.db | tail -n1"],
  );

  withExamples(
    program
      .command("keys:rotate")
      .description(
        "Make a new master key the store's current key and re-wrap every data key under it, in batches, while servers keep serving. First restart every server with the new key and the old one in LOCKBOX_PREVIOUS_MASTER_KEYS; afterwards, restart them with the new key alone. Needs the current master key (LOCKBOX_MASTER_KEY, --master-key-file or the key file beside a SQLite database) and the new one.",
      )
      .requiredOption("--new-master-key-file <path>", "file holding the new base64 master key")
      .option(
        "--db <path-or-url>",
        `SQLite file or postgres:// URL (default: LOCKBOX_DB or ${SERVER_DEFAULTS.db})`,
      )
      .option("--master-key-file <path>", "file holding the current base64 master key")
      .option("--batch-size <n>", "data keys per batch", "100")
      .action(
        async (options: {
          newMasterKeyFile: string;
          db?: string;
          masterKeyFile?: string;
          batchSize: string;
        }) => {
          const server = await import("@lockbox/server");
          const bar = new ProgressBar(context.io.stderr, "data keys");
          const result = await server.rotateKeysOffline({
            db: existingDatabase(context, options.db, server),
            env: context.io.env,
            masterKeyFile: options.masterKeyFile,
            newMasterKeyFile: options.newMasterKeyFile,
            batchSize: Number(options.batchSize),
            onProgress: (done, total) => bar.update(done, total),
          });
          for (const warning of result.warnings) context.warn(warning);
          context.info(
            result.rewrapped === 0
              ? `No data key needed re-wrapping: there are none, or every one is already wrapped by master key '${result.newKeyId}' (an earlier keys:rotate to it finished).`
              : `Re-wrapped ${result.rewrapped} data key(s) under master key '${result.newKeyId}'.`,
          );
          // Even with nothing re-wrapped the store now names the new key as current: servers must use it.
          context.info(result.next);
        },
      ),
    [
      "lockbox keys:rotate --new-master-key-file=new.key      (make new.key with: openssl rand -base64 32)",
      "lockbox keys:rotate --db=postgres://lockbox@db/lockbox --master-key-file=old.key --new-master-key-file=new.key",
    ],
  );
}

/** The database to open: `--db`, `LOCKBOX_DB` or the default; a SQLite file must already exist. */
export function existingDatabase(
  context: CliContext,
  flag: string | undefined,
  server: Pick<typeof import("@lockbox/server"), "checkDatabase" | "databaseOf" | "isPostgresUrl">,
): string {
  const db = server.databaseOf(flag, context.io.env);
  server.checkDatabase(db);
  if (!server.isPostgresUrl(db) && !existsSync(db)) {
    throw new CliError(
      `No Lockbox database at '${db}': pass --db with the server's database (SQLite path or postgres:// URL).`,
    );
  }
  return db;
}
