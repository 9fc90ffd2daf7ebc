import type { Server } from "node:http";
import type { Socket } from "node:net";
import type { FastifyBaseLogger } from "fastify";

/** What keeps slow or idle clients from holding the server (`--request-timeout`, `--max-connections`). */
export interface ConnectionLimits {
  /**
   * Milliseconds a client has to send a whole request, headers and body, counted from its first
   * byte until the request is complete (Node's `server.requestTimeout`); 0 disables. The time the
   * server takes to answer does not count, nor the idle time of a kept-alive connection.
   */
  readonly requestTimeoutMs: number;
  /** Connections open at once at most; over it, a new connection is closed at once. Undefined: no cap. */
  readonly maxConnections?: number | undefined;
  /**
   * Connections open at once from one client address; over it, a new connection from that address
   * is closed at once. Undefined: no cap.
   */
  readonly maxConnectionsPerAddress?: number | undefined;
}

/** How often Node looks for requests past their timeout (its default, 30 s, would double a 30 s timeout). */
export function checkingIntervalMs(requestTimeoutMs: number): number {
  return Math.min(5000, Math.max(50, Math.floor(requestTimeoutMs / 4)));
}

/** A warning about refused connections at most once a minute, however many arrive. */
const DROP_WARNING_INTERVAL_MS = 60_000;

/**
 * Applies the limits Node does not apply by itself to a created (not yet listening) server: the
 * connection cap, and the request timeout for a connection that never sends a byte — Node's timer
 * starts at a request's first byte, so a silent connection would otherwise keep its slot forever.
 * The request timeout itself is set by Fastify's `requestTimeout` option.
 */
export function limitConnections(
  server: Server,
  limits: ConnectionLimits,
  options: { readonly tls: boolean; readonly log: FastifyBaseLogger },
): void {
  const { maxConnections, maxConnectionsPerAddress, requestTimeoutMs } = limits;
  if (maxConnectionsPerAddress !== undefined) {
    capPerAddress(server, maxConnectionsPerAddress, options.log);
  }
  if (maxConnections !== undefined) {
    server.maxConnections = maxConnections;
    let refused = 0;
    let warnedAt = Number.NEGATIVE_INFINITY;
    server.on("drop", () => {
      refused += 1;
      const now = Date.now();
      if (now - warnedAt < DROP_WARNING_INTERVAL_MS) return;
      options.log.warn(
        { maxConnections, refused },
        "connections refused: --max-connections are open (raise it if these are legitimate clients)",
      );
      warnedAt = now;
      refused = 0;
    });
  }
  if (requestTimeoutMs > 0) {
    // With TLS, the handshake's bytes count on the TCP socket: watch the decrypted one instead.
    server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => {
      const timer = setTimeout(() => {
        if (socket.bytesRead === 0) socket.destroy();
      }, requestTimeoutMs);
      timer.unref();
      socket.once("close", () => clearTimeout(timer));
    });
  }
}

/**
 * Counts open connections per client address and closes at once (as Node does past
 * `maxConnections`) any that would take one address past `cap`, before a byte of it is read: one
 * client, or one attacker, cannot hold every connection of the server.
 */
function capPerAddress(server: Server, cap: number, log: FastifyBaseLogger): void {
  const open = new Map<string, number>();
  let refused = 0;
  let warnedAt = Number.NEGATIVE_INFINITY;
  // Ahead of Node's own listener, before any TLS handshake: the cap counts sockets, not requests.
  server.prependListener("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "";
    const count = open.get(address) ?? 0;
    if (count >= cap) {
      refused += 1;
      const now = Date.now();
      if (now - warnedAt >= DROP_WARNING_INTERVAL_MS) {
        log.warn(
          { maxConnectionsPerAddress: cap, refused },
          "connections refused: one address has --max-connections-per-address open",
        );
        warnedAt = now;
        refused = 0;
      }
      socket.destroy();
      return;
    }
    open.set(address, count + 1);
    socket.once("close", () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}
