import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { conditionalGet } from "./plugins/conditional-get.js";
import { UI_CSP, uiRoutes } from "./ui-static.js";

async function appOver(dir: string): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(conditionalGet);
  uiRoutes(app, dir);
  await app.ready();
  return app;
}

describe("the dashboard's static files", () => {
  const dir = mkdtempSync(join(tmpdir(), "lockbox-ui-"));
  let app: FastifyInstance;
  let unbuilt: FastifyInstance;

  beforeAll(async () => {
    mkdirSync(join(dir, "built", "assets"), { recursive: true });
    writeFileSync(join(dir, "built", "index.html"), "<!doctype html><title>Lockbox</title>");
    writeFileSync(join(dir, "built", "assets", "index-AbCd1234.js"), "console.log(1)");
    writeFileSync(join(dir, "built", "favicon.svg"), "<svg/>");
    app = await appOver(join(dir, "built"));
    unbuilt = await appOver(join(dir, "missing"));
  });
  afterAll(async () => {
    await app?.close();
    await unbuilt?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("redirects / to /ui/ and answers the page with the strict CSP, no framing, revalidated", async () => {
    const root = await app.inject({ method: "GET", url: "/" });
    expect([root.statusCode, root.headers.location]).toEqual([302, "/ui/"]);
    const bare = await app.inject({ method: "GET", url: "/ui" });
    expect([bare.statusCode, bare.headers.location]).toEqual([301, "/ui/"]);
    for (const url of ["/ui/", "/ui/sites/shop/secrets", "/ui/index.html"]) {
      const page = await app.inject({ method: "GET", url });
      expect(page.statusCode, url).toBe(200);
      expect(page.body).toContain("<title>Lockbox</title>");
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(page.headers["cache-control"]).toBe("no-cache");
      expect(page.headers["content-security-policy"]).toBe(UI_CSP);
      expect(page.headers["x-frame-options"]).toBe("DENY");
      expect(page.headers["x-content-type-options"]).toBe("nosniff");
    }
    expect(UI_CSP).not.toMatch(/unsafe-(inline|eval)/);
    expect(UI_CSP).toContain("frame-ancestors 'none'");
  });

  it("serves hashed assets for a year, immutable, and answers 304 to a matching ETag", async () => {
    const asset = await app.inject({ method: "GET", url: "/ui/assets/index-AbCd1234.js" });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(asset.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    const again = await app.inject({
      method: "GET",
      url: "/ui/assets/index-AbCd1234.js",
      headers: { "if-none-match": String(asset.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    // Files outside assets/ keep their names across builds: revalidated, not immutable.
    const icon = await app.inject({ method: "GET", url: "/ui/favicon.svg" });
    expect(icon.headers["cache-control"]).toBe("no-cache");
  });

  it("answers a missing asset or a path outside the build with 404, never a file elsewhere", async () => {
    expect((await app.inject({ method: "GET", url: "/ui/assets/index-gone.js" })).statusCode).toBe(404);
    for (const url of [
      "/ui/../package.json",
      "/ui/%2e%2e/%2e%2e/package.json",
      "/ui/assets/..%2f..%2findex.html",
    ]) {
      const response = await app.inject({ method: "GET", url });
      expect(response.body, url).not.toContain("dependencies");
    }
  });

  it("says how to build the dashboard when it is not built", async () => {
    const page = await unbuilt.inject({ method: "GET", url: "/ui/" });
    expect(page.statusCode).toBe(404);
    expect(page.json().error.message).toContain("npm run build");
    expect(page.headers["content-security-policy"]).toBe(UI_CSP);
  });
});
