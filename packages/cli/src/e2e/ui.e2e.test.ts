import { gzipSync } from "node:zlib";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureView, launchChromium, skipBrowserTests } from "./browser.js";
import {
  cliAs,
  type E2eServer,
  e2eDatabases,
  expectSuccess,
  lastLine,
  startE2eServer,
} from "./e2e-fixtures.js";
import type { CliResult } from "./harness.js";

type Cli = (args: string[], options?: { input?: string | Buffer }) => Promise<CliResult>;

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";
/** Every value set in this suite contains this marker: it must never reach a URL or a title. */
const MARK = "hush";

/**
 * The web dashboard in a real browser (Debian's chromium through playwright-core) against a real
 * server started as `npm start` does, with users made through the real CLI: sign-in with a
 * `lockbox ui` link, secrets (org and site, a live override set and deleted, redaction and
 * reveal), the resolve view, runtime tokens, the audit log, site and org secret history, and
 * another org's user meeting "not found". Each view is photographed at 1280 and 390 px and checked with axe-core.
 * SQLite only: the API it drives is tested on both stores elsewhere.
 */
describe.skipIf(skipBrowserTests).sequential("the web dashboard in chromium", async () => {
  const [sqlite] = await e2eDatabases();
  let e2e: E2eServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let alice: Cli;
  let aliceToken: string;
  let malloryToken: string;
  const problems: string[] = [];
  const ui = (path = "") => `${e2e.server.url}/ui/${path}`;
  /** A PUT through the API, waiting out the rate limit as the CLI does; answers the status. */
  const put = async (path: string, token: string, body: unknown): Promise<number> => {
    for (;;) {
      const response = await fetch(`${e2e.server.url}${path}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (response.status !== 429) return response.status;
      await new Promise((resolve) =>
        setTimeout(resolve, Number(response.headers.get("retry-after") ?? 1) * 1000),
      );
    }
  };

  beforeAll(async () => {
    if (!sqlite) throw new Error("no SQLite store");
    e2e = await startE2eServer(sqlite);
    const admin = cliAs(e2e, e2e.adminToken);
    const does = async (cli: Cli, ...commands: string[][]) => {
      for (const args of commands) expectSuccess(await cli(args));
    };
    await does(
      admin,
      ["org:create", "acme"],
      ["org:create", "other"],
      ["user:create", "alice@example.com"],
      ["user:create", "mallory@example.com"],
      ["org:member:add", "acme", "alice@example.com", "--role=admin"],
      ["org:member:add", "other", "mallory@example.com"],
      ["site:create", "shop", "--org=acme"],
    );
    aliceToken = lastLine(expectSuccess(await admin(["token:create", "--user=alice@example.com"])));
    malloryToken = lastLine(expectSuccess(await admin(["token:create", "--user=mallory@example.com"])));
    alice = cliAs(e2e, aliceToken);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: e2e.server.url });
    page = await context.newPage();
    // Anything the page loads from elsewhere, any CSP refusal and any script error is a failure.
    page.on("request", (request) => {
      if (!request.url().startsWith(e2e.server.url)) problems.push(`request to ${request.url()}`);
    });
    page.on("console", (message) => {
      if (message.type() === "error" && !/status of 4\d\d/.test(message.text())) {
        problems.push(`console: ${message.text()}`);
      }
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  });

  afterAll(async () => {
    await browser?.close();
    await e2e?.close();
  });

  it("serves the dashboard at /ui/ with a strict CSP, no framing, and immutable hashed assets", async () => {
    const root = await fetch(`${e2e.server.url}/`, { redirect: "manual" });
    expect([root.status, root.headers.get("location")]).toEqual([302, "/ui/"]);
    const index = await fetch(ui());
    expect(index.status).toBe(200);
    expect(index.headers.get("content-security-policy")).toBe(CSP);
    expect(index.headers.get("x-frame-options")).toBe("DENY");
    expect(index.headers.get("cache-control")).toBe("no-cache");
    const html = await index.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(html).not.toMatch(/\sstyle=/);
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toMatch(/-[A-Za-z0-9_-]{8}\.js$/);
    const asset = await fetch(`${e2e.server.url}${script}`);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(asset.headers.get("content-security-policy")).toBe(CSP);
    // The whole dashboard (script and style) stays small: under 150 KB gzipped.
    const style = /href="(\/ui\/assets\/[^"]+\.css)"/.exec(html)?.[1];
    const bytes = Buffer.concat([
      Buffer.from(await asset.arrayBuffer()),
      Buffer.from(await (await fetch(`${e2e.server.url}${style}`)).arrayBuffer()),
    ]);
    expect(gzipSync(bytes).length).toBeLessThan(150 * 1024);
    // A deep link is the page too; a missing asset is a 404.
    expect((await fetch(ui("sites/shop/secrets"))).status).toBe(200);
    expect((await fetch(ui("assets/nope-12345678.js"))).status).toBe(404);
  });

  it("signs in with a `lockbox ui` link: the link leaves the address bar, the session is in sessionStorage only, and the link works once", async () => {
    const printed = expectSuccess(await alice(["ui"]));
    const link = lastLine(printed);
    expect(link).toMatch(new RegExp(`^${e2e.server.url}/ui/#signin=lbs_[A-Za-z0-9_-]{43}$`));
    await page.goto(link);
    // The page asks before it keeps a link's session: a link someone else sent must not sign this tab in.
    await page.getByRole("heading", { name: "Continue as alice@example.com?" }).waitFor();
    expect(page.url()).toBe(ui());
    expect(await page.evaluate("sessionStorage.getItem('lockbox.session')")).toBeNull();
    await captureView(page, "sign-in-confirm");
    await page.getByRole("button", { name: "Continue as alice@example.com" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    expect(page.url()).toBe(ui());
    // The link's entry was replaced: back is the blank page the browser started on, forward is /ui/.
    await page.goBack();
    expect(page.url()).toBe("about:blank");
    await page.goForward();
    expect(page.url()).toBe(ui());
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    expect(await context.cookies()).toEqual([]);
    const stored = JSON.parse(String(await page.evaluate("sessionStorage.getItem('lockbox.session')")));
    expect(stored).toMatchObject({ email: "alice@example.com" });
    expect(stored.token).toMatch(/^lbx_/);
    // The session is a user token of alice's, listed by token:list, for 12 hours.
    const listed = JSON.parse(expectSuccess(await alice(["token:list", "--format=json"])).stdout) as Array<{
      id: string;
      expiresAt: string | null;
    }>;
    const session = listed.find((token) => token.id === stored.sessionId);
    expect(Date.parse(session?.expiresAt ?? "") - Date.now()).toBeGreaterThan(11.9 * 3600_000);
    await page.getByRole("link", { name: "acme" }).first().waitFor();
    // Keyboard: the first Tab reaches the skip link, which moves focus to the content.
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Skip to content");
    await page.keyboard.press("Enter");
    expect(await page.evaluate("document.activeElement.id")).toBe("main");
    await captureView(page, "overview");

    const second = await context.newPage();
    await second.goto(link);
    await second.getByRole("alert").waitFor();
    expect(await second.getByRole("alert").textContent()).toContain("already used");
    await captureView(second, "sign-in-used-link");

    // "Not me" ends the link's session at once: its token is revoked, nothing is kept in the tab.
    const declined = lastLine(expectSuccess(await alice(["ui"])));
    await second.close();
    const third = await context.newPage();
    await third.goto(declined);
    await third.getByRole("button", { name: "Not me: end this session" }).click();
    await third.getByRole("status").filter({ hasText: "That session was ended" }).waitFor();
    expect(await third.evaluate("sessionStorage.getItem('lockbox.session')")).toBeNull();
    const after = JSON.parse(expectSuccess(await alice(["token:list", "--format=json"])).stdout) as Array<{
      id: string;
      revokedAt: string | null;
      lastUsedAt: string | null;
    }>;
    const live = after.filter((token) => token.revokedAt === null).map((token) => token.id);
    // The declined session is revoked: alice's live tokens are the ones she had before it.
    expect(live.sort()).toEqual(listed.map((t) => t.id).sort());
    await third.close();
  });

  it("shows an org's members and creates an org secret, with the server's message inline", async () => {
    await page.getByRole("link", { name: "acme" }).first().click();
    await page.getByRole("heading", { name: "Organization acme" }).waitFor();
    await page.getByRole("cell", { name: "alice@example.com" }).waitFor();
    await setSecret(page, { name: "ORG_KEY", value: `${MARK}-org`, scopes: ["web", "user"] });
    await page.getByRole("status").filter({ hasText: "Secret successfully set. ORG_KEY" }).waitFor();
    await page.getByRole("rowheader", { name: /ORG_KEY/ }).waitFor();
    await captureView(page, "org");
  });

  it("creates site secrets and a live override, redacts what lacks the user scope, reveals one value at a time, and deletes the override", async () => {
    await page.goto(ui("sites/shop/secrets"));
    await page.getByRole("heading", { name: /Secrets/ }).waitFor();
    await setSecret(page, { name: "SITE_KEY", value: `${MARK}-base`, scopes: ["web", "user"] });
    await page.getByRole("status").filter({ hasText: "Secret successfully set. SITE_KEY" }).waitFor();
    await setSecret(page, { name: "SITE_KEY", value: `${MARK}-live`, env: "live" });
    await page.getByRole("status").filter({ hasText: "SITE_KEY (the live override)" }).waitFor();
    // Builds only: the server's note (no web scope) is shown inline, as the CLI prints it.
    await setSecret(page, { name: "BUILD_ONLY", value: `${MARK}-ic`, scopes: ["ic"] });
    await page.locator(".note").filter({ hasText: "BUILD_ONLY" }).waitFor();
    // The server's rules and messages, inline: an invalid name is refused as the CLI is.
    await setSecret(page, { name: "bad name", value: `${MARK}-bad` });
    const refused = page.getByRole("alert").filter({ hasText: "bad name" });
    await refused.waitFor();
    const cliRefusal = await alice(["secret:site:set", "shop", "bad name", `${MARK}-bad`]);
    expect(cliRefusal.stderr).toContain(
      String(await refused.locator("p").first().textContent()).replace(/^Error: /, ""),
    );

    const row = (name: string | RegExp) =>
      page.getByRole("row").filter({ has: page.getByRole("rowheader", { name }) });
    await row(/ORG_KEY/)
      .getByText("org", { exact: true })
      .waitFor();
    // An inherited secret's columns show the org's overrides: live receives the org's live value.
    expectSuccess(await alice(["secret:org:set", "acme", "ORG_KEY", `${MARK}-org-live`, "--env=live"]));
    await page.reload();
    await row(/ORG_KEY/)
      .getByRole("button", { name: "Reveal the live override of ORG_KEY" })
      .click();
    await expect(page.getByTestId("revealed-value").textContent()).resolves.toBe(`${MARK}-org-live`);
    await row(/ORG_KEY/)
      .getByText("no test override")
      .waitFor();
    await expect(
      row(/ORG_KEY/)
        .getByRole("button", { name: /Delete/ })
        .count(),
    ).resolves.toBe(0);
    await row(/ORG_KEY/)
      .getByRole("button", { name: "Hide the live override of ORG_KEY" })
      .click();
    expectSuccess(await alice(["secret:org:delete", "acme", "ORG_KEY", "--env=live"]));
    await row(/SITE_KEY/)
      .getByText("site", { exact: true })
      .waitFor();
    await row(/BUILD_ONLY/)
      .getByText("redacted")
      .waitFor();
    await expect(
      row(/BUILD_ONLY/)
        .getByRole("button", { name: /Reveal/ })
        .count(),
    ).resolves.toBe(0);
    await expect(page.getByText(`${MARK}-base`).count()).resolves.toBe(0);

    await page.getByRole("button", { name: "Reveal the base value of SITE_KEY" }).click();
    await expect(page.getByTestId("revealed-value").textContent()).resolves.toBe(`${MARK}-base`);
    await page.getByRole("button", { name: "Reveal the live override of SITE_KEY" }).click();
    await expect(page.getByTestId("revealed-value").allTextContents()).resolves.toEqual([`${MARK}-live`]);
    await captureView(page, "secrets");
    await page.getByRole("button", { name: "Hide the live override of SITE_KEY" }).click();

    await page.getByRole("button", { name: "Delete the live override of SITE_KEY" }).click();
    await page.getByRole("button", { name: "Delete the override" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: "Secret environment override deleted if it existed. SITE_KEY (live override)." })
      .waitFor();
    await row(/SITE_KEY/)
      .getByText("no live override")
      .waitFor();
    await page.getByRole("button", { name: "Delete BUILD_ONLY and all its overrides" }).click();
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.getByRole("button", { name: "Delete BUILD_ONLY and all its overrides" }).click();
    await page.getByRole("button", { name: "Delete the secret" }).click();
    await page.getByRole("status").filter({ hasText: "Secret successfully deleted. BUILD_ONLY." }).waitFor();
    await page
      .getByRole("region", { name: "Secrets of shop" })
      .getByRole("rowheader", { name: /BUILD_ONLY/ })
      .waitFor({ state: "detached" });
    expect(page.url()).not.toContain(MARK);
    expect(await page.title()).not.toContain(MARK);
    const cli = expectSuccess(await alice(["secret:site:list", "shop.live", "--format=json"]));
    expect(cli.stdout).not.toContain(`${MARK}-live`);
  });

  it("refuses a blank Value as the CLI does, changing nothing, and sets an empty value only when asked to", async () => {
    await page.goto(ui("sites/shop/secrets"));
    const form = setSecretForm(page);
    // A blank Value, for the base value and for an override of an existing secret: refused in the
    // form, naming the fix, and the Value box has the focus.
    await setSecret(page, { name: "SITE_KEY", value: "", scopes: ["web", "user"] });
    const refused = form
      .getByRole("alert")
      .filter({ hasText: "No value given for 'SITE_KEY': nothing was changed." });
    await refused.waitFor();
    expect(await refused.textContent()).toContain('tick "Set an empty value" to set an empty one.');
    expect(await page.evaluate("document.activeElement.id")).toBe("set-value");
    await captureView(page, "secret-no-value");
    // Enter alone in the box is blank too, as at the CLI's prompt.
    await setSecret(page, { name: "SITE_KEY", value: "\n", env: "live" });
    await form
      .getByRole("alert")
      .filter({ hasText: "No value given for 'SITE_KEY' (the live override)" })
      .waitFor();
    expect(await alice(["secret:site:get", "shop", "SITE_KEY"])).toMatchObject({
      code: 0,
      stdout: `${MARK}-base`,
    });
    // No live override was made: live still resolves to the base value.
    expect(await alice(["secret:site:get", "shop.live", "SITE_KEY"])).toMatchObject({
      code: 0,
      stdout: `${MARK}-base`,
    });

    // The org page's form is the same.
    await page.goto(ui("orgs/acme"));
    await page.getByRole("heading", { name: "Organization acme" }).waitFor();
    await setSecret(page, { name: "ORG_KEY", value: "" });
    await form
      .getByRole("alert")
      .filter({ hasText: "No value given for 'ORG_KEY': nothing was changed." })
      .waitFor();
    expect(await alice(["secret:org:get", "acme", "ORG_KEY"])).toMatchObject({
      code: 0,
      stdout: `${MARK}-org`,
    });

    // An empty value on purpose, as the CLI's explicit '' argument: the box, unticked after the save.
    await page.goto(ui("sites/shop/secrets"));
    await setSecret(page, { name: "EMPTY_ON_PURPOSE", value: "", empty: true, scopes: ["web", "user"] });
    await page.getByRole("status").filter({ hasText: "Secret successfully set. EMPTY_ON_PURPOSE" }).waitFor();
    expect(await alice(["secret:site:get", "shop", "EMPTY_ON_PURPOSE"])).toMatchObject({
      code: 0,
      stdout: "",
    });
    expect(await form.getByLabel("Set an empty value").isChecked()).toBe(false);
    expectSuccess(await alice(["secret:site:delete", "shop", "EMPTY_ON_PURPOSE"]));
  });

  it("lists a deleted secret and restores it with its override; a name taken meanwhile is refused inline", async () => {
    expectSuccess(await alice(["secret:site:set", "shop", "OLD_KEY", `${MARK}-old`, "--scope=web,user"]));
    expectSuccess(await alice(["secret:site:set", "shop.live", "OLD_KEY", `${MARK}-old-live`]));
    await page.goto(ui("sites/shop/secrets"));
    const deleted = page.getByRole("region", { name: "Deleted secrets of site shop" });
    await page.getByRole("button", { name: "Delete OLD_KEY and all its overrides" }).click();
    await page.getByRole("button", { name: "Delete the secret" }).click();
    await page.getByRole("status").filter({ hasText: "Secret successfully deleted. OLD_KEY." }).waitFor();
    const deletedRow = deleted
      .getByRole("row")
      .filter({ has: page.getByRole("rowheader", { name: "OLD_KEY" }) });
    await deletedRow.getByText("alice@example.com").waitFor();
    await deletedRow.getByText("live", { exact: true }).waitFor();
    await captureView(page, "deleted-secrets");
    await deletedRow.getByRole("button", { name: /^Restore OLD_KEY/ }).click();
    await page
      .getByRole("status")
      .filter({ hasText: "Secret restored. OLD_KEY is back, with its overrides in live." })
      .waitFor();
    await deletedRow.waitFor({ state: "detached" });
    await page
      .getByRole("region", { name: "Secrets of shop" })
      .getByRole("rowheader", { name: /OLD_KEY/ })
      .waitFor();
    const live = expectSuccess(await alice(["secret:site:get", "shop.live", "OLD_KEY"]));
    expect(live.stdout.trim()).toBe(`${MARK}-old-live`);

    // Deleted again, and the name taken by a new secret: the restore is refused with the server's fix.
    expectSuccess(await alice(["secret:site:delete", "shop", "OLD_KEY"]));
    expectSuccess(await alice(["secret:site:set", "shop", "OLD_KEY", `${MARK}-new`, "--scope=web,user"]));
    await page.reload();
    await deletedRow.getByRole("button", { name: /^Restore OLD_KEY/ }).click();
    await page.getByRole("alert").filter({ hasText: "created after the delete. Delete it first" }).waitFor();
    expectSuccess(await alice(["secret:site:delete", "shop", "OLD_KEY"]));
    expect(page.url()).not.toContain(MARK);
  });

  it("resolves an environment for a scope, naming each winning value's source", async () => {
    await page.getByRole("navigation", { name: "Site shop" }).getByRole("link", { name: "Resolve" }).click();
    await page.getByLabel("Environment").selectOption("live");
    await page.getByLabel("Scope (who reads)").selectOption("user");
    await page.getByTestId("source-SITE_KEY").waitFor();
    await expect(page.getByTestId("source-SITE_KEY").textContent()).resolves.toBe("site");
    await expect(page.getByTestId("source-ORG_KEY").textContent()).resolves.toBe("organization");
    await page.getByRole("button", { name: "Reveal the value of SITE_KEY" }).click();
    await page.getByText(`${MARK}-base`).waitFor();
    await captureView(page, "resolve");
  });

  it("creates a runtime token, shown once with a copy button, that reads the site, then revokes it", async () => {
    await page.getByRole("navigation", { name: "Site shop" }).getByRole("link", { name: "Tokens" }).click();
    await page.getByLabel("Kind").selectOption("runtime");
    await page.getByLabel("Environment").selectOption("live");
    await page.getByRole("button", { name: "Create token" }).click();
    const field = page.getByLabel("The new token");
    await field.waitFor();
    const token = await field.inputValue();
    expect(token).toMatch(/^lbr_/);
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByText("Copied to the clipboard.").waitFor();
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(token);
    const read = await fetch(`${e2e.server.url}/site/secrets`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(read.status).toBe(200);
    await captureView(page, "tokens");
    await page.getByRole("button", { name: "Done" }).click();
    await page.getByRole("button", { name: /^Revoke the runtime token/ }).click();
    await page.getByRole("status").filter({ hasText: "Revoked the runtime token" }).waitFor();
    const after = await fetch(`${e2e.server.url}/site/secrets`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(after.status).toBe(401);
  });

  it("shows the site, the history of a secret and the audit log with filters and pages", async () => {
    await page.goto(ui("sites/shop"));
    await page.getByRole("heading", { name: "Environments" }).waitFor();
    await captureView(page, "site");
    // A second version of SITE_KEY's base value, so the first can be restored.
    expect(await put("/v1/sites/shop/secrets/SITE_KEY", aliceToken, { value: `${MARK}-base-2` })).toBe(200);
    await page.goto(ui("sites/shop/secrets/SITE_KEY/history"));
    await page.getByRole("cell", { name: "alice@example.com" }).first().waitFor();
    await page.getByRole("button", { name: "Restore version 1" }).click();
    await page.getByRole("status").filter({ hasText: "Secret rolled back." }).waitFor();
    await captureView(page, "history");
    // More events than a page holds, so the log has an older page.
    for (let i = 0; i < 25; i++) {
      expect(await put(`/v1/sites/shop/secrets/BULK_${i}`, aliceToken, { value: `${MARK}-${i}` })).toBe(201);
    }
    await page.goto(ui("audit"));
    await page.getByLabel("Site").fill("shop");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByRole("cell", { name: "secret.set" }).first().waitFor();
    await page.getByRole("button", { name: "Older events" }).click();
    await page.getByRole("button", { name: "Newer events" }).waitFor();
    await captureView(page, "audit");
  });

  it("opens an org secret's history from the org page and rolls it back as an org admin", async () => {
    // Two versions of the base value, set through the API.
    const path = "/v1/orgs/acme/secrets/ORG_HIST";
    expect(await put(path, aliceToken, { value: `${MARK}-hist-1`, scopes: ["web", "user"] })).toBe(201);
    expect(await put(path, aliceToken, { value: `${MARK}-hist-2` })).toBe(200);
    await page.goto(ui("orgs/acme"));
    await page
      .getByRole("row")
      .filter({ has: page.getByRole("rowheader", { name: /ORG_HIST/ }) })
      .getByRole("link", { name: "History of ORG_HIST" })
      .click();
    await page.getByRole("heading", { name: "History of ORG_HIST in organization acme" }).waitFor();
    expect(page.url()).toBe(ui("orgs/acme/secrets/ORG_HIST/history"));
    const versions = page.getByRole("region", { name: "Versions" });
    const version = (n: number) =>
      versions.getByRole("row").filter({ has: page.getByRole("cell", { name: String(n), exact: true }) });
    await version(2).getByText("current").waitFor();
    await version(1).getByText("alice@example.com").waitFor();
    await page.getByRole("button", { name: "Restore version 1" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: "Secret rolled back. Version 3 now holds version 1's value." })
      .waitFor();
    await version(3).getByText("rollback").waitFor();
    // The server holds version 1's value again, as version 3.
    const answer = await fetch(`${e2e.server.url}${path}/versions?values=true`, {
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    const listed = (await answer.json()) as {
      items: Array<{ version: number; action: string; value: string }>;
    };
    expect(listed.items[0]).toMatchObject({ version: 3, action: "rollback", value: `${MARK}-hist-1` });
    expect(await alice(["secret:org:get", "acme", "ORG_HIST"])).toMatchObject({
      code: 0,
      stdout: `${MARK}-hist-1`,
    });
    expect(page.url()).not.toContain(MARK);
    await captureView(page, "org-history");
    await page.getByRole("link", { name: "Back to the organization" }).click();
    await page.getByRole("heading", { name: "Organization acme" }).waitFor();
  });

  it("signs out by revoking the session", async () => {
    const stored = JSON.parse(String(await page.evaluate("sessionStorage.getItem('lockbox.session')")));
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in to Lockbox" }).waitFor();
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
    const whoami = await fetch(`${e2e.server.url}/v1/whoami`, {
      headers: { authorization: `Bearer ${stored.token}` },
    });
    expect(whoami.status).toBe(401);
    await captureView(page, "sign-in");
  });

  it("a user of another org, signed in with a pasted token, gets 'not found' for the site's pages", async () => {
    await page.getByLabel("User token", { exact: true }).fill(malloryToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await page.goto(ui("sites/shop/secrets"));
    await page.getByRole("alert").waitFor();
    expect(await page.getByRole("alert").textContent()).toContain("Site 'shop' was not found");
    expect(await page.getByText(`${MARK}-base`).count()).toBe(0);
    await captureView(page, "not-found");
    expect(problems).toEqual([]);
  });

  it("shows an org member its org's secrets without the set, delete and restore controls only admins may use", async () => {
    expectSuccess(
      await cliAs(e2e, e2e.adminToken)(["org:member:add", "acme", "mallory@example.com", "--role=member"]),
    );
    expectSuccess(await alice(["secret:org:set", "acme", "ORG_GONE", `${MARK}-gone`, "--scope=web,user"]));
    expectSuccess(await alice(["secret:org:delete", "acme", "ORG_GONE"]));
    await page.goto(ui("orgs/acme"));
    await page.getByRole("rowheader", { name: /ORG_KEY/ }).waitFor();
    await page.getByRole("rowheader", { name: /ORG_GONE/ }).waitFor();
    await page.getByText("Only an admin of acme can set, delete or restore its secrets").waitFor();
    await expect(page.getByRole("button", { name: /^(Delete|Restore)/ }).count()).resolves.toBe(0);
    await expect(setSecretForm(page).count()).resolves.toBe(0);
    // Reading stays: a member may reveal what the user scope lets people read.
    await page.getByRole("button", { name: "Reveal the base value of ORG_KEY" }).click();
    await expect(page.getByTestId("revealed-value").textContent()).resolves.toBe(`${MARK}-org`);
    expect(problems).toEqual([]);
  });

  it("shows an org member an org secret's history without the rollback the server refuses members", async () => {
    await page.goto(ui("orgs/acme"));
    // A member's rows link to their history; the note for writes is the org page's, not a site's.
    await page.getByRole("link", { name: "History of ORG_HIST" }).waitFor();
    await expect(page.getByText("Edit in the organization").count()).resolves.toBe(0);
    await page.getByRole("link", { name: "History of ORG_HIST" }).click();
    await page.getByRole("heading", { name: "History of ORG_HIST in organization acme" }).waitFor();
    const versions = page.getByRole("region", { name: "Versions" });
    await versions.getByRole("cell", { name: "rollback" }).waitFor();
    await expect(versions.getByRole("row").count()).resolves.toBe(4);
    await page.getByText("Only an admin of acme can roll back its secrets").waitFor();
    await expect(page.getByRole("button", { name: /Restore/ }).count()).resolves.toBe(0);
    await expect(page.getByRole("columnheader", { name: "Restore" }).count()).resolves.toBe(0);
    // The control is hidden because the server would refuse it.
    const refused = await fetch(`${e2e.server.url}/v1/orgs/acme/secrets/ORG_HIST/rollback`, {
      method: "POST",
      headers: { authorization: `Bearer ${malloryToken}`, "content-type": "application/json" },
      body: JSON.stringify({ to: 2 }),
    });
    expect(refused.status).toBe(403);
    await captureView(page, "org-history-member");
    expect(problems).toEqual([]);
  });
});

/** The form "Set a secret or an override" of the page shown. */
function setSecretForm(page: Page) {
  return page.locator("form").filter({ has: page.getByRole("heading", { name: /Set a secret/ }) });
}

/** Fills the form and clicks Save; `empty` ticks "Set an empty value". */
async function setSecret(
  page: Page,
  secret: { name: string; value: string; env?: string; scopes?: string[]; empty?: boolean },
): Promise<void> {
  const form = setSecretForm(page);
  await form.getByLabel("Name").fill(secret.name);
  await form.getByLabel("Where").selectOption(secret.env ?? "");
  await form.getByLabel("Value", { exact: true }).fill(secret.value);
  if (secret.empty) await form.getByLabel("Set an empty value").setChecked(true);
  for (const scope of ["ic", "web", "user"]) {
    await form.getByLabel(scope, { exact: true }).setChecked(secret.scopes?.includes(scope) ?? false);
  }
  await form.getByRole("button", { name: "Save" }).click();
}
