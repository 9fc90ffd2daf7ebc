import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { cellText, chooseFields, renderCsv, renderTable, toYaml } from "./output.js";

const FIELDS = {
  all: ["name", "type", "value", "scopes", "owner"],
  tableDefault: ["name", "type", "value", "scopes"],
};

describe("chooseFields", () => {
  it("uses the table defaults for tables and every field for the other formats", () => {
    expect(chooseFields(FIELDS, undefined, "table")).toEqual(["name", "type", "value", "scopes"]);
    expect(chooseFields(FIELDS, undefined, "json")).toEqual(FIELDS.all);
    expect(chooseFields(FIELDS, undefined, "csv")).toEqual(FIELDS.all);
  });

  it("takes '*' for all, and a list in the given order without blanks or duplicates", () => {
    expect(chooseFields(FIELDS, "*", "table")).toEqual(FIELDS.all);
    expect(chooseFields(FIELDS, " owner, name,,owner ", "json")).toEqual(["owner", "name"]);
  });

  it("refuses unknown fields and an empty list", () => {
    expect(() => chooseFields(FIELDS, "name,Name", "table")).toThrow("Unknown field 'Name'");
    expect(() => chooseFields(FIELDS, " , ", "table")).toThrow("No fields given");
  });
});

describe("cellText", () => {
  it("renders scopes as 'web, user', maps as k=v and null as [REDACTED]", () => {
    expect(cellText(["web", "user"])).toBe("web, user");
    expect(cellText({ default: "a", live: null })).toBe("default=a, live=[REDACTED]");
    expect(cellText({})).toBe("");
    expect(cellText(null)).toBe("[REDACTED]");
    expect(cellText(undefined)).toBe("");
    expect(cellText("")).toBe("");
    expect(cellText(42)).toBe("42");
  });
});

describe("renderCsv", () => {
  it("quotes cells holding commas, quotes or newlines", () => {
    expect(
      renderCsv(
        ["a", "b"],
        [
          ["x,y", 'say "hi"'],
          ["line\nbreak", "plain"],
        ],
      ),
    ).toBe('a,b\n"x,y","say ""hi"""\n"line\nbreak",plain\n');
  });
});

describe("renderTable", () => {
  it("draws a header, ruled lines and no trailing spaces or colours", () => {
    const text = renderTable(
      ["name", "value"],
      [
        ["A", "1"],
        ["LONGER", "[REDACTED]"],
      ],
    );
    expect(text).toBe(
      [
        " -------- ------------",
        "  name     value",
        " -------- ------------",
        "  A        1",
        "  LONGER   [REDACTED]",
        " -------- ------------",
        "",
      ].join("\n"),
    );
  });

  it("shows control characters in a value instead of sending them to the terminal", () => {
    const text = renderTable(["value"], [["a\u001b]0;PWNED\u0007\u001b[2J\r\tb\u009bc\nd"]]);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters.
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain("a\\x1b]0;PWNED\\x07\\x1b[2J\\x0d\\x09b\\x9bc");
    // A newline stays a line break inside the cell.
    expect(text.split("\n")).toContain("  d");
  });

  it("shows bidirectional controls, which would reorder the row on screen, and leaves other text alone", () => {
    const text = renderTable(
      ["name", "value"],
      [
        ["KEY", "ok\u202Egnp.exe\u202C \u2066x\u2069 \u200F\u061C"],
        ["EMOJI", "👨‍👩‍👧 ünï ש"],
      ],
    );
    expect(text).not.toMatch(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
    expect(text).toContain("ok\\u202egnp.exe\\u202c \\u2066x\\u2069 \\u200f\\u061c");
    expect(text).toContain("👨‍👩‍👧 ünï ש");
  });
});

/**
 * Strings that some YAML reader would not read back as the same string if written plainly: YAML 1.1
 * booleans, nulls, numbers (octal, binary, sexagesimal, underscores), timestamps, `=`/`<<`, special
 * floats, indicators, comments, surrounding spaces, line breaks of 1.1 only, controls.
 */
const TRICKY_STRINGS = [
  ...["y", "Y", "n", "N", "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"],
  ...["true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL", "~", ""],
  ...["0", "-1", "+1", "017", "0o17", "0x1F", "0b1010", "1_000", "-1_000", "1:20", "190:20:30", "1:20.5"],
  ...["1.5", "1e3", "1E+3", "1.", ".5", "._5", "1_000.5", ".inf", "-.Inf", "+.INF", ".nan", ".NaN"],
  ...["2026-11-01", "2026-11-01T10:00:00Z", "2001-12-14 21:59:43.10 -5", "=", "<<"],
  ...["- x", "-", "? x", "?", ": x", "a: b", "a #b", "#x", "&a", "*a", "!t", "|", ">", "%x", "@x", "`x"],
  ...["'q", '"q', "[a]", "{a}", "a, b", "---", "...", " lead", "trail ", "\t", "x\ty", "a\r\nb"],
  ...[
    "line\nbreak",
    " \n",
    "a\n ",
    "\n",
    "pem\n",
    "a\u0085b",
    "a\u2028b",
    "\ufeffbom",
    "\u0000\u001b\u007f\u009f",
  ],
];

/** Each tricky string as a key and as a value, in a map, a list and a nested map. */
function trickyDocument(): Record<string, unknown> {
  return {
    values: Object.fromEntries(TRICKY_STRINGS.map((text, index) => [`k${index}`, text])),
    keys: Object.fromEntries(TRICKY_STRINGS.map((text) => [text, "v"])),
    list: TRICKY_STRINGS,
  };
}

describe("toYaml", () => {
  it("quotes on, off, yes, no, y and n, which YAML 1.1 readers read as booleans", () => {
    const text = toYaml({ a: "on", b: "off", c: "yes", d: "no", e: "y", f: "N" });
    expect(text).toBe('a: "on"\nb: "off"\nc: "yes"\nd: "no"\ne: "y"\nf: "N"\n');
  });

  it("writes every tricky string so that YAML 1.1 and YAML 1.2 readers read it back unchanged", () => {
    const data = trickyDocument();
    const text = toYaml(data);
    expect(parseYaml(text, { version: "1.1" })).toEqual(data);
    expect(parseYaml(text, { version: "1.2" })).toEqual(data);
  });

  it("keeps plain strings plain and a PEM key a literal block", () => {
    const pem = "-----BEGIN KEY-----\nabc\n-----END KEY-----\n";
    expect(toYaml({ name: "API_KEY", scopes: ["web", "user"], pem })).toBe(
      "name: API_KEY\nscopes:\n  - web\n  - user\npem: |\n  -----BEGIN KEY-----\n  abc\n  -----END KEY-----\n",
    );
  });

  it("round-trips arbitrary maps of strings through YAML 1.1 and 1.2 (property)", () => {
    const special = fc.constantFrom(...TRICKY_STRINGS);
    const text = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 12 }),
      fc.string({ unit: "binary", maxLength: 8 }).filter((s) => s.isWellFormed()),
      fc.array(special, { maxLength: 4 }).map((parts) => parts.join("")),
      fc.tuple(fc.string({ maxLength: 4 }), special, fc.string({ maxLength: 4 })).map((p) => p.join("")),
    );
    const value = fc.oneof(
      text,
      fc.constant(null),
      fc.array(text, { maxLength: 3 }),
      fc.dictionary(text, fc.option(text)),
    );
    fc.assert(
      fc.property(fc.dictionary(text, value, { maxKeys: 6 }), (data) => {
        const yaml = toYaml(data);
        expect(parseYaml(yaml, { version: "1.1" }) ?? {}).toEqual(data);
        expect(parseYaml(yaml, { version: "1.2" }) ?? {}).toEqual(data);
      }),
      { numRuns: 200 },
    );
  });

  const pyyaml = spawnSync("python3", ["-c", "import yaml"], { stdio: "ignore" }).status === 0;
  if (!pyyaml)
    console.warn("NOTICE: python3 with PyYAML not found; the PyYAML reading of toYaml() is not checked.");
  it.skipIf(!pyyaml)("writes YAML that PyYAML's safe_load (YAML 1.1) reads back unchanged", () => {
    const data = trickyDocument();
    const script =
      "import json, sys, yaml\n" +
      "data = yaml.safe_load(sys.stdin.read())\n" +
      "sys.stdout.write(json.dumps(data))\n";
    const result = spawnSync("python3", ["-c", script], { input: toYaml(data), encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual(data);
  });
});
