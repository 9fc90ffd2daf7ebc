import { describe, expect, it } from "vitest";
import { maskTokens, quoteIdentifier } from "./quote-identifier.js";

describe("quoteIdentifier()", () => {
  it("wraps an identifier in single quotes", () => {
    expect(quoteIdentifier("my-site")).toBe("'my-site'");
    expect(quoteIdentifier("")).toBe("''");
  });

  it("shows every valid name whole", () => {
    const name = "a".repeat(255);
    expect(quoteIdentifier(name)).toBe(`'${name}'`);
  });

  it("cuts a long input and marks the cut", () => {
    const quoted = quoteIdentifier("x".repeat(100_000));
    expect(quoted).toBe(`'${"x".repeat(255)}…'`);
  });

  it("does not leave half a surrogate pair at the cut", () => {
    const quoted = quoteIdentifier(`${"x".repeat(254)}😀tail`);
    expect(quoted).toBe(`'${"x".repeat(254)}…'`);
  });

  it("escapes control characters, line separators and lone surrogates so a message stays one line", () => {
    expect(quoteIdentifier("a\nb\u0000c\u2028d\ud800")).toBe("'a\\u000ab\\u0000c\\u2028d\\ud800'");
    expect(quoteIdentifier("😀")).toBe("'😀'");
  });

  it("masks a token pasted where an identifier belongs", () => {
    const token = `lbr_${"A1b-_".repeat(9)}`;
    expect(quoteIdentifier(token)).toBe("'[token]'");
    expect(maskTokens(`/v1/tokens/${token}/x lbx_${"z".repeat(43)} lbs_${"9".repeat(43)}`)).toBe(
      "/v1/tokens/[token]/x [token] [token]",
    );
    // Names, ids and short prefixes are left alone.
    expect(maskTokens("my-site lbr_ lbr_short 3f2a-9c1e")).toBe("my-site lbr_ lbr_short 3f2a-9c1e");
  });
});
