import { existsSync } from "node:fs";
import { SERVER_DEFAULTS } from "@lockbox/core";
import type { Command } from "commander";
import { parsePositiveInteger } from "../arguments.js";
import { withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { CliError } from "../errors.js";
import { ProgressBar } from "../progress.js";
import { existingDatabase } from "./server.js";

/** The largest `--batch-size`. */
const MAX_BATCH_SIZE = 5000;

/**
 * Registers `backup` and `store:copy`, which work on stores directly on the server's machine: a
 * consistent backup of a live store into a new SQLite file, and a whole store into an empty one
 * (SQLite → PostgreSQL, or a backup back into service), checked afterwards.
 */
export function registerStoreCommands(program: Command, context: CliContext): void {
  withExamples(
    program
      .command("backup")
      .description(
        "Write a consistent snapshot of a store into a new SQLite file while servers keep writing (SQLite: one read transaction; PostgreSQL: one REPEATABLE READ transaction). Values stay sealed as stored: the file is useless without the master key, and making it needs none. Back up the master key separately. Restore with store:copy --from=<backup file>. An existing file is refused.",
      )
      .requiredOption("--to <file>", "the new SQLite file to write (must not exist)")
      .option(
        "--db <path-or-url>",
        `the store: SQLite file or postgres:// URL (default: LOCKBOX_DB or ${SERVER_DEFAULTS.db})`,
      )
      .option("--batch-size <n>", "rows per batch", "500")
      .action(async (options: { to: string; db?: string; batchSize: string }) => {
        const batchSize = parsePositiveInteger(options.batchSize, "--batch-size", MAX_BATCH_SIZE);
        if (existsSync(options.to)) {
          throw new CliError(
            `The backup file '${options.to}' already exists: a backup never overwrites a file. Name a new file (for example with the date in it) or move the old one away.`,
          );
        }
        const server = await import("@lockbox/server");
        const db = existingDatabase(context, options.db, server);
        const bar = new ProgressBar(context.io.stderr, "rows");
        const result = await server.backupStore({
          db,
          to: options.to,
          batchSize,
          onProgress: (done, total) => bar.update(done, total),
        });
        const total = Object.values(result.rows).reduce((sum, n) => sum + n, 0);
        context.info(
          `Backed up ${total} row(s) into '${options.to}' (values sealed; keep the master key separately, it is needed to restore).`,
        );
      }),
    [
      "lockbox backup --to=backups/lockbox-2026-12-01.db",
      "lockbox backup --db=postgres://lockbox@db/lockbox --to=lockbox-$(date +%F).db",
    ],
  );

  withExamples(
    program
      .command("store:copy")
      .description(
        "Copy a whole store into an empty one (a new SQLite file, or a created PostgreSQL database with no Lockbox rows): SQLite → PostgreSQL to grow past one machine, or a backup file back into service. Stop the source's servers first (a backup file needs nothing). Then checks the copy: rows per table, audit:verify on the target, and every site environment's runtime Version on both sides (needs the master key: LOCKBOX_MASTER_KEY, --master-key-file, or the key file beside a SQLite source). Prints a summary; exits 1 on any mismatch.",
      )
      .requiredOption("--from <path-or-url>", "the store to copy: SQLite file (or backup) or postgres:// URL")
      .requiredOption("--to <path-or-url>", "the empty store to fill: a new SQLite file or postgres:// URL")
      .option(
        "--master-key-file <path>",
        "file holding the base64 master key (instead of LOCKBOX_MASTER_KEY)",
      )
      .option("--batch-size <n>", "rows per batch", "500")
      .action(async (options: { from: string; to: string; masterKeyFile?: string; batchSize: string }) => {
        const batchSize = parsePositiveInteger(options.batchSize, "--batch-size", MAX_BATCH_SIZE);
        const server = await import("@lockbox/server");
        const from = existingDatabase(context, options.from, server);
        const bar = new ProgressBar(context.io.stderr, "rows");
        const result = await server.copyStore({
          from,
          to: options.to,
          env: context.io.env,
          masterKeyFile: options.masterKeyFile,
          batchSize,
          onProgress: (done, total) => bar.update(done, total),
        });
        printSummary(context, result);
        if (!result.ok) {
          throw new CliError(
            "The copy does not match its source (see above). If the source changed during the copy, stop its servers (or copy from a backup file) and copy again into a new, empty store.",
          );
        }
      }),
    [
      "lockbox store:copy --from=data/lockbox.db --to=postgres://lockbox@db/lockbox",
      "lockbox store:copy --from=lockbox-2026-12-01.db --to=postgres://lockbox@db/lockbox_restored --master-key-file=master.key",
    ],
  );
}

/** The checks of a copy, one line each, on stdout. */
function printSummary(
  context: CliContext,
  result: Awaited<ReturnType<typeof import("@lockbox/server").copyStore>>,
): void {
  const width = Math.max(...result.tables.map((t) => t.table.length));
  context.data(`${"table".padEnd(width)}  ${"source".padStart(8)}  ${"target".padStart(8)}`);
  for (const t of result.tables) {
    const mark = t.source === t.target ? "" : "  MISMATCH";
    context.data(
      `${t.table.padEnd(width)}  ${String(t.source).padStart(8)}  ${String(t.target).padStart(8)}${mark}`,
    );
  }
  context.data(
    result.audit.ok
      ? `audit:verify on the target: OK (${result.audit.checked} events)`
      : `audit:verify on the target: FAILED: ${result.audit.message}`,
  );
  context.data(
    result.versionMismatches.length === 0
      ? `runtime Version: equal for all ${result.environments} site environment(s)`
      : `runtime Version: DIFFERS for ${result.versionMismatches.length} site environment(s): ${result.versionMismatches.join(", ")}`,
  );
  context.data(result.ok ? "Copy complete and verified." : "Copy FAILED verification.");
}
