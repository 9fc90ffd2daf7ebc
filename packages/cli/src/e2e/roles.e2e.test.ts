import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cliAs,
  type E2eServer,
  e2eDatabases,
  expectError,
  expectNoSecretsIn,
  expectSuccess,
  json,
  lastLine,
  startE2eServer,
  tableRows,
} from "./e2e-fixtures.js";
import { type CliResult, runCli } from "./harness.js";

/** Every secret value in this suite contains this marker, so the request log can be searched for it. */
const MARK = "hush";

type Cli = (args: string[], options?: { input?: string | Buffer }) => Promise<CliResult>;

const siteNotFound = (site: string) => `Site '${site}' was not found, or you do not have access to it.`;
const orgNotFound = (org: string) => `Organization '${org}' was not found, or you do not have access to it.`;

/**
 * The role table of SPEC §5, row by row, through the real CLI run as different people, each with
 * their own token (`user:create`, `token:create --user`), memberships (`org:member:add`) and team
 * (`site:team:add`):
 *
 * - alice: admin of org-a, which owns site-a (supported by agency)
 * - bob: member of org-a
 * - carol: member of org-b, which owns site-b
 * - dave: member of agency, a supporting org of site-a
 * - erin: on site-a's team
 * - frank: owner of a personal site
 *
 * SQLite and PostgreSQL run side by side, each with its own server; the tests of each run in order.
 */
describe.concurrent.each(await e2eDatabases())("on $name", (database) => {
  describe.sequential("the role table through the CLI", () => {
    let e2e: E2eServer;
    let admin: Cli;
    const people: Record<string, Cli> = {};
    const tokens: string[] = [];
    const as = (name: string): Cli => {
      const cli = people[name];
      if (cli === undefined) throw new Error(`no CLI for ${name}`);
      return cli;
    };
    const does = async (cli: Cli, ...commands: string[][]) => {
      for (const args of commands) expectSuccess(await cli(args));
    };

    beforeAll(async () => {
      e2e = await startE2eServer(database);
      admin = cliAs(e2e, e2e.adminToken);
      tokens.push(e2e.adminToken);
      for (const name of ["alice", "bob", "carol", "dave", "erin", "frank"]) {
        await does(admin, ["user:create", `${name}@example.com`]);
        const created = expectSuccess(await admin(["token:create", `--user=${name}@example.com`]));
        const token = lastLine(created);
        expect(token).toMatch(/^lbx_[A-Za-z0-9_-]{43}$/);
        expect(created.stderr).not.toContain(token);
        tokens.push(token);
        people[name] = cliAs(e2e, token);
      }
      await does(
        admin,
        ["org:create", "org-a"],
        ["org:create", "org-b"],
        ["org:create", "agency"],
        ["org:member:add", "org-a", "alice@example.com", "--role=admin"],
        ["org:member:add", "org-b", "carol@example.com", "--role=member"],
        ["org:member:add", "agency", "dave@example.com", "--role=member"],
        ["site:create", "site-a", "--org=org-a", "--supporting-org=agency"],
        ["site:create", "site-b", "--org=org-b"],
        ["secret:org:set", "agency", "AGENCY_KEY", `${MARK}-agency`, "--scope=ic,web,user"],
        ["secret:org:set", "org-b", "ORG_B_KEY", `${MARK}-org-b`, "--scope=web,user"],
        ["secret:site:set", "site-b", "SITE_B_KEY", `${MARK}-site-b`, "--scope=web,user"],
      );
    });
    afterAll(async () => {
      await e2e?.close();
    });

    it("lets only the platform admin create users and organizations (403 for an org admin)", async () => {
      const [user, org] = await Promise.all([
        as("alice")(["user:create", "mallory@example.com"]),
        as("alice")(["org:create", "alice-org"]),
      ]);
      expectError(user, 1, "Only the platform admin can create users.");
      expectError(org, 1, "Only the platform admin can create organizations.");
    });

    it("lets an org admin manage the org's secrets and members and create and delete its sites", async () => {
      const alice = as("alice");
      expect(
        expectSuccess(
          await alice(["secret:org:set", "org-a", "ORG_A_KEY", `${MARK}-org-a`, "--scope=web,user"]),
        ).stderr,
      ).toBe("Secret successfully set.\n");
      await does(
        alice,
        ["org:member:add", "org-a", "bob@example.com", "--role=member"],
        ["site:create", "site-a2", "--org=org-a"],
        ["site:delete", "site-a2"],
      );
      const [deleteOrg, otherOrg] = await Promise.all([
        alice(["org:delete", "org-a"]),
        alice(["secret:org:set", "org-b", "ALICE_WAS_HERE", `${MARK}-x`]),
      ]);
      expectError(deleteOrg, 1, "Only the platform admin can delete organization 'org-a'.");
      expectError(otherOrg, 1, orgNotFound("org-b"));
    });

    it("lets an org member list but not change the org's secrets (403), and manage the org's sites", async () => {
      const bob = as("bob");
      const listed = json(await bob(["secret:org:list", "org-a", "--format=json", "--fields=name,value"]));
      expect(listed).toEqual({ ORG_A_KEY: { name: "ORG_A_KEY", value: `${MARK}-org-a` } });
      expectError(
        await bob(["secret:org:set", "org-a", "BOB_ORG_KEY", `${MARK}-x`]),
        1,
        "Only an admin of organization 'org-a' can change its secrets.",
      );
      expectError(
        await bob(["secret:org:delete", "org-a", "ORG_A_KEY"]),
        1,
        "Only an admin of organization 'org-a' can change its secrets.",
      );
      expectError(
        await bob(["org:member:add", "org-a", "frank@example.com"]),
        1,
        "Only an admin of organization 'org-a' can manage its members.",
      );
      await does(
        bob,
        ["secret:site:set", "site-a", "BOB_KEY", `${MARK}-bob`, "--scope=web,user"],
        ["multidev:create", "site-a.feature1"],
        ["secret:site:set", "site-a.feature1", "BOB_KEY", `${MARK}-bob-f1`],
        ["site:team:add", "site-a", "erin@example.com"],
      );
      const runtime = expectSuccess(await bob(["token:runtime:create", "site-a.live"]));
      expect(lastLine(runtime)).toMatch(/^lbr_[A-Za-z0-9_-]{43}$/);
      tokens.push(lastLine(runtime));
      expectError(
        await bob(["site:delete", "site-a"]),
        1,
        "Only the owner of site 'site-a' (or an admin of its organization) can delete it.",
      );
    });

    it("answers a member of org A the same 404 for org B's site and secrets as for a missing site", async () => {
      const bob = as("bob");
      const results = await Promise.all([
        bob(["secret:site:list", "site-b"]),
        bob(["secret:site:set", "site-b", "BOB_KEY", `${MARK}-x`]),
        bob(["secret:site:delete", "site-b", "SITE_B_KEY"]),
        bob(["secret:site:resolve", "site-b.live"]),
        bob(["site:info", "site-b"]),
        bob(["token:runtime:create", "site-b.live"]),
      ]);
      for (const result of results) expectError(result, 1, siteNotFound("site-b"));
      expectError(await bob(["secret:site:list", "no-such-site"]), 1, siteNotFound("no-such-site"));
      expectError(await bob(["secret:org:list", "org-b"]), 1, orgNotFound("org-b"));
      // Nothing changed on site-b.
      const listed = json(
        await admin(["secret:site:list", "site-b", "--format=json", "--fields=name,value"]),
      );
      expect(listed).toEqual({
        ORG_B_KEY: { name: "ORG_B_KEY", value: `${MARK}-org-b` },
        SITE_B_KEY: { name: "SITE_B_KEY", value: `${MARK}-site-b` },
      });
    });

    it("lets a supporting org's member manage the site's secrets, while that org's secrets never reach the site", async () => {
      const dave = as("dave");
      await does(dave, ["secret:site:set", "site-a", "DAVE_KEY", `${MARK}-dave`, "--scope=web,user"]);
      const listed = json(await dave(["secret:site:list", "site-a", "--format=json", "--fields=name,owner"]));
      expect(listed).toEqual({
        BOB_KEY: { name: "BOB_KEY", owner: "site" },
        DAVE_KEY: { name: "DAVE_KEY", owner: "site" },
        ORG_A_KEY: { name: "ORG_A_KEY", owner: "org" },
      });
      for (const scope of ["web", "ic", "user"]) {
        const resolved = json(
          await dave(["secret:site:resolve", "site-a.live", `--scope=${scope}`, "--format=json"]),
        );
        expect(Object.keys(resolved)).not.toContain("AGENCY_KEY");
      }
      expect(Object.keys(json(await dave(["secret:org:list", "agency", "--format=json"])))).toEqual([
        "AGENCY_KEY",
      ]);
      expectError(await dave(["secret:org:list", "org-a"]), 1, orgNotFound("org-a"));
      expectError(
        await dave(["site:delete", "site-a"]),
        1,
        "Only the owner of site 'site-a' (or an admin of its organization) can delete it.",
      );
    });

    it("lets a site's team member manage its secrets but not its team", async () => {
      const erin = as("erin");
      await does(
        erin,
        ["secret:site:set", "site-a", "ERIN_KEY", `${MARK}-erin`, "--scope=web,user"],
        ["secret:site:set", "site-a.live", "ERIN_KEY", `${MARK}-erin-live`],
        ["secret:site:delete", "site-a.feature1", "BOB_KEY"],
      );
      const resolved = json(await erin(["secret:site:resolve", "site-a.live", "--format=json"]));
      expect(resolved.ERIN_KEY).toMatchObject({ value: `${MARK}-erin-live`, source: "site-override" });
      const [team, orgList, otherSite] = await Promise.all([
        erin(["site:team:add", "site-a", "frank@example.com"]),
        erin(["secret:org:list", "org-a"]),
        erin(["secret:site:list", "site-b"]),
      ]);
      expectError(team, 1, "Only members of the organizations of site 'site-a' can change its team.");
      expectError(orgList, 1, orgNotFound("org-a"));
      expectError(otherSite, 1, siteNotFound("site-b"));
    });

    it("lets a personal site's owner manage and delete it, and hides it from everyone else", async () => {
      const frank = as("frank");
      await does(
        frank,
        ["site:create", "frank-site", "--owner=frank@example.com"],
        ["secret:site:set", "frank-site", "FRANK_KEY", `${MARK}-frank`, "--scope=web,user"],
      );
      expectError(
        await frank(["site:create", "bob-site", "--owner=bob@example.com"]),
        1,
        "Only the platform admin can give a personal site to someone else.",
      );
      expectError(await as("bob")(["secret:site:list", "frank-site"]), 1, siteNotFound("frank-site"));
      // A personal site gets no org secrets.
      const resolved = json(await frank(["secret:site:resolve", "frank-site.live", "--format=json"]));
      expect(Object.keys(resolved)).toEqual(["FRANK_KEY"]);
      await does(frank, ["site:delete", "frank-site"]);
      expectError(await frank(["secret:site:list", "frank-site"]), 1, siteNotFound("frank-site"));
    });

    it("gives a runtime token only its own site's web secrets, and no management API", async () => {
      const runtimeToken = tokens.find((token) => token.startsWith("lbr_")) ?? "";
      const runtime = (name: string) =>
        runCli(["runtime:get", name], {
          cwd: e2e.dir,
          env: { HOME: e2e.dir, LOCKBOX_URL: e2e.server.url, LOCKBOX_RUNTIME_TOKEN: runtimeToken },
        });
      const [own, inherited, supporting, management] = await Promise.all([
        runtime("ERIN_KEY"),
        runtime("ORG_A_KEY"),
        runtime("AGENCY_KEY"),
        cliAs(e2e, runtimeToken)(["org:list"]),
      ]);
      expect(own).toMatchObject({ code: 0, stdout: `${MARK}-erin-live` });
      expect(inherited).toMatchObject({ code: 0, stdout: `${MARK}-org-a` });
      expect(supporting.code).toBe(1);
      expect(supporting.stdout).toBe("");
      expectError(
        management,
        1,
        "A runtime token can only read GET /site/secrets: use a user token (lbx_…) for the management API.",
      );
    });

    it("refuses a revoked token with 401 and exit 1", async () => {
      const carol = as("carol");
      expectSuccess(await carol(["secret:site:list", "site-b"]));
      const own = json<Array<{ id: string; kind: string; user: string }>>(
        await carol(["token:list", "--format=json"]),
      );
      expect(own).toHaveLength(1);
      expect(own[0]).toMatchObject({ kind: "user", user: "carol@example.com" });
      const revoked = expectSuccess(await admin(["token:revoke", own[0]?.id ?? ""]));
      expect(revoked.stderr).toBe(`Token '${own[0]?.id}' revoked.\n`);
      const message =
        "The token is invalid, expired or revoked. Log in again with lockbox auth:login (or check LOCKBOX_TOKEN).";
      expectError(await carol(["secret:site:list", "site-b"]), 1, message);
      expectError(await carol(["auth:whoami"]), 1, message);
      // Still listed, and marked revoked in every format.
      const listed = json<Array<{ id: string; revokedAt: string | null }>>(
        await admin(["token:list", "--user=carol@example.com", "--format=json"]),
      );
      expect(listed).toEqual([expect.objectContaining({ id: own[0]?.id, revokedAt: expect.any(String) })]);
      const revokedColumn = [
        ["id", "revoked"],
        [own[0]?.id, listed[0]?.revokedAt],
      ];
      const table = tableRows(expectSuccess(await admin(["token:list", "--user=carol@example.com"])).stdout);
      expect(table.map((row) => [row[0], row.at(-1)])).toEqual(revokedColumn);
      const csv = expectSuccess(await admin(["token:list", "--user=carol@example.com", "--format=csv"]));
      const csvRows = csv.stdout
        .trimEnd()
        .split("\n")
        .map((line) => line.split(","));
      expect(csvRows.map((row) => [row[0], row.at(-1)])).toEqual(revokedColumn);
    });

    it("never writes a secret value or a token to the server's request log", () => {
      const log = e2e.server.stderr();
      expect(log).toContain('"path":"/v1/sites/site-a/secrets/DAVE_KEY"');
      expect(log).toContain('"status":401');
      expectNoSecretsIn(log, [MARK, ...tokens]);
    });
  });
});
