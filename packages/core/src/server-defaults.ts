/**
 * The defaults of `lockbox server:start`'s flags: the embedded database (SPEC §6), where it listens,
 * the management API's rate limit per token (SPEC §5), and what keeps slow clients from holding the
 * server. The server applies them; the CLI's help names them.
 */
export const SERVER_DEFAULTS = {
  db: "./data/lockbox.db",
  host: "127.0.0.1",
  port: 8200,
  rateLimit: "10/20",
  /** Seconds a client has to send a whole request (128 KiB at 4.4 KB/s). */
  requestTimeout: 30,
  /** Connections open at once. */
  maxConnections: 1000,
  /**
   * Connections open at once from one client address (none behind --trust-proxy, where every
   * connection comes from the proxy), so that one client cannot take every connection.
   */
  maxConnectionsPerAddress: 256,
  /** Blocking reads (`GET /site/secrets?wait=`) held at once per server. */
  maxHeldRequests: 10_000,
  /** Versions kept per value slot (issue 9's retention). */
  retainVersions: 100,
  /** Days a deleted secret can be restored. */
  retainDeletedDays: 30,
} as const;
