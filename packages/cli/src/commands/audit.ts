import type { AuditEvent } from "@lockbox/sdk";
import type { Command } from "commander";
import { parsePositiveInteger, parseSiteArg } from "../arguments.js";
import { formatOption, parseOrgArg, pick, withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { CliError, UsageError } from "../errors.js";
import { type ListFormat, printList } from "../output.js";

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** The largest page the server serves. */
const MAX_AUDIT_LIMIT = 1000;

/**
 * Turns `--since` into an ISO time: an age (`90m`, `24h`, `7d`, `2w`) counts back from `now`; a
 * date (`2026-11-01`, midnight UTC) or a date and time (`2026-11-01T08:00:00Z`) is taken as is.
 *
 * @throws {UsageError} for anything else.
 */
export function parseSince(text: string, now: Date): string {
  const age = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  if (age) {
    const amount = Number(age[1]);
    const unit = UNIT_MS[age[2] as string] as number;
    return new Date(now.getTime() - amount * unit).toISOString();
  }
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(text.trim());
  const at = Date.parse(dateOnly ? `${text.trim()}T00:00:00Z` : text.trim());
  if (!/^\d{4}-\d{2}-\d{2}/.test(text.trim()) || Number.isNaN(at)) {
    throw new UsageError(
      `Invalid --since '${text}': use a date (2026-11-01, midnight UTC), a date and time (2026-11-01T08:00:00Z) or an age (90m, 24h, 7d, 2w).`,
    );
  }
  return new Date(at).toISOString();
}

const TARGET_UUID =
  /\b(site|org|user):[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}:/g;

/**
 * An audit target by name, with its environment as the CLI writes one: the event of
 * `site:<uuid>:my-site/secret:API_KEY` in `live` reads `site:my-site.live/secret:API_KEY` (the
 * UUIDs, which keep the event meaningful after a rename, stay in JSON and YAML).
 */
export function targetNames(target: string, environment: string | null): string {
  const [owner = "", ...rest] = target.replace(TARGET_UUID, "$1:").split("/");
  return [environment === null ? owner : `${owner}.${environment}`, ...rest].join("/");
}

/** Registers `audit:list` and `audit:verify`. */
export function registerAuditCommands(program: Command, context: CliContext): void {
  program.commandsGroup("Audit:");

  withExamples(
    program
      .command("audit:list")
      .description(
        "List audit events, newest first: who did what to what, and when (never a value). The table names things (site.env/secret:NAME) and fits 120 columns; --format=json or yaml gives every field (UUIDs, request ids, hashes).",
      )
      .option("--org <org>", "events concerning this organization")
      .option("--site <site>", "events concerning this site")
      .option("--since <when>", "events at or after a date (2026-11-01), a time, or an age (24h, 7d)")
      .option("--limit <n>", `at most this many events (1-${MAX_AUDIT_LIMIT})`, "100")
      .addOption(formatOption())
      .action(
        async (options: {
          org?: string;
          site?: string;
          since?: string;
          limit: string;
          format: ListFormat;
        }) => {
          const org = options.org === undefined ? undefined : parseOrgArg(options.org);
          const site = options.site === undefined ? undefined : parseSiteArg(options.site, "forbidden").site;
          const since = options.since === undefined ? undefined : parseSince(options.since, new Date());
          const limit = parsePositiveInteger(options.limit, "--limit", MAX_AUDIT_LIMIT);
          const client = await context.client();
          const page = await client.listAudit({ org, site, since, limit });
          printList<AuditEvent>(
            context,
            page.items,
            [
              { header: "seq", get: (event) => event.seq },
              { header: "at", get: (event) => event.at.replace(/\.\d+Z$/, "Z") },
              { header: "actor", get: (event) => pick(event, "actorEmail", "actor"), table: "shrink" },
              { header: "action", get: (event) => event.action },
              {
                header: "target",
                get: (event) => targetNames(event.target, event.environment),
                table: "shrink",
              },
              { header: "env", get: (event) => pick(event, "environment"), table: "hide" },
              { header: "outcome", get: (event) => event.outcome },
              { header: "request", get: (event) => pick(event, "requestId"), table: "hide" },
            ],
            options.format,
            "No audit events match.",
          );
        },
      ),
    [
      "lockbox audit:list --site=my-site --since=24h",
      "lockbox audit:list --org=acme --since=2026-11-01 --limit=500 --format=json",
    ],
  );

  withExamples(
    program
      .command("audit:verify")
      .description(
        "Check the audit log's hash chain (platform admin); exits 1 and names the first bad event when it is broken.",
      )
      .addOption(formatOption(["table", "json"]))
      .action(async (options: { format: ListFormat }) => {
        const client = await context.client();
        const result = await client.verifyAudit();
        if (options.format === "json") context.data(JSON.stringify(result, null, 2));
        if (!result.ok) {
          throw new CliError(
            result.message ??
              `The audit chain is broken${result.seq === undefined ? "" : ` at event #${result.seq}`}${result.problem === undefined ? "" : ` (${result.problem})`}.`,
          );
        }
        context.info(`The audit chain is intact: ${result.checked} events checked.`);
      }),
    ["lockbox audit:verify", "lockbox audit:verify --format=json"],
  );
}
