import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  cliAs,
  type E2eServer,
  e2eDatabases,
  expectError,
  expectNoSecretsIn,
  expectSuccess,
  json,
  startE2eServer,
  tableRows,
} from "./e2e-fixtures.js";
import { runCli } from "./harness.js";

/** Every secret value in this suite contains this marker, so the request log can be searched for it. */
const MARK = "hush";

const SET = "Secret successfully set.\n";
const DELETED = "Secret successfully deleted.\n";
const OVERRIDE_DELETED = "Secret environment override deleted if it existed.\n";
const NO_SECRETS = "You have no Secrets.\n";
const siteNotFound = (site: string) => `Site '${site}' was not found, or you do not have access to it.`;
const orgNotFound = (org: string) => `Organization '${org}' was not found, or you do not have access to it.`;
const noWebScope = (name: string) => `Applications will not see '${name}': it has no web scope.\n`;

/**
 * A PEM-like value of exactly `bytes` UTF-8 bytes: BEGIN/END lines, 64-character base64 lines, one
 * CRLF line ending (nothing may normalize it) and a trailing newline.
 */
function pemOfExactly(bytes: number): string {
  const head = "-----BEGIN PRIVATE KEY-----\n";
  const tail = "-----END PRIVATE KEY-----\n";
  const base64 = `${MARK}${randomBytes(bytes).toString("base64")}`;
  let body = "";
  let offset = 0;
  let remaining = bytes - head.length - tail.length;
  while (remaining > 66) {
    const end = offset === 64 * 3 ? "\r\n" : "\n";
    body += base64.slice(offset, offset + 64) + end;
    offset += 64;
    remaining -= 64 + end.length;
  }
  body += `${base64.slice(offset, offset + remaining - 1)}\n`;
  return head + body + tail;
}

/**
 * The CLI against a real server, as its users run it: every message of SPEC §2.1–2.3 with its exit
 * code, the listings in every format, the seed's resolution example, transfer and deletion, values
 * at the size limit, and exit codes.
 *
 * SQLite and PostgreSQL run side by side, each with its own server; the tests of each run in order.
 */
describe.concurrent.each(await e2eDatabases())("on $name", (database) => {
  describe.sequential("the lockbox CLI against a real server", () => {
    let e2e: E2eServer;
    let admin: ReturnType<typeof cliAs>;
    /** Runs the admin's commands one after another, each of which must succeed. */
    const adminDoes = async (...commands: string[][]) => {
      for (const args of commands) expectSuccess(await admin(args));
    };

    beforeAll(async () => {
      e2e = await startE2eServer(database);
      admin = cliAs(e2e, e2e.adminToken);
    });
    afterAll(async () => {
      await e2e?.close();
    });

    describe("the seed's example (SPEC §2.4)", () => {
      it("gives my-org-site my-org's ic secrets, my-personal-site none of them, and neither the supporting org's", async () => {
        await adminDoes(
          ["user:create", "me@example.com"],
          ["org:create", "my-org"],
          ["org:create", "agency"],
          ["site:create", "my-org-site", "--org=my-org", "--supporting-org=agency"],
          ["site:create", "my-personal-site", "--owner=me@example.com"],
          ["secret:org:set", "my-org", "ORG_BUILD_FLAG", `${MARK}-org-flag`, "--type=env", "--scope=ic,user"],
          ["secret:org:set", "my-org", "ORG_BUILD_FLAG", `${MARK}-org-flag-dev`, "--env=dev"],
          [
            "secret:org:set",
            "my-org",
            "github-oauth.github.com",
            `${MARK}-gh`,
            "--type=composer",
            "--scope=ic,user",
          ],
          ["secret:org:set", "agency", "AGENCY_TOKEN", `${MARK}-agency`, "--type=env", "--scope=ic,web,user"],
          [
            "secret:site:set",
            "my-org-site",
            "SITE_FLAG",
            `${MARK}-site-flag`,
            "--type=env",
            "--scope=ic,user",
          ],
          [
            "secret:site:set",
            "my-personal-site",
            "PERSONAL_FLAG",
            `${MARK}-personal`,
            "--type=env",
            "--scope=ic,user",
          ],
        );
        const info = json<{ owner: { name: string }; supportingOrgs: { name: string }[] }>(
          await admin(["site:info", "my-org-site", "--format=json"]),
        );
        expect(info.owner.name).toBe("my-org");
        expect(info.supportingOrgs.map((org) => org.name)).toEqual(["agency"]);

        const resolve = (target: string, scope: string) =>
          admin(["secret:site:resolve", target, `--scope=${scope}`, "--format=json"]).then((r) => json(r));
        expect(await resolve("my-org-site.dev", "ic")).toEqual({
          ORG_BUILD_FLAG: {
            name: "ORG_BUILD_FLAG",
            type: "env",
            scopes: ["ic", "user"],
            value: `${MARK}-org-flag-dev`,
            source: "org-override",
          },
          "github-oauth.github.com": {
            name: "github-oauth.github.com",
            type: "composer",
            scopes: ["ic", "user"],
            value: `${MARK}-gh`,
            source: "org",
          },
          SITE_FLAG: {
            name: "SITE_FLAG",
            type: "env",
            scopes: ["ic", "user"],
            value: `${MARK}-site-flag`,
            source: "site",
          },
        });
        expect(Object.keys(await resolve("my-personal-site.dev", "ic"))).toEqual(["PERSONAL_FLAG"]);
        // The supporting org's secret has web scope, and still never reaches the site.
        expect(await resolve("my-org-site.live", "web")).toEqual({});
        const live = await resolve("my-org-site.live", "ic");
        expect(live.ORG_BUILD_FLAG).toMatchObject({ value: `${MARK}-org-flag`, source: "org" });
        expect(Object.keys(live)).not.toContain("AGENCY_TOKEN");
      });
    });

    describe("the messages of SPEC §2.1–2.3, with exit codes", () => {
      beforeAll(async () => {
        await adminDoes(["org:create", "msg-org"], ["site:create", "msg-site", "--org=msg-org"]);
      });

      it("creates and replaces a value with 'Secret successfully set.' and refuses to change type or scopes (409)", async () => {
        const immutable =
          "Secret 'API_KEY' already exists with type 'runtime' and scopes 'web, user'. Type and scopes cannot be changed: delete the secret and create it again.";
        const set = (...args: string[]) => admin(["secret:site:set", "msg-site", "API_KEY", ...args]);
        expect(expectSuccess(await set(`${MARK}-1`, "--scope=web,user")).stderr).toBe(SET);
        expect(expectSuccess(await set(`${MARK}-2`)).stderr).toBe(SET);
        // The same scopes in another order, with blanks and duplicates, are the same scopes.
        expect(expectSuccess(await set(`${MARK}-3`, "--scope= user, web,web", "--type=runtime")).stderr).toBe(
          SET,
        );
        expectError(await set(`${MARK}-4`, "--scope=web"), 1, immutable);
        expectError(await set(`${MARK}-5`, "--type=env"), 1, immutable);
        expectError(
          await admin(["secret:site:set", "msg-site.live", "API_KEY", `${MARK}-6`, "--scope=user"]),
          1,
          immutable,
        );
        const list = json(
          await admin(["secret:site:list", "msg-site", "--format=json", "--fields=name,value,scopes"]),
        );
        expect(list).toEqual({ API_KEY: { name: "API_KEY", value: `${MARK}-3`, scopes: ["web", "user"] } });
      });

      it("notes once that applications will not see a new secret without web scope", async () => {
        const created = expectSuccess(
          await admin(["secret:site:set", "msg-site", "USER_ONLY", `${MARK}-u1`]),
        );
        expect(created.stderr).toBe(SET + noWebScope("USER_ONLY"));
        const replaced = expectSuccess(
          await admin(["secret:site:set", "msg-site", "USER_ONLY", `${MARK}-u2`]),
        );
        expect(replaced.stderr).toBe(SET);
      });

      it("sets an override only over an existing base at the same owner and an existing site environment (404s)", async () => {
        expectError(
          await admin(["secret:site:set", "msg-site.live", "MISSING", `${MARK}-m`]),
          1,
          "Secret 'MISSING' does not exist on site 'msg-site'. You should create the default secret value first.",
        );
        expectError(
          await admin(["secret:org:set", "msg-org", "MISSING", `${MARK}-m`, "--env=live"]),
          1,
          "Secret 'MISSING' does not exist on organization 'msg-org'. You should create the default secret value first.",
        );
        // An org secret of that name is not a base for the site's override.
        await adminDoes(["secret:org:set", "msg-org", "ORG_KEY", `${MARK}-org`, "--scope=web,user"]);
        expectError(
          await admin(["secret:site:set", "msg-site.live", "ORG_KEY", `${MARK}-m`]),
          1,
          "Secret 'ORG_KEY' does not exist on site 'msg-site'. You should create the default secret value first.",
        );
        expectError(
          await admin(["secret:site:set", "msg-site.feature1", "API_KEY", `${MARK}-m`]),
          1,
          "Environment 'feature1' does not exist on site 'msg-site'.",
        );
        expect(
          expectSuccess(await admin(["secret:site:set", "msg-site.live", "API_KEY", `${MARK}-live`])).stderr,
        ).toBe(SET);
        // Orgs have no environment list: any valid environment name takes an override.
        expect(
          expectSuccess(
            await admin(["secret:org:set", "msg-org", "ORG_KEY", `${MARK}-org-f1`, "--env=feature1"]),
          ).stderr,
        ).toBe(SET);
      });

      it("refuses an invalid env name, a composer secret without ic and a value over 16384 bytes, with the rule's message", async () => {
        // A name its --type refuses is a usage error, found before anything is sent.
        expectError(
          await admin(["secret:site:set", "msg-site", "1nvalid", `${MARK}-x`, "--type=env"]),
          2,
          "Invalid key name '1nvalid': Environment variable names must start with a letter or underscore, and can only contain letters, numbers, and underscores.",
        );
        expectError(
          await admin([
            "secret:site:set",
            "msg-site",
            "github-oauth.github.com",
            `${MARK}-x`,
            "--type=composer",
            "--scope=web",
          ]),
          1,
          "Composer secrets are only read by Integrated Composer builds: add the ic scope (for example --scope=ic,user).",
        );
        // 16384 characters, 16385 bytes: the limit counts UTF-8 bytes.
        expectError(
          await admin(["secret:site:set", "msg-site", "TOO_BIG"], { input: `${"a".repeat(16383)}é` }),
          1,
          "Secret values can be at most 16384 bytes; this value has 16385 bytes.",
        );
        expect(
          json(await admin(["secret:site:list", "msg-site", "--format=json", "--fields=name"])),
        ).not.toHaveProperty("TOO_BIG");
      });

      it("warns that builds never read a composer or env override for live", async () => {
        const name = "github-oauth.github.com";
        const created = expectSuccess(
          await admin([
            "secret:site:set",
            "msg-site",
            name,
            `${MARK}-gh`,
            "--type=composer",
            "--scope=ic,user",
          ]),
        );
        expect(created.stderr).toBe(SET + noWebScope(name));
        const override = expectSuccess(
          await admin(["secret:site:set", "msg-site.live", name, `${MARK}-gh-live`]),
        );
        expect(override.stderr).toBe(
          `${SET}Integrated Composer builds never run in 'live', so builds will not use this override of '${name}'.\n`,
        );
        // An env secret that builds read warns alike.
        await adminDoes([
          "secret:site:set",
          "msg-site",
          "NPM_TOKEN",
          `${MARK}-npm`,
          "--type=env",
          "--scope=ic",
        ]);
        const envOverride = expectSuccess(
          await admin(["secret:site:set", "msg-site.live", "NPM_TOKEN", `${MARK}-npm-live`]),
        );
        expect(envOverride.stderr).toBe(
          `${SET}Integrated Composer builds never run in 'live', so builds will not use this override of 'NPM_TOKEN'.\n`,
        );
      });

      it("deletes overrides idempotently and secrets once, and the org's same-named secret shows again", async () => {
        await adminDoes(["secret:org:set", "msg-org", "API_KEY", `${MARK}-org-api`, "--scope=web,user"]);
        for (let i = 0; i < 2; i++) {
          const deleted = expectSuccess(await admin(["secret:site:delete", "msg-site.live", "API_KEY"]));
          expect(deleted).toEqual({ code: 0, stdout: "", stderr: OVERRIDE_DELETED });
        }
        expectError(
          await admin(["secret:site:delete", "msg-site.feature1", "API_KEY"]),
          1,
          "Environment 'feature1' does not exist on site 'msg-site'.",
        );
        expectError(
          await admin(["secret:site:delete", "msg-site.live", "MISSING"]),
          1,
          "Secret 'MISSING' does not exist on site 'msg-site'. You should create the default secret value first.",
        );
        expect(expectSuccess(await admin(["secret:site:delete", "msg-site", "API_KEY"])).stderr).toBe(
          DELETED,
        );
        // The org's API_KEY shows again: the message says where that one is deleted.
        expectError(
          await admin(["secret:site:delete", "msg-site", "API_KEY"]),
          1,
          "Secret 'API_KEY' does not exist on site 'msg-site'.\nIt is the site's organization's secret, which the site inherits: delete it with lockbox secret:org:delete <org> API_KEY, or give the site its own value with lockbox secret:site:set msg-site API_KEY.",
        );
        const resolved = json(await admin(["secret:site:resolve", "msg-site.live", "--format=json"]));
        expect(resolved.API_KEY).toEqual({
          name: "API_KEY",
          type: "runtime",
          scopes: ["web", "user"],
          value: `${MARK}-org-api`,
          source: "org",
        });
        expect(
          expectSuccess(await admin(["secret:org:delete", "msg-org", "ORG_KEY", "--env=feature1"])).stderr,
        ).toBe(OVERRIDE_DELETED);
        expect(expectSuccess(await admin(["secret:org:delete", "msg-org", "ORG_KEY"])).stderr).toBe(DELETED);
        expectError(
          await admin(["secret:org:delete", "msg-org", "ORG_KEY"]),
          1,
          "Secret 'ORG_KEY' does not exist on organization 'msg-org'.",
        );
        expectError(
          await admin(["secret:org:delete", "msg-org", "ORG_KEY", "--env=live"]),
          1,
          "Secret 'ORG_KEY' does not exist on organization 'msg-org'. You should create the default secret value first.",
        );
      });

      it("prints 'You have no Secrets.' on stderr for an empty table, and names a site or org it cannot find", async () => {
        expect(await admin(["secret:site:list", "msg-site.test"])).toEqual({
          code: 0,
          stdout: "",
          stderr: NO_SECRETS,
        });
        expectError(await admin(["secret:site:list", "no-such-site"]), 1, siteNotFound("no-such-site"));
        expectError(
          await admin(["secret:site:set", "no-such-site", "A", `${MARK}-x`]),
          1,
          siteNotFound("no-such-site"),
        );
        expectError(await admin(["secret:org:list", "no-such-org"]), 1, orgNotFound("no-such-org"));
      });
    });

    describe("listings (SPEC §2.3)", () => {
      beforeAll(async () => {
        await adminDoes(
          ["org:create", "list-org"],
          ["site:create", "list-site", "--org=list-org"],
          ["secret:org:set", "list-org", "ORG_ONLY", `${MARK}-org-only`, "--scope=web,user"],
          ["secret:org:set", "list-org", "ORG_ONLY", `${MARK}-org-only-live`, "--env=live"],
          ["secret:org:set", "list-org", "SHARED", `${MARK}-org-shared`, "--scope=web"],
          ["secret:org:set", "list-org", "SHARED", `${MARK}-org-shared-live`, "--env=live"],
          ["secret:site:set", "list-site", "SHARED", `${MARK}-site-shared`, "--scope=web,user"],
          ["secret:site:set", "list-site.dev", "SHARED", `${MARK}-site-shared-dev`],
          ["secret:site:set", "list-site", "HIDDEN", `${MARK}-hidden`, "--scope=ic,web"],
          ["secret:site:set", "list-site.dev", "HIDDEN", `${MARK}-hidden-dev`],
        );
      });

      const LISTING = {
        HIDDEN: {
          name: "HIDDEN",
          type: "runtime",
          value: null,
          scopes: ["ic", "web"],
          "env-values": { dev: null },
          "org-values": {},
          owner: "site",
        },
        ORG_ONLY: {
          name: "ORG_ONLY",
          type: "runtime",
          value: `${MARK}-org-only`,
          scopes: ["web", "user"],
          "env-values": {},
          "org-values": { default: `${MARK}-org-only`, live: `${MARK}-org-only-live` },
          owner: "org",
        },
        SHARED: {
          name: "SHARED",
          type: "runtime",
          value: `${MARK}-site-shared`,
          scopes: ["web", "user"],
          "env-values": { dev: `${MARK}-site-shared-dev` },
          "org-values": { default: null, live: null },
          owner: "site",
        },
      };

      it("shows JSON and YAML keyed by name with every field, redacted values null", async () => {
        const listed = expectSuccess(await admin(["secret:site:list", "list-site", "--format=json"]));
        expect(JSON.parse(listed.stdout)).toEqual(LISTING);
        expect(Object.keys(JSON.parse(listed.stdout))).toEqual(["HIDDEN", "ORG_ONLY", "SHARED"]);
        const yaml = expectSuccess(await admin(["secret:site:list", "list-site", "--format=yaml"]));
        expect(parseYaml(yaml.stdout)).toEqual(LISTING);
      });

      it("shows a table of name, type, value, scopes by default, --fields=a,b, and --fields='*' with every field", async () => {
        const table = expectSuccess(await admin(["secret:site:list", "list-site"]));
        expect(tableRows(table.stdout)).toEqual([
          ["name", "type", "value", "scopes"],
          ["HIDDEN", "runtime", "[REDACTED]", "ic, web"],
          ["ORG_ONLY", "runtime", `${MARK}-org-only`, "web, user"],
          ["SHARED", "runtime", `${MARK}-site-shared`, "web, user"],
        ]);
        const chosen = expectSuccess(await admin(["secret:site:list", "list-site", "--fields=owner,name"]));
        expect(tableRows(chosen.stdout)).toEqual([
          ["owner", "name"],
          ["site", "HIDDEN"],
          ["org", "ORG_ONLY"],
          ["site", "SHARED"],
        ]);
        const all = expectSuccess(await admin(["secret:site:list", "list-site", "--fields=*"]));
        expect(tableRows(all.stdout)).toEqual([
          ["name", "type", "value", "scopes", "env-values", "org-values", "owner"],
          ["HIDDEN", "runtime", "[REDACTED]", "ic, web", "dev=[REDACTED]", "", "site"],
          [
            "ORG_ONLY",
            "runtime",
            `${MARK}-org-only`,
            "web, user",
            "",
            `default=${MARK}-org-only, live=${MARK}-org-only-live`,
            "org",
          ],
          [
            "SHARED",
            "runtime",
            `${MARK}-site-shared`,
            "web, user",
            `dev=${MARK}-site-shared-dev`,
            "default=[REDACTED], live=[REDACTED]",
            "site",
          ],
        ]);
      });

      it("writes CSV with a header row of field names", async () => {
        const csv = expectSuccess(await admin(["secret:site:list", "list-site", "--format=csv"]));
        expect(csv.stdout.split("\n")).toEqual([
          "name,type,value,scopes,env-values,org-values,owner",
          `HIDDEN,runtime,[REDACTED],"ic, web",dev=[REDACTED],,site`,
          `ORG_ONLY,runtime,${MARK}-org-only,"web, user",,"default=${MARK}-org-only, live=${MARK}-org-only-live",org`,
          `SHARED,runtime,${MARK}-site-shared,"web, user",dev=${MARK}-site-shared-dev,"default=[REDACTED], live=[REDACTED]",site`,
          "",
        ]);
        const empty = expectSuccess(
          await admin(["secret:site:list", "list-site.test", "--format=csv", "--fields=name,value"]),
        );
        expect(empty.stdout).toBe("name,value\n");
      });

      it("lists the overrides of one environment with <site>.<env>, and {} in JSON when there are none", async () => {
        const dev = json(
          await admin(["secret:site:list", "list-site.dev", "--format=json", "--fields=name,value,owner"]),
        );
        expect(dev).toEqual({
          HIDDEN: { name: "HIDDEN", value: null, owner: "site" },
          SHARED: { name: "SHARED", value: `${MARK}-site-shared-dev`, owner: "site" },
        });
        const table = expectSuccess(await admin(["secret:site:list", "list-site.dev"]));
        expect(tableRows(table.stdout)).toEqual([
          ["name", "type", "value", "scopes"],
          ["HIDDEN", "runtime", "[REDACTED]", "ic, web"],
          ["SHARED", "runtime", `${MARK}-site-shared-dev`, "web, user"],
        ]);
        // Org overrides are the org's: live has none of the site's.
        expect(await admin(["secret:site:list", "list-site.live", "--format=json"])).toEqual({
          code: 0,
          stdout: "{}\n",
          stderr: "",
        });
      });

      it("lists an org's secrets with name, type, value, scopes and env-values", async () => {
        expect(json(await admin(["secret:org:list", "list-org", "--format=json"]))).toEqual({
          ORG_ONLY: {
            name: "ORG_ONLY",
            type: "runtime",
            value: `${MARK}-org-only`,
            scopes: ["web", "user"],
            "env-values": { live: `${MARK}-org-only-live` },
          },
          SHARED: {
            name: "SHARED",
            type: "runtime",
            value: null,
            scopes: ["web"],
            "env-values": { live: null },
          },
        });
        const table = expectSuccess(await admin(["secret:org:list", "list-org"]));
        expect(tableRows(table.stdout)).toEqual([
          ["name", "type", "value", "scopes"],
          ["ORG_ONLY", "runtime", `${MARK}-org-only`, "web, user"],
          ["SHARED", "runtime", "[REDACTED]", "web"],
        ]);
      });
    });

    describe("transfer and deletion (SPEC §1)", () => {
      const resolvedNames = async (site: string) =>
        Object.keys(json(await admin(["secret:site:resolve", `${site}.live`, "--format=json"]))).sort();

      it("makes a transferred site inherit from its new org only, which stops supporting it", async () => {
        await adminDoes(
          ["user:create", "owner@example.com"],
          ["org:create", "from-org"],
          ["org:create", "to-org"],
          ["site:create", "mover", "--org=from-org", "--supporting-org=to-org"],
          ["secret:org:set", "from-org", "FROM_KEY", `${MARK}-from`, "--scope=web,user"],
          ["secret:org:set", "to-org", "TO_KEY", `${MARK}-to`, "--scope=web,user"],
          ["secret:site:set", "mover", "SITE_KEY", `${MARK}-mover`, "--scope=web,user"],
        );
        expect(await resolvedNames("mover")).toEqual(["FROM_KEY", "SITE_KEY"]);

        const moved = expectSuccess(await admin(["site:transfer", "mover", "--org=to-org"]));
        expect(moved.stderr).toBe("Site 'mover' now belongs to organization 'to-org'.\n");
        expect(await resolvedNames("mover")).toEqual(["SITE_KEY", "TO_KEY"]);
        const info = json<{ owner: { kind: string; name: string }; supportingOrgs: unknown[] }>(
          await admin(["site:info", "mover", "--format=json"]),
        );
        expect(info.owner).toMatchObject({ kind: "org", name: "to-org" });
        expect(info.supportingOrgs).toEqual([]);

        await adminDoes(["site:transfer", "mover", "--owner=owner@example.com"]);
        expect(await resolvedNames("mover")).toEqual(["SITE_KEY"]);
        await adminDoes(["site:transfer", "mover", "--org=to-org"]);
      });

      it("refuses to delete an org that owns a site (409), then deletes it with its secrets once it owns none", async () => {
        const refused = await admin(["org:delete", "to-org"]);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/^Error: Organization 'to-org' still owns 1 site\(s\)/);
        expect(
          json(await admin(["secret:org:list", "to-org", "--format=json", "--fields=name"])),
        ).toHaveProperty("TO_KEY");

        expect(expectSuccess(await admin(["org:delete", "from-org"])).stderr).toBe(
          "Organization 'from-org' deleted.\n",
        );
        expectError(await admin(["secret:org:list", "from-org"]), 1, orgNotFound("from-org"));

        const deleted = expectSuccess(await admin(["site:delete", "mover"]));
        expect(deleted.stderr).toBe("Site 'mover' deleted, with its secrets, environments and tokens.\n");
        expectError(await admin(["secret:site:list", "mover"]), 1, siteNotFound("mover"));
        await adminDoes(["org:delete", "to-org"]);
        expectError(await admin(["secret:org:list", "to-org"]), 1, orgNotFound("to-org"));

        // A new site under the old name is a new site: nothing of the old one binds to it.
        await adminDoes(["org:create", "to-org"], ["site:create", "mover", "--org=to-org"]);
        expect(await admin(["secret:site:list", "mover"])).toEqual({
          code: 0,
          stdout: "",
          stderr: NO_SECRETS,
        });
      });
    });

    describe("values at the limits (SPEC §2, §8)", () => {
      const pem = pemOfExactly(16384);

      beforeAll(async () => {
        await adminDoes(["org:create", "big-org"], ["site:create", "big-site", "--org=big-org"]);
      });

      it("round-trips a 16384-byte multi-line PEM byte for byte from --value-file, and from stdin but for one final newline", async () => {
        expect(Buffer.byteLength(pem)).toBe(16384);
        expect(pem.split("\n").length).toBeGreaterThan(200);
        expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]*\r\n[\s\S]*\n-----END PRIVATE KEY-----\n$/);
        const file = join(e2e.dir, "key.pem");
        writeFileSync(file, pem);
        const utf8 = `${"ключ-🔑\n".repeat(1170)}abcd`;
        expect(Buffer.byteLength(utf8)).toBe(16384);

        // Stdin loses one final newline (as `$(cat key.pem)` would), so the PEM is piped with one more.
        const fromStdin = await admin(["secret:site:set", "big-site", "TLS_KEY", "--scope=web,user"], {
          input: `${pem}\n`,
        });
        expect(expectSuccess(fromStdin).stderr).toBe(SET);
        const fromFile = await admin([
          "secret:site:set",
          "big-site",
          "TLS_KEY_FILE",
          "--scope=web,user",
          `--value-file=${file}`,
        ]);
        expect(expectSuccess(fromFile).stderr).toBe(SET);
        const explicitStdin = await admin(["secret:site:set", "big-site", "UTF8", "-", "--scope=web,user"], {
          input: utf8,
        });
        expect(expectSuccess(explicitStdin).stderr).toBe(SET);

        const listed = json(
          await admin(["secret:site:list", "big-site", "--format=json", "--fields=name,value"]),
        );
        expect(listed.TLS_KEY?.value === pem).toBe(true);
        expect(listed.TLS_KEY_FILE?.value === pem).toBe(true);
        expect(listed.UTF8?.value === utf8).toBe(true);
      });

      it("refuses a missing value (stdin from /dev/null, an empty pipe, a lone newline) with exit 2, changing nothing", async () => {
        const kept = `${MARK}-kept`;
        await adminDoes(
          ["secret:site:set", "big-site", "KEPT", kept, "--scope=web,user"],
          ["secret:site:set", "big-site.live", "KEPT", `${kept}-live`],
          ["secret:org:set", "big-org", "ORG_KEPT", kept, "--scope=web,user"],
          ["secret:org:set", "big-org", "ORG_KEPT", `${kept}-live`, "--env=live"],
        );
        const commands = [
          ["secret:site:set", "big-site", "KEPT"],
          ["secret:site:set", "big-site", "KEPT", "-"],
          ["secret:site:set", "big-site.live", "KEPT"],
          ["secret:org:set", "big-org", "ORG_KEPT"],
          ["secret:org:set", "big-org", "ORG_KEPT", "--env=live"],
        ];
        const runs = [];
        for (const args of commands) {
          runs.push(await admin(args, { stdinFrom: "/dev/null" }));
          runs.push(await admin(args, { input: "" }));
          runs.push(await admin(args, { input: "\n" }));
        }
        for (const run of runs) {
          expect(run.code, run.stderr).toBe(2);
          expect(run.stderr).toMatch(
            /^Error: No value given for '(ORG_)?KEPT' \(stdin (is empty|held only a newline)\): nothing was changed\./,
          );
          expect(run.stderr).toContain("an empty value only as an explicit '' argument");
        }

        const site = json(
          await admin(["secret:site:list", "big-site", "--format=json", "--fields=name,value,env-values"]),
        );
        expect(site.KEPT).toEqual({ name: "KEPT", value: kept, "env-values": { live: `${kept}-live` } });
        const org = json(
          await admin(["secret:org:list", "big-org", "--format=json", "--fields=name,value,env-values"]),
        );
        expect(org.ORG_KEPT).toEqual({
          name: "ORG_KEPT",
          value: kept,
          "env-values": { live: `${kept}-live` },
        });

        // An explicit '' is an empty value.
        expectSuccess(await admin(["secret:site:set", "big-site", "KEPT", ""]));
        const emptied = json(
          await admin(["secret:site:list", "big-site", "--format=json", "--fields=name,value"]),
        );
        expect(emptied.KEPT).toEqual({ name: "KEPT", value: "" });
      });

      it("drops exactly one final newline from a piped value (echo), and keeps --value-file byte for byte", async () => {
        const value = `${MARK}-s3cr3t`;
        const file = join(e2e.dir, "value.txt");
        writeFileSync(file, `${value}\n`);
        await adminDoes(["secret:site:set", "big-site", "PIPED", "first", "--scope=web,user"]);
        // A pipe (LF, CRLF, two newlines) and a file redirected to stdin (`< value.txt`).
        const cases: [string[], { input?: string; stdinFrom?: string }][] = [
          [["secret:site:set", "big-site", "PIPED"], { input: `${value}\n` }],
          [["secret:site:set", "big-site.dev", "PIPED"], { input: `${value}\r\n` }],
          [["secret:site:set", "big-site.live", "PIPED"], { input: `${value}\n\n` }],
          [["secret:site:set", "big-site.test", "PIPED"], { stdinFrom: file }],
        ];
        for (const [args, options] of cases) expectSuccess(await admin(args, options));
        const listed = json(
          await admin(["secret:site:list", "big-site", "--format=json", "--fields=name,value,env-values"]),
        );
        expect(listed.PIPED).toEqual({
          name: "PIPED",
          value,
          "env-values": { dev: value, live: `${value}\n`, test: value },
        });

        expectSuccess(await admin(["secret:site:set", "big-site", "PIPED", `--value-file=${file}`]));
        const fromFile = json(
          await admin(["secret:site:list", "big-site", "--format=json", "--fields=name,value"]),
        );
        expect(fromFile.PIPED).toEqual({ name: "PIPED", value: `${value}\n` });
      });

      it("takes a value starting with '-' after '--', and refuses it before '--' without echoing it", async () => {
        const dashed = `-${MARK}-dashed`;
        const refused = await admin(["secret:site:set", "big-site", "DASHED", dashed, "--scope=web,user"]);
        expect(refused.code).toBe(2);
        expect(refused.stderr).toContain("A value that starts with '-' goes after '--'");
        expect(refused.stderr).not.toContain(dashed);

        expect(
          expectSuccess(
            await admin(["secret:site:set", "big-site", "DASHED", "--scope=web,user", "--", dashed]),
          ).stderr,
        ).toBe(SET);
        const listed = json(
          await admin(["secret:site:list", "big-site", "--format=json", "--fields=name,value"]),
        );
        expect(listed.DASHED).toEqual({ name: "DASHED", value: dashed });
      });
    });

    describe("exit codes and help (SPEC §8)", () => {
      it("exits 2 on usage errors without calling the server", async () => {
        const requestsBefore = e2e.server.stderr().split('"msg":"request"').length;
        const usage = await Promise.all([
          admin(["secret:site:list", "big-site", "--bogus"]),
          admin(["secret:site:resolve", "big-site"]),
          admin(["secret:site:list", "Big_Site.dev"]),
          admin(["secret:site:list", "big-site.not_an_env"]),
          admin(["secret:site:list", "big-site", "--format=xml"]),
          admin(["secret:site:list"]),
          admin(["secret:sitez:list", "big-site"]),
        ]);
        expect(usage.map((result) => result.code)).toEqual([2, 2, 2, 2, 2, 2, 2]);
        expect(usage.map((result) => result.stdout)).toEqual(["", "", "", "", "", "", ""]);
        expect(usage[0]?.stderr).toContain("unknown option '--bogus'");
        expect(usage[1]?.stderr).toBe(
          "Error: Missing environment in 'big-site': use <site>.<env>, for example big-site.dev.\n",
        );
        for (const result of usage.slice(2, 4)) expect(result.stderr).toMatch(/^Error: Invalid \w+ name/);
        expect(e2e.server.stderr().split('"msg":"request"').length).toBe(requestsBefore);
      });

      it("exits 1 on a failed operation and 0 on success", async () => {
        const [failed, unreachable, unconfigured, succeeded] = await Promise.all([
          admin(["secret:site:list", "no-such-site"]),
          runCli(["org:list"], {
            env: { HOME: e2e.dir, LOCKBOX_URL: "http://127.0.0.1:9", LOCKBOX_TOKEN: e2e.adminToken },
          }),
          runCli(["org:list"], { env: { HOME: e2e.dir } }),
          admin(["org:list"]),
        ]);
        expect([failed.code, unreachable.code, unconfigured.code, succeeded.code]).toEqual([1, 1, 1, 0]);
        expect(unconfigured.stderr).toBe(
          "Error: No Lockbox server is configured: run lockbox auth:login (or set LOCKBOX_URL and LOCKBOX_TOKEN).\n",
        );
        expect(unreachable.stderr).toMatch(/^Error: /);
        expect(tableRows(succeeded.stdout).map((row) => row[0])).toContain("my-org");
      });

      it("shows an example in the --help of each command", async () => {
        const commands = [
          "secret:site:set",
          "secret:site:list",
          "secret:org:set",
          "site:create",
          "token:create",
        ];
        const helps = await Promise.all(commands.map((command) => runCli([command, "--help"])));
        for (const [i, help] of helps.entries()) {
          expect(help.code).toBe(0);
          expect(help.stdout).toMatch(new RegExp(`\\nExamples:\\n  \\$ lockbox ${commands[i]}\\b`));
        }
      });
    });

    it("never writes a secret value or a token to the server's request log", () => {
      const log = e2e.server.stderr();
      // The log is there (so the check means something) and names the requests …
      expect(log).toContain('"path":"/v1/sites/big-site/secrets/TLS_KEY"');
      expect(log).toContain('"path":"/v1/orgs/list-org/secrets/ORG_ONLY/envs/live"');
      // … but no value (each holds MARK) and no token.
      expectNoSecretsIn(log, [MARK, e2e.adminToken]);
    });
  });
});
