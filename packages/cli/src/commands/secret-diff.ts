import { environmentNameSchema, quoteIdentifier, type Scope } from "@lockbox/core";
import type { ResolvedSecret } from "@lockbox/sdk";
import { type Command, Option } from "commander";
import { parseSiteArg, type SiteTarget } from "../arguments.js";
import { withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { UsageError } from "../errors.js";
import { REDACTED, renderTable, toYaml } from "../output.js";
import { consumerScopeOption, describeSide } from "./secret-get.js";

/** How one name compares between the two sides. */
export type DiffStatus = "only-in-a" | "only-in-b" | "different" | "same" | "unknown";

/** One side of a name: where its value comes from, and the value when shown (`null`: redacted). */
interface DiffSide {
  readonly source: string;
  readonly value?: string | null;
}

/** One name of the diff. */
export interface DiffEntry {
  readonly name: string;
  readonly status: DiffStatus;
  readonly a: DiffSide | null;
  readonly b: DiffSide | null;
}

const DIFF_FORMATS = ["table", "json", "yaml"] as const;

interface DiffOptions {
  readonly scope: Scope;
  readonly format: (typeof DIFF_FORMATS)[number];
  readonly showValues?: boolean;
}

/** Registers `secret:site:diff`. */
export function registerSecretDiffCommand(program: Command, context: CliContext): void {
  withExamples(
    program
      .command("secret:site:diff")
      .description(
        "Compare what two environments (or two sites) resolve, name by name, with each side's source; exit 0 when all the same, 1 when not, 2 on error.",
      )
      .argument("<a>", "<site>.<env>, or <site> for its base values")
      .argument("<b>", "<site>.<env>, <site>, or .<env> for another environment of the first site")
      .addOption(consumerScopeOption())
      .addOption(
        new Option("--show-values", "show the values the user scope lets you read ([REDACTED] otherwise)"),
      )
      .addOption(new Option("--format <format>", "output format").choices(DIFF_FORMATS).default("table"))
      .action(async (aArg: string, bArg: string, options: DiffOptions) => {
        // Like diff(1): 1 means "differs", so a failure must say something else.
        context.failureExitCode = 2;
        if (aArg.startsWith(".")) {
          // '.live' borrows the site of the other side, which only the second side can do. The
          // examples repeat it only when it is an environment name (bounded, printable).
          const side = environmentNameSchema.safeParse(aArg.slice(1)).success ? aArg : ".<env>";
          throw new UsageError(
            `${quoteIdentifier(aArg)} names an environment of the first site, so it can only be the second side: lockbox secret:site:diff <site>.<env> ${side}, or name the site: <site>${side}.`,
          );
        }
        const a = parseSiteArg(aArg, "optional");
        const b = parseSiteArg(bArg.startsWith(".") ? `${a.site}${bArg}` : bArg, "optional");
        const client = await context.client();
        const rowsA = await client.resolve(a.site, a.env, options.scope);
        const rowsB = await client.resolve(b.site, b.env, options.scope);
        const entries = diffResolutions(a, rowsA, b, rowsB, options.showValues === true);
        printDiff(context, a, b, entries, options);
        context.exitCode = entries.every((entry) => entry.status === "same") ? 0 : 1;
      }),
    [
      "lockbox secret:site:diff my-site.test my-site.live",
      "lockbox secret:site:diff my-site.dev .live --show-values",
      "lockbox secret:site:diff my-site.live other-site.live --format=json",
      "lockbox secret:site:diff my-site my-site.live",
    ],
  );
}

/**
 * Compares two resolutions name by name. Values the caller may not read (`null`) cannot be compared
 * by the client, except where both sides provably hold the same stored value: the same site, the same
 * winning secret's base value (source `site` or `org` on both sides), or the same environment.
 * Otherwise the status is `unknown`: never guessed, and nothing of the value is derived.
 */
export function diffResolutions(
  a: SiteTarget,
  rowsA: readonly ResolvedSecret[],
  b: SiteTarget,
  rowsB: readonly ResolvedSecret[],
  showValues: boolean,
): DiffEntry[] {
  const byNameA = new Map(rowsA.map((row) => [row.name, row]));
  const byNameB = new Map(rowsB.map((row) => [row.name, row]));
  const names = [...new Set([...byNameA.keys(), ...byNameB.keys()])].sort();
  return names.map((name) => {
    const rowA = byNameA.get(name);
    const rowB = byNameB.get(name);
    return {
      name,
      status: compare(a, rowA, b, rowB),
      a: side(rowA, showValues),
      b: side(rowB, showValues),
    };
  });
}

function compare(
  a: SiteTarget,
  rowA: ResolvedSecret | undefined,
  b: SiteTarget,
  rowB: ResolvedSecret | undefined,
): DiffStatus {
  if (rowA === undefined) return "only-in-b";
  if (rowB === undefined) return "only-in-a";
  if (rowA.value !== null && rowB.value !== null) return rowA.value === rowB.value ? "same" : "different";
  const sameStoredValue =
    a.site === b.site &&
    rowA.source === rowB.source &&
    (rowA.source === "site" || rowA.source === "org" || a.env === b.env);
  return sameStoredValue ? "same" : "unknown";
}

function side(row: ResolvedSecret | undefined, showValues: boolean): DiffSide | null {
  if (row === undefined) return null;
  return showValues ? { source: row.source, value: row.value } : { source: row.source };
}

function printDiff(
  context: CliContext,
  a: SiteTarget,
  b: SiteTarget,
  entries: readonly DiffEntry[],
  options: DiffOptions,
): void {
  const labelA = describeSide(a.site, a.env);
  const labelB = describeSide(b.site, b.env);
  if (options.format !== "table") {
    const data = {
      a: { site: a.site, env: a.env ?? null },
      b: { site: b.site, env: b.env ?? null },
      scope: options.scope,
      // Object.fromEntries keeps a secret named `__proto__` a plain key.
      secrets: Object.fromEntries(
        entries.map(({ name, status, a: sideA, b: sideB }) => [name, { status, a: sideA, b: sideB }]),
      ),
    };
    context.data(options.format === "json" ? JSON.stringify(data, null, 2) : toYaml(data));
    return;
  }
  if (entries.length === 0) {
    context.info(`No secrets reach the ${options.scope} scope in ${labelA} or ${labelB}.`);
    return;
  }
  const head = ["name", "status", `source in ${labelA}`, `source in ${labelB}`];
  if (options.showValues === true) head.push(`value in ${labelA}`, `value in ${labelB}`);
  const rows = entries.map((entry) => {
    const cells = [entry.name, entry.status, entry.a?.source ?? "-", entry.b?.source ?? "-"];
    if (options.showValues === true) cells.push(valueCell(entry.a), valueCell(entry.b));
    return cells;
  });
  context.data(renderTable(head, rows));
}

function valueCell(side: DiffSide | null): string {
  if (side === null) return "-";
  return side.value === null || side.value === undefined ? REDACTED : side.value;
}
