import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseDotenv } from "dotenv";
import { describe, expect, it } from "vitest";
import { exactDotenvQuote, formatEnv } from "./env-format.js";

const TRICKY = [
  "plain",
  "it's a $secret",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion the quoting must neutralise.
  "`rm -rf /` $(whoami) ${HOME}",
  'double " quote and back\\slash',
  "multi\nline\n-----END KEY-----\n",
  "trailing newline\n",
  "carriage\rreturn\r\n",
  "  spaces  ",
  "",
  "unicode é 😀 \u2028",
  "'''",
  "!history !! -e -n",
];

const COMPOSER_AUTH = JSON.stringify({
  "http-basic": { "repo.example.com": { username: "u", password: "p$w`d" } },
});
const PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";

describe("formatEnv()", () => {
  it("writes shell that sets every value exactly when evaluated by sh", () => {
    const variables = Object.fromEntries(TRICKY.map((value, i) => [`V${i}`, value]));
    const script = `${formatEnv(variables, "shell")}\nnode -e 'process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(process.env).filter(([k]) => /^V[0-9]+$/.test(k)))))'`;
    const out = execFileSync("sh", ["-c", script], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "" },
    });
    expect(JSON.parse(out)).toEqual(variables);
  });

  it("writes dotenv that Node's dotenv reads back exactly, for values without ' or \\", () => {
    const plain = [...TRICKY, COMPOSER_AUTH, PEM].filter((value) => !/['\\\r]/.test(value));
    expect(plain).toContain(COMPOSER_AUTH);
    const variables = Object.fromEntries(plain.map((value, i) => [`V${i}`, value]));
    expect(parseDotenv(formatEnv(variables, "dotenv"))).toEqual(variables);
    // Carriage returns (CRLF PEM keys, values pasted from Windows) are escaped, so they survive.
    const crlf = { A: "a\rb", B: "-----BEGIN KEY-----\r\nMIIE\r\n-----END KEY-----\r\n" };
    expect(parseDotenv(formatEnv(crlf, "dotenv"))).toEqual(crlf);
  });

  it("writes dotenv that a shell can source without running anything in a value", () => {
    const marker = join(mkdtempSync(join(tmpdir(), "lockbox-dotenv-")), "ran");
    const hostile = [
      `$(touch ${marker})`,
      `\`touch ${marker}\``,
      `it's \`touch ${marker}\``,
      `a\\b $(touch ${marker})`,
    ];
    // Exactly, but for a line end in a double-quoted value (one with ', \ or \r), which a shell reads as \n or \r.
    const oneLine = [...TRICKY, ...hostile, COMPOSER_AUTH, PEM].filter(
      (value) => !(/[\n\r]/.test(value) && /['\\\r]/.test(value)),
    );
    expect(oneLine).toContain(PEM);
    const variables = Object.fromEntries(oneLine.map((value, i) => [`V${i}`, value]));
    const script = `set -a\n${formatEnv(variables, "dotenv")}\nnode -e 'process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(process.env).filter(([k]) => /^V[0-9]+$/.test(k)))))'`;
    const out = execFileSync("sh", ["-c", script], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "" },
    });
    expect(JSON.parse(out)).toEqual(variables);
    expect(existsSync(marker)).toBe(false);
  });

  it("writes dotenv lines with escapes, and JSON in name order", () => {
    expect(formatEnv({ B: 'x"y\n$z`', A: "a" }, "dotenv")).toBe("A='a'\nB='x\"y\n$z`'\n");
    expect(formatEnv({ C: "it's\n$z`\\" }, "dotenv")).toBe('C="it\'s\\n\\$z\\`\\\\"\n');
    expect(JSON.parse(formatEnv({ B: "2", A: "1" }, "json"))).toEqual({ A: "1", B: "2" });
    expect(formatEnv({}, "shell")).toBe("");
  });
});

describe("exactDotenvQuote()", () => {
  it("quotes every value it accepts so that dotenv reads it back exactly, between other lines", () => {
    const alphabet = [
      "a",
      "'",
      '"',
      "`",
      "\\",
      "\n",
      "\r",
      "#",
      "$",
      " ",
      "=",
      "n",
      "\t",
      "{",
      "\u2028",
      "é",
    ];
    const values = [...TRICKY, COMPOSER_AUTH, PEM];
    // Every string of up to 4 characters from the alphabet: the quoting rules' corners.
    let level = [""];
    for (let length = 1; length <= 4; length++) {
      level = level.flatMap((prefix) => alphabet.map((c) => prefix + c));
      values.push(...level);
    }
    const problems: string[] = [];
    let skipped = 0;
    for (const value of values) {
      const quoted = exactDotenvQuote(value);
      if (quoted === undefined) {
        skipped++;
        continue;
      }
      const parsed = parseDotenv(`# before\nexport A=${quoted}\nB=${quoted} # comment\nC='after'\n`);
      if (parsed.A !== value || parsed.B !== value || parsed.C !== "after")
        problems.push(JSON.stringify(value));
    }
    expect(problems).toEqual([]);
    // Most values fit; only the rare ones holding every quote kind, or a final backslash, do not.
    expect(skipped / values.length).toBeLessThan(0.2);
    expect(exactDotenvQuote(PEM)).toBe(`'${PEM}'`);
    expect(exactDotenvQuote(`it's`)).toBe("`it's`");
    expect(exactDotenvQuote("it's `x`\n")).toBe('"it\'s `x`\\n"');
    expect(exactDotenvQuote(`'"\``)).toBeUndefined();
    expect(exactDotenvQuote("ends\\")).toBeUndefined();
  });
});
