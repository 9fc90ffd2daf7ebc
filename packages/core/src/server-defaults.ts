/**
 * The defaults of `lockbox server:start`'s flags: the embedded database (SPEC §6), where it listens,
 * and the management API's rate limit per token (SPEC §5). The server applies them; the CLI's help
 * names them.
 */
export const SERVER_DEFAULTS = {
  db: "./data/lockbox.db",
  host: "127.0.0.1",
  port: 8200,
  rateLimit: "10/20",
} as const;
