import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LockboxError } from "@lockbox/core";
import type { FastifyInstance, FastifyReply } from "fastify";
import { sendError } from "./errors.js";

/**
 * The dashboard's Content-Security-Policy: everything from this origin only, no inline script or
 * style, no eval, never framed, no `<base>`, forms post only here.
 */
export const UI_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/** Where `npm run build` writes the dashboard (packages/web/dist), found from this module's place. */
export function defaultUiDir(): string {
  return fileURLToPath(new URL("../../../web/dist/", import.meta.url));
}

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

const IMMUTABLE = "public, max-age=31536000, immutable";

interface UiFile {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

/** Every file of the built dashboard, by its path under `/ui/`, read once at start. */
function loadFiles(dir: string): Map<string, UiFile> {
  const files = new Map<string, UiFile>();
  if (!existsSync(join(dir, "index.html"))) return files;
  const walk = (sub: string) => {
    for (const name of readdirSync(join(dir, sub))) {
      const path = sub === "" ? name : `${sub}/${name}`;
      if (statSync(join(dir, path)).isDirectory()) walk(path);
      else {
        const body = readFileSync(join(dir, path));
        const type = TYPES[extname(name)] ?? "application/octet-stream";
        files.set(path, {
          body,
          type,
          etag: `"${createHash("sha256").update(body).digest("hex").slice(0, 32)}"`,
        });
      }
    }
  };
  walk("");
  return files;
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", UI_CSP)
    .header("x-frame-options", "DENY")
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("cross-origin-opener-policy", "same-origin");
}

/**
 * Serves the web dashboard at `/ui/` (and redirects `/` there): hashed assets under `/ui/assets/`
 * with a year of immutable caching, and `index.html` (revalidated every time) for any other path
 * under `/ui/`, where the page routes itself. Every answer carries the strict CSP and forbids
 * framing. The dashboard is only a client of `/v1`: nothing here reads a token or decides access.
 */
export function uiRoutes(app: FastifyInstance, dir: string = defaultUiDir()): void {
  const files = loadFiles(dir);
  const send = (reply: FastifyReply, file: UiFile, cache: string) => {
    securityHeaders(reply).header("cache-control", cache).header("etag", file.etag);
    if (reply.sendNotModified(file.etag)) return reply;
    return reply.type(file.type).send(file.body);
  };
  app.get("/", async (_request, reply) => reply.redirect("/ui/", 302));
  app.get("/ui", async (_request, reply) => reply.redirect("/ui/", 301));
  app.get("/ui/*", { exposeHeadRoute: false }, async (request, reply) => {
    const path = (request.params as { "*": string })["*"];
    const index = files.get("index.html");
    if (!index) {
      return sendError(
        request,
        securityHeaders(reply),
        new LockboxError(
          "NOT_FOUND",
          "The web dashboard is not built: run 'npm run build' (it writes packages/web/dist), then restart the server.",
        ),
      );
    }
    const file = path === "index.html" ? undefined : files.get(path);
    // Names under assets/ carry their content's hash (Vite): they never change.
    if (file) return send(reply, file, path.startsWith("assets/") ? IMMUTABLE : "no-cache");
    if (path.startsWith("assets/")) {
      return sendError(
        request,
        securityHeaders(reply),
        new LockboxError("NOT_FOUND", "No such dashboard asset: reload the page to get the current version."),
      );
    }
    return send(reply, index, "no-cache");
  });
}
