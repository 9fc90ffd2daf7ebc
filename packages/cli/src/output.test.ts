import { describe, expect, it } from "vitest";
import { cellText, chooseFields, renderCsv, renderTable } from "./output.js";

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
});
