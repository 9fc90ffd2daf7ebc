import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Masker, maskNeedles } from "./masking.js";

describe("Masker", () => {
  it("masks every value of 4 or more characters and leaves shorter ones", () => {
    const masker = new Masker(maskNeedles(["hunter22", "abc", "p@ss:word"]));
    expect(masker.push("login hunter22 with abc and p@ss:word\n") + masker.end()).toBe(
      "login *** with abc and ***\n",
    );
  });

  it("masks a value split across chunks without delaying text that cannot start one", () => {
    const masker = new Masker(maskNeedles(["secretvalue"]));
    expect(masker.push("ok so")).toBe("ok so");
    expect(masker.push("me secr")).toBe("me ");
    expect(masker.push("etval")).toBe("");
    expect(masker.push("ue done\n")).toBe("*** done\n");
    expect(masker.end()).toBe("");
  });

  it("masks each line of a multi-line value, and its JSON-escaped and URL-encoded forms", () => {
    const pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX\n-----END KEY-----";
    const masker = new Masker(maskNeedles([pem, "pa ss/word"]));
    const printed = [
      "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX",
      JSON.stringify({ key: pem }),
      "https://user:pa%20ss%2Fword@host/",
    ].join("\n");
    const out = masker.push(printed) + masker.end();
    expect(out).not.toContain("MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX");
    expect(out).not.toContain("pa%20ss%2Fword");
    expect(out.split("\n")[0]).toBe("***");
  });

  it("masks 150 values of 6,000 non-ASCII characters each (too many for one regular expression)", () => {
    const values = Array.from({ length: 150 }, (_, i) => `${i}:${"é".repeat(6000)}`);
    const masker = new Masker(maskNeedles(values));
    const text = `start ${values[7]} middle ${encodeURIComponent(values[149] as string)} end`;
    let out = "";
    for (let i = 0; i < text.length; i += 4096) out += masker.push(text.slice(i, i + 4096));
    out += masker.end();
    expect(out).toBe("start *** middle *** end");
  });

  it("never lets a value through, however the output is chunked (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 4, maxLength: 12, unit: fc.constantFrom("a", "b", "c", "x") }),
        fc.array(fc.string({ maxLength: 6, unit: fc.constantFrom("a", "b", "c", " ") }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }),
        (secret, noise, cuts) => {
          const text = noise.join(secret);
          const masker = new Masker(maskNeedles([secret]));
          let out = "";
          let position = 0;
          for (const cut of cuts) {
            out += masker.push(text.slice(position, position + cut));
            position += cut;
          }
          out += masker.push(text.slice(position)) + masker.end();
          expect(out).not.toContain(secret);
          // Only the secret is replaced: the text around it comes through.
          expect(out).toBe(text.replaceAll(secret, "***"));
        },
      ),
    );
  });
});
