import { describe, expect, it } from "vitest";
import { MAX_TOKEN_LIFETIME_SECONDS, parseTokenLifetime } from "./token-lifetime.js";

describe("parseTokenLifetime", () => {
  it.each([
    ["1m", 60],
    ["30m", 1800],
    ["12h", 43_200],
    ["7d", 604_800],
    ["90d", 7_776_000],
    ["365d", MAX_TOKEN_LIFETIME_SECONDS],
    ["8760h", MAX_TOKEN_LIFETIME_SECONDS],
    ["525600m", MAX_TOKEN_LIFETIME_SECONDS],
    ["007d", 604_800],
  ])("reads %j as %i seconds", (text, seconds) => {
    expect(parseTokenLifetime(text)).toBe(seconds);
  });

  it.each([
    "0d",
    "0m",
    "-1d",
    "+1d",
    "1.5d",
    "1e3m",
    "30",
    "d",
    "",
    " 7d",
    "7d ",
    "7 d",
    "7D",
    "7s",
    "2w",
    "366d",
    "8761h",
    "525601m",
    "9999999999d",
    "99999999999999999999999d",
    "never",
  ])("refuses %j with a message naming the format and the maximum", (text) => {
    expect(() => parseTokenLifetime(text, "--expires-in")).toThrow(
      expect.objectContaining({
        code: "VALIDATION_FAILED",
        message: expect.stringMatching(
          /^Invalid --expires-in '.*': use a whole number of minutes, hours or days such as 30m, 12h, 7d or 90d, from 1m to 365d\.$/,
        ),
      }),
    );
  });
});
