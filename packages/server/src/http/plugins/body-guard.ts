import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { LockboxError, quoteIdentifier } from "@lockbox/core";
import type { FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { routeNotFound, sendError } from "../errors.js";

/** The route config of a route that reads a request body. */
export interface BodyConfig {
  readonly takesBody?: boolean;
}

/**
 * Refuses, before a byte of the body is read, what no route would read: a body sent to a route that
 * takes none (any GET, HEAD or DELETE, and the PUTs that take only path parameters) and a body in a
 * `Content-Encoding` the server does not decode. Node would otherwise read and discard such a body
 * after answering (a 20 MB chunked GET was read whole), so these answers close the connection.
 * It also refuses an HTTP/1.1 request without a `Host` header (RFC 9112 §3.2), which Node would
 * answer with an empty 400 (the app's server is created with `requireHostHeader: false`).
 * Runs first, before authentication: it costs four header lookups on every request. Routes that
 * read a body say so in their config (`takesBody`, set by RouteRegistry).
 */
export const bodyGuard = fp(
  async (app) => {
    app.addHook("onRequest", (request, reply, done) => {
      const headers = request.headers;
      if (lacksHost(request.raw)) {
        refuse(
          request,
          reply,
          new LockboxError(
            "BAD_REQUEST",
            "An HTTP/1.1 request needs a Host header: send 'Host: <server name>[:<port>]'.",
          ),
        );
        return;
      }
      const encoding = unsupportedEncoding(headers);
      if (encoding !== undefined) {
        refuse(
          request,
          reply,
          new LockboxError(
            "UNSUPPORTED_MEDIA_TYPE",
            `Content-Encoding ${quoteIdentifier(encoding)} is not supported: send the body uncompressed, without a Content-Encoding header.`,
          ),
        );
        return;
      }
      if (carriesBody(headers) && (request.routeOptions.config as BodyConfig).takesBody !== true) {
        refuse(
          request,
          reply,
          request.is404
            ? routeNotFound(request)
            : new LockboxError(
                "BAD_REQUEST",
                `${request.method} ${request.routeOptions.url} takes no request body: send it without one (no Content-Length or Transfer-Encoding).`,
              ),
        );
        return;
      }
      done();
    });
  },
  { name: "lockbox-body-guard" },
);

/** The request's `Content-Encoding` when it is one the server does not decode (anything but identity). */
export function unsupportedEncoding(headers: IncomingHttpHeaders): string | undefined {
  const encoding = headers["content-encoding"];
  return encoding !== undefined && encoding.trim().toLowerCase() !== "identity" ? encoding : undefined;
}

/** An HTTP/1.1 request without a `Host` header, which HTTP/1.1 requires (RFC 9112 §3.2). */
export function lacksHost(request: IncomingMessage): boolean {
  return (
    request.headers.host === undefined && request.httpVersionMajor === 1 && request.httpVersionMinor === 1
  );
}

/** Whether the request announces a body (chunked, or a Content-Length above 0). */
export function carriesBody(headers: IncomingHttpHeaders): boolean {
  return (
    headers["transfer-encoding"] !== undefined ||
    (headers["content-length"] !== undefined && Number(headers["content-length"]) > 0)
  );
}

/**
 * Answers `error` and closes the connection once the answer is written, so the unread body is
 * never read: on a kept-alive connection Node would read (and discard) all of it first.
 */
function refuse(request: FastifyRequest, reply: FastifyReply, error: LockboxError): void {
  const socket = request.raw.socket;
  // Node's own 'finish' listener, registered first, resumes reading the body; closing in the same
  // tick leaves it no time to read. (app.inject() has no real socket to close.)
  reply.raw.once("finish", () => {
    if (typeof socket.destroy === "function") socket.destroy();
  });
  void sendError(request, reply.header("connection", "close"), error);
}
