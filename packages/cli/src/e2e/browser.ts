import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { expect } from "vitest";

/**
 * A real browser for the dashboard's end-to-end tests: Debian's `chromium` (installed by `.ci/run`
 * with apt), driven by playwright-core. Without it the tests are skipped on a workstation but fail
 * in CI (`CI=true`), where the browser must be there.
 */
export const CHROMIUM_PATH = process.env.LOCKBOX_CHROMIUM ?? "/usr/bin/chromium";
export const chromiumAvailable = existsSync(CHROMIUM_PATH);
/** Skip only off CI: in CI a missing chromium fails the suite at launch. */
export const skipBrowserTests = !chromiumAvailable && process.env.CI !== "true";

/** Where screenshots go: `test-artifacts/ui/` at the repository's root (ignored by git). */
export const ARTIFACTS_DIR = fileURLToPath(new URL("../../../../test-artifacts/ui/", import.meta.url));

/** The two widths every view is checked and photographed at: a laptop and a phone. */
export const WIDTHS = [
  { name: "desktop", width: 1280, height: 900 },
  { name: "mobile", width: 390, height: 844 },
] as const;

export async function launchChromium(): Promise<Browser> {
  if (!chromiumAvailable) {
    throw new Error(
      `No chromium at ${CHROMIUM_PATH}: install it (apt-get install chromium) or set LOCKBOX_CHROMIUM; the dashboard's browser tests must run in CI.`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ["--no-sandbox"] });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core in the page and fails on any serious or critical violation, naming rule and nodes.
 * axe is evaluated through the DevTools protocol, which the page's CSP does not govern.
 */
export async function expectAccessible(page: Page, view: string): Promise<void> {
  await page.evaluate(axeSource);
  const violations = (await page.evaluate(`
    axe.run(document, { resultTypes: ["violations"] }).then((result) =>
      result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => n.target.join(" ")),
      })),
    )
  `)) as AxeViolation[];
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious, `axe on ${view}`).toEqual([]);
}

/** Photographs the page at both widths (full page) and checks it with axe at each. */
export async function captureView(page: Page, view: string): Promise<void> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  for (const size of WIDTHS) {
    await page.setViewportSize({ width: size.width, height: size.height });
    await page.waitForTimeout(100);
    await page.screenshot({ path: `${ARTIFACTS_DIR}${view}-${size.name}.png`, fullPage: true });
    // Nothing wider than the screen: wide tables scroll inside their own region.
    expect(await page.evaluate("document.documentElement.scrollWidth"), `${view} at ${size.width} px`).toBe(
      size.width,
    );
    await expectAccessible(page, `${view} at ${size.width} px`);
  }
  await page.setViewportSize({ width: WIDTHS[0].width, height: WIDTHS[0].height });
}
