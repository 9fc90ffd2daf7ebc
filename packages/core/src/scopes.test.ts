import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LockboxError } from "./errors.js";
import { canonicalScopes, formatScopes, parseScopes, sameScopes, scopesSchema } from "./scopes.js";
import { SCOPE_ORDER, type Scope } from "./types.js";

describe("parseScopes()", () => {
  it("reads a comma-separated list, trimming and ignoring blanks", () => {
    expect(parseScopes("web, user")).toEqual(["web", "user"]);
    expect(parseScopes(" ic ,, web ,")).toEqual(["ic", "web"]);
  });

  it("returns scopes in the canonical order ic, web, user", () => {
    expect(parseScopes("user,web,ic")).toEqual(["ic", "web", "user"]);
    expect(parseScopes(["user", "ic"])).toEqual(["ic", "user"]);
  });

  it("ignores duplicates", () => {
    expect(parseScopes("web,web, web")).toEqual(["web"]);
    expect(parseScopes(["web", "user,web"])).toEqual(["web", "user"]);
  });

  it("refuses an unknown scope, naming it and the allowed ones", () => {
    expect(() => parseScopes("web,admin")).toThrow(
      new LockboxError(
        "VALIDATION_FAILED",
        "Invalid scope 'admin': use ic, web or user, separated by commas (for example --scope=web,user).",
      ),
    );
  });

  it("is case-sensitive", () => {
    expect(() => parseScopes("Web")).toThrow("Invalid scope 'Web'");
  });

  it.each(["", " , ,", []])("refuses %j, which leaves no scope", (input) => {
    expect(() => parseScopes(input)).toThrow(/^A secret needs at least one scope/);
  });

  it("always returns a non-empty canonical subset for any valid input", () => {
    const item = fc.constantFrom("ic", "web", "user", " web ", "", " ");
    fc.assert(
      fc.property(fc.array(item, { maxLength: 8 }), (items) => {
        const named = items.map((x) => x.trim()).filter((x) => x !== "");
        fc.pre(named.length > 0);
        const scopes = parseScopes(items.join(","));
        expect(scopes).toEqual(SCOPE_ORDER.filter((scope) => named.includes(scope)));
        expect(parseScopes(items)).toEqual(scopes);
      }),
    );
  });
});

describe("canonicalScopes(), sameScopes() and formatScopes()", () => {
  it("orders and dedupes", () => {
    expect(canonicalScopes(["user", "ic", "user"])).toEqual(["ic", "user"]);
  });

  it("compare scopes as sets", () => {
    expect(sameScopes(["user", "web"], ["web", "user", "web"])).toBe(true);
    expect(sameScopes(["web"], ["web", "user"])).toBe(false);
    expect(sameScopes(["ic"], ["web"])).toBe(false);
  });

  it("format scopes as tables and messages show them", () => {
    const scopes: Scope[] = ["user", "web"];
    expect(formatScopes(scopes)).toBe("web, user");
  });
});

describe("scopesSchema", () => {
  it("parses a string or an array into canonical order", () => {
    expect(scopesSchema.parse("user, web")).toEqual(["web", "user"]);
    expect(scopesSchema.parse(["user", "ic"])).toEqual(["ic", "user"]);
  });

  it("carries the parseScopes message when refusing", () => {
    const result = scopesSchema.safeParse("web,nope");
    expect(result.error?.issues[0]?.message).toBe(
      "Invalid scope 'nope': use ic, web or user, separated by commas (for example --scope=web,user).",
    );
  });

  it("refuses other shapes", () => {
    expect(scopesSchema.safeParse(3).error?.issues[0]?.message).toBe(
      "Scopes must be a comma-separated string or an array of strings.",
    );
    expect(scopesSchema.safeParse([1]).success).toBe(false);
  });

  it("bounds the input, saying so", () => {
    const tooLong = "Scopes are too long: give at most 16 items of at most 256 characters.";
    expect(scopesSchema.safeParse("web,".repeat(100)).error?.issues[0]?.message).toBe(tooLong);
    expect(scopesSchema.safeParse(Array.from({ length: 17 }, () => "web")).error?.issues[0]?.message).toBe(
      tooLong,
    );
    expect(scopesSchema.parse(Array.from({ length: 16 }, () => "web"))).toEqual(["web"]);
  });
});
