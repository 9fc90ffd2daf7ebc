import type { FastifyReply } from "fastify";
import fp from "fastify-plugin";

declare module "fastify" {
  interface FastifyReply {
    /**
     * Answers `304 Not Modified` (no body) when the request's `If-None-Match` names `etag`, and
     * says whether it did; the handler sends the full answer otherwise. Set `ETag` first.
     */
    sendNotModified(etag: string): boolean;
  }
}

/** Conditional GET (RFC 9110 §13.1.2) for handlers that know their representation's ETag. */
export const conditionalGet = fp(
  async (app) => {
    app.decorateReply("sendNotModified", function sendNotModified(this: FastifyReply, etag: string) {
      if (!ifNoneMatchMatches(this.request.headers["if-none-match"], etag)) return false;
      void this.code(304).send();
      return true;
    });
  },
  { name: "lockbox-conditional-get" },
);

/**
 * Whether `If-None-Match` names `etag`: `*`, or a list of tags compared weakly, so `W/"v"` (as a
 * compressing proxy may send it) and `"a", "v"` match `"v"`.
 */
export function ifNoneMatchMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header === etag) return true;
  return header.split(",").some((tag) => {
    const trimmed = tag.trim();
    return trimmed === "*" || (trimmed.startsWith("W/") ? trimmed.slice(2) : trimmed) === etag;
  });
}
