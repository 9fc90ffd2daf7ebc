import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cliAs,
  type E2eServer,
  e2eDatabases,
  expectError,
  expectSuccess,
  startE2eServer,
} from "./e2e-fixtures.js";
import type { CliResult } from "./harness.js";

/** Every secret value contains this marker, so that output can be searched for leaks. */
const MARK = "zq9";
const PEM = `-----BEGIN PRIVATE KEY-----\nMIIE${MARK}\nAAAA\n-----END PRIVATE KEY-----\n`;

type Cli = (args: string[]) => Promise<CliResult>;

interface DiffJson {
  readonly secrets: Record<
    string,
    {
      status: string;
      a: { source: string; value?: string | null } | null;
      b: { source: string; value?: string | null } | null;
    }
  >;
}

/**
 * `secret:site:get`, `secret:org:get` and `secret:site:diff` through the real CLI and server, as the
 * platform admin (redaction by scopes applies to admins too, SPEC §2):
 * org acme (owns shop and blog) and its secrets, shop's own secrets and live overrides.
 */
describe.concurrent.each(await e2eDatabases())("on $name", (database) => {
  describe.sequential("get and diff", () => {
    let e2e: E2eServer;
    let admin: Cli;

    beforeAll(async () => {
      e2e = await startE2eServer(database);
      admin = cliAs(e2e, e2e.adminToken);
      writeFileSync(join(e2e.dir, "key.pem"), PEM);
      for (const args of [
        ["org:create", "acme"],
        ["site:create", "shop", "--org=acme"],
        ["site:create", "blog", "--org=acme"],
        ["secret:org:set", "acme", "SMTP", `${MARK}-org-smtp`, "--scope=web,user"],
        ["secret:org:set", "acme", "SMTP", `${MARK}-org-smtp-live`, "--env=live"],
        ["secret:org:set", "acme", "ORG_HIDDEN", `${MARK}-org-hidden`, "--scope=web"],
        ["secret:site:set", "shop", "TLS_KEY", "--scope=web,user", "--value-file=key.pem"],
        ["secret:site:set", "shop", "API_KEY", `${MARK}-base`, "--scope=web,user"],
        ["secret:site:set", "shop.live", "API_KEY", `${MARK}-live`],
        ["secret:site:set", "shop", "DB_PASSWORD", `${MARK}-pw`, "--scope=web"],
        ["secret:site:set", "shop.live", "DB_PASSWORD", `${MARK}-pw-live`],
        ["secret:site:set", "shop", "BUILD_ONLY", `${MARK}-build`, "--scope=ic,user"],
        ["secret:site:set", "blog", "API_KEY", `${MARK}-base`, "--scope=web,user"],
      ]) {
        expectSuccess(await admin(args));
      }
    }, 120_000);
    afterAll(async () => {
      await e2e?.close();
    });

    it("secret:site:get prints exactly the value: a PEM byte for byte, an override, a base value", async () => {
      expect(await admin(["secret:site:get", "shop.live", "TLS_KEY"])).toEqual({
        code: 0,
        stdout: PEM,
        stderr: "",
      });
      expect((await admin(["secret:site:get", "shop.live", "API_KEY"])).stdout).toBe(`${MARK}-live`);
      expect((await admin(["secret:site:get", "shop.test", "API_KEY"])).stdout).toBe(`${MARK}-base`);
      expect((await admin(["secret:site:get", "shop", "API_KEY"])).stdout).toBe(`${MARK}-base`);
      expect((await admin(["secret:site:get", "shop.live", "SMTP"])).stdout).toBe(`${MARK}-org-smtp-live`);
      expect((await admin(["secret:site:get", "shop.dev", "BUILD_ONLY", "--scope=ic"])).stdout).toBe(
        `${MARK}-build`,
      );
    });

    it("secret:site:get exits 1 naming site, environment and name when absent", async () => {
      expectError(
        await admin(["secret:site:get", "shop.live", "NOPE"]),
        1,
        "Secret 'NOPE' does not exist in shop.live for the web scope.",
      );
      expectError(
        await admin(["secret:site:get", "shop.live", "BUILD_ONLY"]),
        1,
        "Secret 'BUILD_ONLY' does not exist in shop.live for the web scope. It reaches the ic and user scopes: add --scope=ic.",
      );
    });

    it("secret:site:get refuses a value redacted for people and says how to change it", async () => {
      expectError(
        await admin(["secret:site:get", "shop.live", "DB_PASSWORD"]),
        1,
        "Secret 'DB_PASSWORD' in shop.live is redacted: the site's secret (source site-override, scopes web) lacks the user scope, so no person may read it. Scopes cannot be changed: delete the secret (secret:site:delete) and create it again with --scope=web,user.",
      );
      const org = await admin(["secret:site:get", "blog.live", "ORG_HIDDEN"]);
      expect(org.code).toBe(1);
      expect(org.stderr).toContain("the organization's secret (source org, scopes web) lacks the user scope");
      expect(org.stderr + org.stdout).not.toContain(MARK);
    });

    it("secret:org:get prints the org's override for --env, else its base value", async () => {
      expect(await admin(["secret:org:get", "acme", "SMTP", "--env=live"])).toEqual({
        code: 0,
        stdout: `${MARK}-org-smtp-live`,
        stderr: "",
      });
      expect((await admin(["secret:org:get", "acme", "SMTP", "--env=test"])).stdout).toBe(`${MARK}-org-smtp`);
      expect((await admin(["secret:org:get", "acme", "SMTP"])).stdout).toBe(`${MARK}-org-smtp`);
      expectError(
        await admin(["secret:org:get", "acme", "NOPE"]),
        1,
        "Secret 'NOPE' does not exist in organization 'acme'.",
      );
      const hidden = await admin(["secret:org:get", "acme", "ORG_HIDDEN"]);
      expect(hidden.code).toBe(1);
      expect(hidden.stderr).toContain("is redacted");
      expect(hidden.stderr).not.toContain(MARK);
    });

    it("secret:site:diff across environments: status and source of each side, exit 1", async () => {
      const result = await admin(["secret:site:diff", "shop.test", "shop.live", "--format=json"]);
      expect(result.code).toBe(1);
      expect(result.stdout).not.toContain(MARK);
      expect((JSON.parse(result.stdout) as DiffJson).secrets).toEqual({
        API_KEY: { status: "different", a: { source: "site" }, b: { source: "site-override" } },
        DB_PASSWORD: { status: "unknown", a: { source: "site" }, b: { source: "site-override" } },
        ORG_HIDDEN: { status: "same", a: { source: "org" }, b: { source: "org" } },
        SMTP: { status: "different", a: { source: "org" }, b: { source: "org-override" } },
        TLS_KEY: { status: "same", a: { source: "site" }, b: { source: "site" } },
      });
    });

    it("secret:site:diff exits 0 when two environments resolve the same", async () => {
      const result = await admin(["secret:site:diff", "shop.dev", "shop.test"]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/DB_PASSWORD\s+same\s+site\s+site/);
    });

    it("secret:site:diff across two sites with --show-values shows only readable values", async () => {
      const result = await admin([
        "secret:site:diff",
        "shop.live",
        "blog.live",
        "--show-values",
        "--format=json",
      ]);
      expect(result.code).toBe(1);
      const { secrets } = JSON.parse(result.stdout) as DiffJson;
      expect(secrets.API_KEY).toEqual({
        status: "different",
        a: { source: "site-override", value: `${MARK}-live` },
        b: { source: "site", value: `${MARK}-base` },
      });
      expect(secrets.DB_PASSWORD).toEqual({
        status: "only-in-a",
        a: { source: "site-override", value: null },
        b: null,
      });
      // Two redacted values of two sites: not compared by the client, never guessed.
      expect(secrets.ORG_HIDDEN?.status).toBe("unknown");
      expect(secrets.SMTP?.status).toBe("same");
      expect(result.stdout).not.toContain(`${MARK}-pw`);
      expect(result.stdout).not.toContain(`${MARK}-org-hidden`);

      const table = await admin(["secret:site:diff", "shop", "blog", "--show-values"]);
      expect(table.stdout).toMatch(/API_KEY\s+same\s+site\s+site\s+zq9-base\s+zq9-base/);
      expect(table.stdout).toMatch(/DB_PASSWORD\s+only-in-a\s+site\s+-\s+\[REDACTED\]\s+-/);
      expect(table.stdout).not.toContain(`${MARK}-pw`);
    });

    it("secret:site:diff exits 2 on an error", async () => {
      const result = await admin(["secret:site:diff", "shop.live", "nowhere.live"]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("nowhere");
    });
  });
});
