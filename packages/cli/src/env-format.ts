/** The output formats of `build:env`. */
export const ENV_FORMATS = ["shell", "dotenv", "json"] as const;
export type EnvFormat = (typeof ENV_FORMATS)[number];

/**
 * A POSIX shell word for any value: single-quoted, each `'` written as `'\''`. Inside single
 * quotes nothing is special — not `$`, backquotes, backslashes or newlines — so `eval` or
 * `source` of the output sets exactly the value.
 */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * A dotenv value. Single-quoted, byte for byte, when the value holds no `'`, backslash or carriage
 * return (JSON such as `COMPOSER_AUTH`, PEM keys, `$` and backquotes included): dotenv parsers
 * (Node's `dotenv`, python-dotenv, docker compose) and a POSIX shell that `source`s the file all
 * read it back exactly.
 * Otherwise double-quoted with `\\`, `\"`, `\n`, `\r`, `\$` and `` \` `` escaped: python-dotenv and
 * docker compose read these escapes, Node's `dotenv` keeps the backslashes, and a shell still runs
 * nothing in the value. `--format=shell` or `json` is exact for every value.
 */
export function dotenvQuote(value: string): string {
  // A carriage return is escaped too: dotenv parsers read a raw one as a line end.
  if (!/['\\\r]/.test(value)) return `'${value}'`;
  const escaped = value
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r")
    .replace(/\$/g, "\\$")
    .replace(/`/g, "\\`");
  return `"${escaped}"`;
}

/** Variables in name order as `format` writes them. */
export function formatEnv(variables: Readonly<Record<string, string>>, format: EnvFormat): string {
  const names = Object.keys(variables).sort();
  if (format === "json") {
    const ordered: Record<string, string> = Object.create(null);
    for (const name of names) ordered[name] = variables[name] as string;
    return `${JSON.stringify({ ...ordered }, null, 2)}\n`;
  }
  const lines = names.map((name) => {
    const value = variables[name] as string;
    return format === "shell" ? `export ${name}=${shellQuote(value)}` : `${name}=${dotenvQuote(value)}`;
  });
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/**
 * A dotenv value that the `dotenv` parser (the one `secret:site:import` reads with) gives back
 * exactly, or `undefined` when it has no such quoting. That parser reads single- and backquoted
 * values literally (newlines included), expands only `\n` and `\r` in double quotes, and reads a
 * raw carriage return as a line end. So: {@link dotenvQuote}'s single quotes when it uses them, else
 * backquotes, else double quotes with line ends escaped, when the value has no quote of that kind
 * and (for double quotes) no backslash to misread. A value ending in a backslash would escape its
 * closing quote, and leading or trailing whitespace outside quotes does not exist here.
 */
export function exactDotenvQuote(value: string): string | undefined {
  if (value.endsWith("\\")) return undefined;
  if (!value.includes("\r")) {
    if (!value.includes("'")) return `'${value}'`;
    if (!value.includes("`")) return `\`${value}\``;
  }
  if (!value.includes('"') && !value.includes("\\")) {
    return `"${value.replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`;
  }
  return undefined;
}
