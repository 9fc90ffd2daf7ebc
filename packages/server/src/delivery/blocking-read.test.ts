import { LockboxError } from "@lockbox/core";
import { describe, expect, it } from "vitest";
import { parseWait } from "./blocking-read.js";

describe("parseWait", () => {
  it("takes a whole number of seconds from 0 to 300, and none as 0", () => {
    expect(parseWait(undefined)).toBe(0);
    expect(parseWait("0")).toBe(0);
    expect(parseWait("300")).toBe(300);
  });

  it("quotes a refused value as other messages quote input: bounded, one printable line", () => {
    const refused = (value: unknown) => {
      try {
        parseWait(value);
      } catch (error) {
        expect(error).toBeInstanceOf(LockboxError);
        return (error as LockboxError).message;
      }
      throw new Error("accepted");
    };
    expect(refused("301")).toBe(
      "Invalid wait '301': use a whole number of seconds from 0 to 300 (once), for example ?wait=60.",
    );
    const long = refused("1".repeat(8000));
    expect(long.length).toBeLessThan(400);
    expect(long).toContain(`'${"1".repeat(255)}…'`);
    const control = refused("\u001b[31m1\n2\u0000");
    expect(control).toContain("'\\u001b[31m1\\u000a2\\u0000'");
    expect([...control].filter((c) => c.charCodeAt(0) < 0x20)).toEqual([]);
    expect(refused(["1", "2"])).toContain("'1,2'");
  });
});
