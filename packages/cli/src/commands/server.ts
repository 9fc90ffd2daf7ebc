import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
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
        "Start the Lockbox server: SQLite by default (./data/lockbox.db) or PostgreSQL with a postgres:// URL. The first start on an empty store creates the platform admin and prints its token once.",
      )
      .option(
        "--db <path-or-url>",
        "SQLite file or postgres:// URL (default: LOCKBOX_DB or ./data/lockbox.db)",
      )
      .option("--host <host>", "address to listen on", "127.0.0.1")
      .option("--port <port>", "port to listen on", "8200")
      .option(
        "--master-key-file <path>",
        "file holding the base64 master key (instead of LOCKBOX_MASTER_KEY)",
      )
      .option("--rate-limit <rps/burst>", "management API rate limit per token, 0 to disable", "10/20")
      .option("--trust-proxy", "trust X-Forwarded-* headers from a reverse proxy")
      .option("--tls-cert <path>", "PEM certificate, to serve HTTPS (with --tls-key)")
      .option("--tls-key <path>", "PEM private key, to serve HTTPS (with --tls-cert)")
      .action(async (options: Record<string, string | boolean | undefined>) => {
        const { runServer } = await import("@lockbox/server");
        context.exitCode = await runServer(
          {
            db: options.db as string | undefined,
            host: options.host as string,
            port: options.port as string,
            masterKeyFile: options.masterKeyFile as string | undefined,
            rateLimit: options.rateLimit as string,
            trustProxy: options.trustProxy === true,
            tlsCert: options.tlsCert as string | undefined,
            tlsKey: options.tlsKey as string | undefined,
          },
          { stdout: process.stdout, stderr: process.stderr, env: context.io.env },
        );
      }),
    [
      "lockbox server:start",
      "lockbox server:start --db=postgres://lockbox@db/lockbox --master-key-file=master.key --host=0.0.0.0",
      "lockbox server:start --tls-cert=cert.pem --tls-key=key.pem --port=8443",
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
        "SQLite file or postgres:// URL (default: LOCKBOX_DB or ./data/lockbox.db)",
      )
      .action(async (options: { db?: string }) => {
        const server = await import("@lockbox/server");
        const db = databaseOf(context, options.db, server.DEFAULT_DB, server.isPostgresUrl);
        const store = await server.openStore(db, { exclusive: false });
        try {
          const token = await server.mintAdminToken({ actor: "cli:admin:token" }, store);
          context.info(
            `Created a new token for ${server.ADMIN_EMAIL}. It is shown only this once: store it now.`,
          );
          context.data(token);
        } finally {
          await store.close();
        }
      }),
    ["lockbox admin:token", "lockbox admin:token --db=./data/lockbox.db | tail -n1"],
  );

  withExamples(
    program
      .command("keys:rotate")
      .description(
        "Re-wrap every data key under a new master key, in batches, while servers keep serving. Needs the current master key (LOCKBOX_MASTER_KEY, --master-key-file or the key file beside a SQLite database) and the new one.",
      )
      .requiredOption("--new-master-key-file <path>", "file holding the new base64 master key")
      .option(
        "--db <path-or-url>",
        "SQLite file or postgres:// URL (default: LOCKBOX_DB or ./data/lockbox.db)",
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
          const db = databaseOf(context, options.db, server.DEFAULT_DB, server.isPostgresUrl);
          const postgres = server.isPostgresUrl(db);
          const current = server.loadMasterKeys({
            env: context.io.env,
            ...(options.masterKeyFile !== undefined ? { masterKeyFile: options.masterKeyFile } : {}),
            ...(postgres ? {} : { defaultKeyFile: join(dirname(resolve(db)), "master.key") }),
            createIfMissing: false,
          });
          const next = server.readMasterKeyFile(options.newMasterKeyFile);
          for (const warning of [...current.warnings, ...next.warnings]) context.warn(warning);
          const keyring = server.Keyring.fromKeys(next.key, [current.current, ...current.previous]);
          const store = await server.openStore(db, { exclusive: false });
          try {
            await server.checkMasterKey(store, keyring);
            const bar = new ProgressBar(context.io.stderr, "data keys");
            const { rewrapped } = await server.rotateMasterKey({ actor: "cli:keys:rotate" }, store, keyring, {
              batchSize: Number(options.batchSize),
              onProgress: (done, total) => bar.update(done, total),
            });
            context.info(`Re-wrapped ${rewrapped} data key(s) under master key '${keyring.currentKeyId}'.`);
            context.info(
              postgres
                ? "Next: restart every server with the new key in LOCKBOX_MASTER_KEY and the old one in LOCKBOX_PREVIOUS_MASTER_KEYS, run keys:rotate again (it re-wraps keys created meanwhile), then drop the old key."
                : `Next: stop the server, replace ${join(dirname(resolve(db)), "master.key")} with the new key file (or pass --master-key-file), and start it again.`,
            );
          } finally {
            await store.close();
          }
        },
      ),
    [
      "lockbox keys:rotate --new-master-key-file=new.key      (make new.key with: openssl rand -base64 32)",
      "lockbox keys:rotate --db=postgres://lockbox@db/lockbox --master-key-file=old.key --new-master-key-file=new.key",
    ],
  );
}

/** The database to open: `--db`, `LOCKBOX_DB` or the default; a SQLite file must already exist. */
function databaseOf(
  context: CliContext,
  flag: string | undefined,
  fallback: string,
  isPostgresUrl: (db: string) => boolean,
): string {
  const db = flag ?? context.io.env.LOCKBOX_DB ?? fallback;
  if (!isPostgresUrl(db) && !existsSync(db)) {
    throw new CliError(
      `No Lockbox database at '${db}': pass --db with the server's database (SQLite path or postgres:// URL).`,
    );
  }
  return db;
}
