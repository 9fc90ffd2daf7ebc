import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseDotenv } from "dotenv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliAs, type E2eServer, e2eDatabases, expectSuccess, json, startE2eServer } from "./e2e-fixtures.js";

/** Every value here contains this marker, so the server's log can be searched for it. */
const MARK = "hush";

const PEM = [
  "-----BEGIN PRIVATE KEY-----",
  ...Array.from({ length: 18 }, (_, i) => `${MARK}${"ABCDEFGHabcdefgh0123456789+/".repeat(2)}${i}`),
  "-----END PRIVATE KEY-----",
  "",
].join("\n");

/**
 * A dotenv file of 200+ lines as people write them: comments, blank lines, `export` prefixes,
 * unquoted values with trailing comments, single, double and back quotes, `#` and `$` inside
 * quotes, `\n` escapes and a multiline PEM key.
 */
function bigDotenv(): string {
  const lines = ["# The team's .env, exported from the old host", ""];
  for (let i = 0; i < 32; i++) {
    lines.push(`# group ${i}`);
    lines.push(`export PLAIN_${i}=${MARK}-plain-${i} # a trailing comment`);
    lines.push(`SINGLE_${i}='${MARK} # not a comment, $HOME stays, "quotes" too ${i}'`);
    lines.push(`DOUBLE_${i}="${MARK} line one\\nline two ${i}"`);
    lines.push(`BACK_${i}=\`${MARK} it's "both" ${i}\``);
    lines.push("");
  }
  lines.push(`export TLS_KEY="${PEM}"`);
  return `${lines.join("\n")}\n`;
}

/** The plan the CLI printed: action by name. */
function planOf(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .trimEnd()
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => {
        const [action, name] = line.split(/\s+/);
        return [name as string, action as string];
      }),
  );
}

/**
 * `secret:site:import`, `secret:org:import` and `secret:site:export` against a real server: a
 * whole file or nothing, plans, dry runs, overrides, and export → import reproducing the values.
 */
describe.concurrent.each(await e2eDatabases())("on $name", (database) => {
  describe.sequential("importing and exporting .env files", () => {
    let e2e: E2eServer;
    let admin: ReturnType<typeof cliAs>;
    const file = (name: string, content: string) => {
      const path = join(e2e.dir, name);
      writeFileSync(path, content);
      return path;
    };
    /** What people resolve in `site.env` (user scope), by name, through the API. */
    const resolved = async (target: string) =>
      Object.fromEntries(
        Object.entries(
          json<Record<string, { value: string | null }>>(
            await admin(["secret:site:resolve", target, "--scope=user", "--format=json"]),
          ),
        ).map(([name, row]) => [name, row.value]),
      );

    beforeAll(async () => {
      e2e = await startE2eServer(database);
      admin = cliAs(e2e, e2e.adminToken);
      for (const args of [
        ["org:create", "acme"],
        ["site:create", "shop", "--org=acme"],
        ["site:create", "copy", "--org=acme"],
      ]) {
        expectSuccess(await admin(args));
      }
    });
    afterAll(async () => {
      // The banner holds the admin token by design; no value may appear anywhere.
      if (e2e) expect(e2e.server.stdout() + e2e.server.stderr()).not.toContain(MARK);
      await e2e?.close();
    });

    it("imports a 200-line .env file whole, then finds every entry unchanged", async () => {
      const content = bigDotenv();
      expect(content.split("\n").length).toBeGreaterThan(200);
      const path = file("big.env", content);
      const first = expectSuccess(await admin(["secret:site:import", "shop", path, "--scope=web,user"]));
      const expected = parseDotenv(content);
      expect(Object.keys(expected)).toHaveLength(32 * 4 + 1);
      expect(planOf(first.stdout)).toEqual(
        Object.fromEntries(Object.keys(expected).map((n) => [n, "create"])),
      );
      expect(first.stderr).toBe(`Imported: ${32 * 4 + 1} create, 0 update, 0 unchanged.\n`);
      const values = await resolved("shop.dev");
      expect(values).toEqual(expected);
      expect(values.TLS_KEY).toBe(PEM);
      expect(values.PLAIN_3).toBe(`${MARK}-plain-3`);
      expect(values.SINGLE_4).toBe(`${MARK} # not a comment, $HOME stays, "quotes" too 4`);
      expect(values.DOUBLE_5).toBe(`${MARK} line one\nline two 5`);
      expect(values.BACK_6).toBe(`${MARK} it's "both" 6`);

      const second = expectSuccess(await admin(["secret:site:import", "shop", path]));
      expect(new Set(Object.values(planOf(second.stdout)))).toEqual(new Set(["unchanged"]));
      expect(second.stderr).toBe(`Imported: 0 create, 0 update, ${32 * 4 + 1} unchanged.\n`);
    });

    it("changes nothing when one entry is invalid, and lists every problem", async () => {
      const before = await resolved("shop.dev");
      const path = file(
        "broken.env",
        [
          `PLAIN_0=${MARK}-changed`,
          `BRAND_NEW=${MARK}-new`,
          `-starts-with-dash=${MARK}-x`,
          `TOO_BIG=${"x".repeat(16385)}`,
          "",
        ].join("\n"),
      );
      const result = await admin(["secret:site:import", "shop", path]);
      expect(result.code).toBe(1);
      expect(planOf(result.stdout)).toEqual({
        "-starts-with-dash": "refused",
        BRAND_NEW: "create",
        PLAIN_0: "update",
        TOO_BIG: "refused",
      });
      expect(result.stdout).toContain("Invalid key name '-starts-with-dash'");
      expect(result.stdout).toContain("16385 bytes");
      expect(result.stderr).toBe(
        "Error: Nothing was imported: 2 of the 4 entries were refused (see above). Fix them and import again.\n",
      );
      expect(result.stdout + result.stderr).not.toContain(MARK);
      expect(await resolved("shop.dev")).toEqual(before);
    });

    it("changes nothing on --dry-run, printing the plan", async () => {
      const before = await resolved("shop.dev");
      const path = file("dry.env", `PLAIN_1=${MARK}-changed\nDRY_NEW=${MARK}-new\nPLAIN_2=${MARK}-plain-2\n`);
      const result = expectSuccess(await admin(["secret:site:import", "shop", path, "--dry-run"]));
      expect(planOf(result.stdout)).toEqual({ DRY_NEW: "create", PLAIN_1: "update", PLAIN_2: "unchanged" });
      expect(result.stderr).toBe("Dry run, nothing was changed: 1 create, 1 update, 1 unchanged.\n");
      expect(await resolved("shop.dev")).toEqual(before);
    });

    it("reads the file from stdin for '-'", async () => {
      const result = expectSuccess(
        await admin(["secret:site:import", "shop", "-", "--dry-run"], {
          input: `PLAIN_1=${MARK}-from-stdin\nSTDIN_NEW=${MARK}-new\n`,
        }),
      );
      expect(planOf(result.stdout)).toEqual({ PLAIN_1: "update", STDIN_NEW: "create" });
    });

    it("imports into <site>.live as overrides, refusing a name without a base value", async () => {
      const refused = await admin([
        "secret:site:import",
        "shop.live",
        file("live.json", JSON.stringify({ PLAIN_0: `${MARK}-live`, NO_BASE: `${MARK}-x` })),
      ]);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe(
        [
          "refused  NO_BASE  Secret 'NO_BASE' does not exist on site 'shop'. You should create the default secret value first.",
          "create   PLAIN_0",
          "",
        ].join("\n"),
      );
      expect((await resolved("shop.live")).PLAIN_0).toBe(`${MARK}-plain-0`);

      const path = file("live.env", `PLAIN_0=${MARK}-live\nSINGLE_0='${MARK}-single-live'\n`);
      expectSuccess(await admin(["secret:site:import", "shop.live", path]));
      const rows = json<Record<string, { value: string; source: string }>>(
        await admin(["secret:site:resolve", "shop.live", "--scope=user", "--format=json"]),
      );
      expect(rows.PLAIN_0).toMatchObject({ value: `${MARK}-live`, source: "site-override" });
      expect(rows.SINGLE_0).toMatchObject({ value: `${MARK}-single-live`, source: "site-override" });
      expect((await resolved("shop.dev")).PLAIN_0).toBe(`${MARK}-plain-0`);
    });

    it("imports an organization's file, with --env as overrides", async () => {
      const path = file("org.env", `ORG_SHARED=${MARK}-org\n`);
      expectSuccess(await admin(["secret:org:import", "acme", path, "--scope=web,user"]));
      expectSuccess(
        await admin([
          "secret:org:import",
          "acme",
          file("org-live.env", `ORG_SHARED=${MARK}-org-live\n`),
          "--env=live",
        ]),
      );
      expect((await resolved("copy.dev")).ORG_SHARED).toBe(`${MARK}-org`);
      expect((await resolved("copy.live")).ORG_SHARED).toBe(`${MARK}-org-live`);
    });

    it("exports what an environment resolves, and importing that into another site reproduces it", async () => {
      // Values a .env file must quote with care, set one by one.
      const tricky: Record<string, string> = {
        QUOTES: `${MARK} it's "double"`,
        ALL_QUOTES: `${MARK} it's "double" and \`back\``,
        BACKSLASH: `${MARK} C:\\path\\n not a newline`,
        DOLLAR: `${MARK} $HOME \${PATH} #hash`,
        SPACES: `  ${MARK} padded  `,
        EMPTY: "",
      };
      for (const [name, value] of Object.entries(tricky)) {
        expectSuccess(await admin(["secret:site:set", "shop", name, "--scope=web,user", "--", value]));
      }
      expectSuccess(await admin(["secret:site:set", "shop", "WEB_ONLY", `${MARK}-web`, "--scope=web"]));
      expectSuccess(
        await admin(["secret:site:set", "shop", "dotted.name", `${MARK}-dotted`, "--scope=user"]),
      );

      const exported = await admin(["secret:site:export", "shop.live"]);
      expectSuccess(exported);
      expect(exported.stderr).toBe(
        [
          "Skipped (you may not read them: no user scope): WEB_ONLY",
          "Skipped (not valid environment variable names; --format=json keeps them): dotted.name",
          "Skipped (values a .env file cannot hold exactly; --format=json keeps them): ALL_QUOTES",
          "",
        ].join("\n"),
      );
      expect(exported.stdout).not.toContain("WEB_ONLY");
      const source = await resolved("shop.live");
      const { "dotted.name": dotted, ALL_QUOTES: allQuotes, ...envNamed } = source;
      expect(allQuotes).toBe(tricky.ALL_QUOTES);
      expect(dotted).toBe(`${MARK}-dotted`);
      expect(parseDotenv(exported.stdout)).toEqual(envNamed);

      expectSuccess(await admin(["secret:site:import", "copy", file("exported.env", exported.stdout)]));
      // Every value, the org's inherited one included, is now copy's own.
      const copied = await resolved("copy.dev");
      expect(copied).toEqual(envNamed);
      expect(copied.QUOTES).toBe(tricky.QUOTES);
      expect(copied.BACKSLASH).toBe(tricky.BACKSLASH);

      const asJson = expectSuccess(await admin(["secret:site:export", "shop.live", "--format=json"]));
      expect(JSON.parse(asJson.stdout)).toEqual(source);
      expect(asJson.stderr).toBe("Skipped (you may not read them: no user scope): WEB_ONLY\n");
      const shell = expectSuccess(await admin(["secret:site:export", "shop", "--format=shell"]));
      expect(shell.stdout).toContain(`export ALL_QUOTES='${MARK} it'\\''s "double" and \`back\`'\n`);
    });

    it("skips a value holding a NUL byte in --format=shell (a shell variable cannot hold one), naming it", async () => {
      const nul = file("nul.bin", `${MARK}\0tail`);
      expectSuccess(
        await admin(["secret:site:set", "copy", "NUL_VALUE", `--value-file=${nul}`, "--scope=web,user"]),
      );
      const shell = expectSuccess(await admin(["secret:site:export", "copy", "--format=shell"]));
      expect(shell.stdout).not.toContain("NUL_VALUE");
      expect(shell.stdout).not.toContain("\0");
      expect(shell.stderr).toBe(
        "Skipped (values a shell variable cannot hold exactly; --format=json keeps them): NUL_VALUE\n",
      );
      const json = expectSuccess(await admin(["secret:site:export", "copy", "--format=json"]));
      expect(JSON.parse(json.stdout).NUL_VALUE).toBe(`${MARK}\0tail`);
    });
  });
});
