import Table from "cli-table3";
import { Document, Scalar, visit } from "yaml";
import type { CliContext } from "./context.js";
import { UsageError } from "./errors.js";

/** The output formats of listings. */
export const LIST_FORMATS = ["table", "json", "yaml", "csv"] as const;

/** One of {@link LIST_FORMATS}. */
export type ListFormat = (typeof LIST_FORMATS)[number];

/**
 * A field's data. JSON and YAML show it as is (`null` is a redacted value); tables and CSV render
 * it with {@link cellText}.
 */
export type FieldValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | readonly string[]
  | Readonly<Record<string, string | null>>;

/** A row of a listing, by field name. */
export type Row = Readonly<Record<string, FieldValue>>;

/** The fields of a listing: all of them, and those a table shows by default. */
export interface FieldSet {
  readonly all: readonly string[];
  readonly tableDefault: readonly string[];
}

/** The text a redacted value shows in tables and CSV. */
export const REDACTED = "[REDACTED]";

/**
 * The fields to show: `--fields=a,b` (blanks and duplicates ignored), `--fields='*'` for all;
 * without `--fields`, a table shows the default fields and the other formats all of them.
 *
 * @throws {UsageError} for an unknown field or an empty list.
 */
export function chooseFields(
  fields: FieldSet,
  option: string | undefined,
  format: ListFormat,
): readonly string[] {
  if (option === undefined) return format === "table" ? fields.tableDefault : fields.all;
  if (option.trim() === "*") return fields.all;
  const chosen: string[] = [];
  for (const raw of option.split(",")) {
    const field = raw.trim();
    if (field === "" || chosen.includes(field)) continue;
    if (!fields.all.includes(field)) {
      throw new UsageError(
        `Unknown field '${field}': choose from ${fields.all.join(", ")}, or '*' for all of them.`,
      );
    }
    chosen.push(field);
  }
  if (chosen.length === 0) {
    throw new UsageError(`No fields given: choose from ${fields.all.join(", ")}, or '*' for all of them.`);
  }
  return chosen;
}

/**
 * How a field shows in a table cell or a CSV cell: lists as `web, user`, maps as `k=v, k=v`,
 * `null` (a redacted value) as `[REDACTED]`, a missing field as nothing.
 */
export function cellText(value: FieldValue): string {
  if (value === null) return REDACTED;
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (isStringArray(value)) return value.join(", ");
  return Object.entries(value)
    .map(([key, entry]) => `${key}=${entry === null ? REDACTED : entry}`)
    .join(", ");
}

function isStringArray(
  value: readonly string[] | Readonly<Record<string, string | null>>,
): value is readonly string[] {
  return Array.isArray(value);
}

/**
 * Prints a listing keyed by `name` (secret listings, SPEC §2.3): a table of `fields`; JSON or YAML
 * as an object keyed by name whose rows hold `fields` (`{}` when empty); CSV with a header row of
 * field names. An empty table prints `emptyMessage` to stderr and nothing to stdout.
 */
export function printKeyedListing(
  context: CliContext,
  rows: readonly Row[],
  fields: readonly string[],
  format: ListFormat,
  emptyMessage: string,
): void {
  switch (format) {
    case "json":
      context.data(JSON.stringify(keyedByName(rows, fields), null, 2));
      return;
    case "yaml":
      context.data(toYaml(keyedByName(rows, fields)));
      return;
    case "csv":
      context.data(
        renderCsv(
          fields,
          rows.map((row) => fields.map((field) => cellText(row[field]))),
        ),
      );
      return;
    case "table":
      if (rows.length === 0) {
        context.info(emptyMessage);
        return;
      }
      context.data(
        renderTable(
          fields,
          rows.map((row) => fields.map((field) => cellText(row[field]))),
        ),
      );
      return;
  }
}

function keyedByName(
  rows: readonly Row[],
  fields: readonly string[],
): Record<string, Record<string, FieldValue>> {
  // Object.fromEntries defines own properties, so a secret named `__proto__` stays a plain key.
  return Object.fromEntries(
    rows.map((row) => [
      String(row.name),
      Object.fromEntries(fields.map((field) => [field, row[field] ?? null])),
    ]),
  );
}

/** A column of a plain listing (orgs, sites, tokens …): its header and how to get its cell. */
export interface Column<T> {
  readonly header: string;
  readonly get: (item: T) => FieldValue;
  /**
   * In a table only: `hide` leaves the column out (CSV keeps it, JSON and YAML have every field);
   * `shrink` lets its long cells be cut short with `…` so that the table fits in
   * {@link TABLE_MAX_WIDTH} columns.
   */
  readonly table?: "hide" | "shrink";
}

/** The width a table with `shrink` columns keeps to: a normal terminal's. */
export const TABLE_MAX_WIDTH = 120;

/** A shrunk column keeps at least this many characters (or its header's). */
const MIN_SHRUNK_WIDTH = 12;

/**
 * Prints a plain listing: a table (or CSV) of `columns`; JSON or YAML as the server's items, whole.
 * An empty table prints `emptyMessage` to stderr.
 */
export function printList<T>(
  context: CliContext,
  items: readonly T[],
  columns: readonly Column<T>[],
  format: ListFormat,
  emptyMessage: string,
): void {
  const cellsOf = (shown: readonly Column<T>[]) =>
    items.map((item) => shown.map((column) => cellText(column.get(item))));
  switch (format) {
    case "json":
      context.data(JSON.stringify(items, null, 2));
      return;
    case "yaml":
      context.data(toYaml(items));
      return;
    case "csv":
      context.data(
        renderCsv(
          columns.map((column) => column.header),
          cellsOf(columns),
        ),
      );
      return;
    case "table": {
      if (items.length === 0) {
        context.info(emptyMessage);
        return;
      }
      const shown = columns.filter((column) => column.table !== "hide");
      const headers = shown.map((column) => column.header);
      const shrinkable = shown.map((column) => column.table === "shrink");
      context.data(renderTable(headers, fitToWidth(headers, cellsOf(shown), shrinkable, TABLE_MAX_WIDTH)));
      return;
    }
  }
}

/**
 * Cuts the cells of `shrinkable` columns short (ending them with `…`), the widest column first,
 * until a table of `head` and `rows` is at most `maxWidth` characters wide, or no shrinkable column
 * can give more. Other columns are never cut.
 */
export function fitToWidth(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  shrinkable: readonly boolean[],
  maxWidth: number,
): string[][] {
  const length = (text: string) => Math.max(...text.split("\n").map((line) => Array.from(line).length));
  const widths = head.map((header, i) =>
    Math.max(length(header), ...rows.map((row) => length(row[i] ?? ""))),
  );
  // renderTable puts a space before each column and pads it with one space on either side.
  let total = widths.reduce((sum, width) => sum + width, 0) + 3 * widths.length;
  while (total > maxWidth) {
    let widest = -1;
    for (const [i, width] of widths.entries()) {
      const floor = Math.max(MIN_SHRUNK_WIDTH, length(head[i] ?? ""));
      if (shrinkable[i] && width > floor && (widest === -1 || width > (widths[widest] ?? 0))) widest = i;
    }
    if (widest === -1) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
    total -= 1;
  }
  const cut = (text: string, width: number) =>
    text
      .split("\n")
      .map((line) => {
        const chars = Array.from(line);
        return chars.length > width ? `${chars.slice(0, width - 1).join("")}…` : line;
      })
      .join("\n");
  return rows.map((row) =>
    row.map((cell, i) => (shrinkable[i] ? cut(cell, widths[i] ?? cell.length) : cell)),
  );
}

/**
 * Prints one record: a two-column table of `fields` (label, value), or the server's object whole
 * as JSON or YAML.
 */
export function printRecord(
  context: CliContext,
  record: unknown,
  fields: readonly (readonly [string, FieldValue])[],
  format: ListFormat,
): void {
  switch (format) {
    case "json":
      context.data(JSON.stringify(record, null, 2));
      return;
    case "yaml":
      context.data(toYaml(record));
      return;
    case "csv":
      context.data(
        renderCsv(
          ["field", "value"],
          fields.map(([label, value]) => [label, cellText(value)]),
        ),
      );
      return;
    case "table":
      context.data(
        renderTable(
          ["field", "value"],
          fields.map(([label, value]) => [label, cellText(value)]),
        ),
      );
      return;
  }
}

/**
 * YAML that every reader reads back as the same data, YAML 1.2 (core schema) and YAML 1.1 alike
 * (PyYAML, Ruby's Psych, Go's yaml.v2): a string that either would resolve to something else
 * (`on`, `no`, `y`, `~`, `0o17`, `017`, `1_000`, `1:20`, `.inf`, `2026-11-01` …) is quoted, and so
 * is one that a 1.1 reader cannot hold unquoted (see {@link needsDoubleQuotes}). Lines are not
 * folded: one scalar stays on one line, or in one block.
 */
export function toYaml(data: unknown): string {
  // `compat` makes the library quote what the YAML 1.1 schema would resolve, besides the 1.2 core.
  const document = new Document(data, { compat: "yaml-1.1" });
  visit(document, {
    Scalar(_key, node) {
      if (typeof node.value === "string" && needsDoubleQuotes(node.value)) node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  // The library escapes only C0 controls in double quotes; every other character of
  // YAML_UNSAFE_CHARACTERS can only stand inside a double-quoted scalar here, where its escape means
  // the same and a 1.1 reader neither refuses it nor reads it as a line break.
  return document
    .toString({ lineWidth: 0 })
    .replace(/[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g, (c) => {
      const code = c.charCodeAt(0);
      return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`;
    });
}

// Characters a YAML 1.1 reader refuses or changes outside double quotes, where they are escaped:
// controls (tab and CR included: PyYAML refuses a tab in a plain scalar), DEL, the C1 range (NEL
// breaks a 1.1 line), the line and paragraph separators (line breaks in 1.1, not in 1.2), the
// byte-order mark and the non-characters U+FFFE and U+FFFF.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const YAML_UNSAFE_CHARACTERS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/;

/**
 * True when a string must be double-quoted beyond what the library decides: it holds a character
 * of {@link YAML_UNSAFE_CHARACTERS}; it is `=` or `<<`, which YAML 1.1 resolves to its `value` and
 * `merge` types (PyYAML's safe loader refuses the first and merges on the second); or it has
 * several lines, one of them starting or ending with a space, which the library's block scalars
 * do not always write back exactly (`" \n"`).
 */
function needsDoubleQuotes(text: string): boolean {
  return (
    text === "=" ||
    text === "<<" ||
    YAML_UNSAFE_CHARACTERS.test(text) ||
    (text.includes("\n") && /(?:^|\n) | (?:\n|$)/.test(text))
  );
}

const TABLE_CHARS = {
  top: "-",
  "top-mid": " ",
  "top-left": " ",
  "top-right": "",
  bottom: "-",
  "bottom-mid": " ",
  "bottom-left": " ",
  "bottom-right": "",
  left: " ",
  "left-mid": " ",
  mid: "-",
  "mid-mid": " ",
  right: "",
  "right-mid": "",
  middle: " ",
};

/**
 * A plain-text table with a header row, lines ruled with `-`, no colours, no trailing spaces.
 * Cells are shown, not passed to the terminal: control characters (escape sequences, carriage
 * returns) are written as `\xNN`, so a value cannot retitle, clear or redraw the terminal. A
 * newline stays a line break inside its cell (a PEM key reads as one).
 */
export function renderTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const table = new Table({
    head: [...head],
    chars: TABLE_CHARS,
    style: { head: [], border: [], compact: true },
  });
  for (const row of rows) table.push(row.map(visibleText));
  return `${table
    .toString()
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n")}\n`;
}

// C0 controls but the newline, DEL, and the C1 controls (U+0080–U+009F, which some terminals obey);
// then Unicode's bidirectional controls (marks, embeddings, overrides, isolates), which reorder
// what follows them on the line.
const CONTROL_CHARACTERS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with its control characters (but the newline) written as `\xNN`, and its bidirectional
 * controls as `\uNNNN`: what a table cell or a message shows, so that nothing a server sends can
 * retitle, clear or redraw the terminal, or make a row read differently from its bytes.
 */
export function visibleText(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** CSV (RFC 4180 quoting, `\n` line ends): a header row, then one line per row. */
export function renderCsv(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => cells.map(csvCell).join(",");
  return `${[line(head), ...rows.map(line)].join("\n")}\n`;
}

function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
