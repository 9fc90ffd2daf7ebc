import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LockboxError } from "./errors.js";
import { canonicalScopes, formatScopes, parseScopes, sameScopes } from "./scopes.js";
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
