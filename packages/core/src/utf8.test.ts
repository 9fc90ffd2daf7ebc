import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { utf8ByteLength } from "./utf8.js";

/** Any sequence of UTF-16 code units, lone surrogates included. */
const anyUnits = fc.string({
  unit: fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
});

describe("utf8ByteLength()", () => {
  it("counts bytes, not characters", () => {
    expect(utf8ByteLength("")).toBe(0);
    expect(utf8ByteLength("abc")).toBe(3);
    expect(utf8ByteLength("é")).toBe(2);
    expect(utf8ByteLength("€")).toBe(3);
    expect(utf8ByteLength("😀")).toBe(4);
  });

  it("counts a lone surrogate as the 3 bytes of its U+FFFD replacement", () => {
    expect(utf8ByteLength("\ud800")).toBe(3);
    expect(utf8ByteLength("\udc00a")).toBe(4);
    expect(utf8ByteLength("a\ud83d")).toBe(4);
  });

  it("agrees with Buffer.byteLength and TextEncoder for any string", () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(anyUnits, (text) => {
        const bytes = utf8ByteLength(text);
        expect(bytes).toBe(Buffer.byteLength(text, "utf8"));
        expect(bytes).toBe(encoder.encode(text).length);
      }),
    );
  });
});
