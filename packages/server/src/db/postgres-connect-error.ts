import { LockboxError } from "@lockbox/core";

/** Where a `postgres://` URL points: host, port and database, never the user's password. */
export interface PostgresTarget {
  readonly host: string;
  readonly port: string;
  /** Empty when the URL names none (PostgreSQL then uses the user's name). */
  readonly database: string;
  /** Empty when the URL names none. */
  readonly user: string;
}

/** Parses the parts of `url` an error message may show; the password is never read. */
export function postgresTarget(url: string): PostgresTarget {
  try {
    const parsed = new URL(url);
    return {
      host: parsed.hostname || parsed.searchParams.get("host") || "localhost",
      port: parsed.port || parsed.searchParams.get("port") || "5432",
      database: decodeURIComponent(parsed.pathname.replace(/^\//, "")),
      user: decodeURIComponent(parsed.username),
    };
  } catch {
    return { host: "?", port: "?", database: "", user: "" };
  }
}

/** The option that named the database: `--db` (or `LOCKBOX_DB`), `store:copy`'s `--from` or `--to`. */
const CHECK_DB = "the database URL (--db or LOCKBOX_DB; --from or --to for store:copy)";

/**
 * The failure to open a first connection to the PostgreSQL server `url` names, said for the
 * operator who started Lockbox: which server and database, what went wrong (refused, host not
 * found, no such database or role, password refused…) and what to fix. Never holds the password
 * or the URL; the driver's error is the cause. UNAVAILABLE either way (the server cannot be reached,
 * or it answered and refused what the URL asks for): a failed operation (exit 1), not a usage error.
 */
export function postgresConnectError(url: string, error: unknown): LockboxError {
  const target = postgresTarget(url);
  const driverError = driverErrorOf(error);
  const code = (driverError as { code?: unknown } | undefined)?.code;
  const message = driverError instanceof Error ? driverError.message : String(driverError);
  const where = `Cannot connect to PostgreSQL at ${target.host}:${target.port}${target.database ? ` (database ${target.database})` : ""}`;
  const user = target.user ? `"${target.user}"` : "(the default user)";
  const failed = (reason: string) => new LockboxError("UNAVAILABLE", `${where}: ${reason}`, { cause: error });

  switch (code) {
    case "ECONNREFUSED":
      return failed(`connection refused. Check ${CHECK_DB} and that PostgreSQL is running.`);
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return failed(`the host '${target.host}' is not found (DNS). Check the host in ${CHECK_DB}.`);
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return failed(
        `the host is not reachable (${code}). Check ${CHECK_DB}, and that no firewall stands between.`,
      );
    case "ECONNRESET":
      return failed(
        `the connection was closed at once (${code}). Check the port in ${CHECK_DB}, and the server's log.`,
      );
    case "3D000":
      return failed(
        `database "${target.database || target.user}" does not exist. Create it (createdb ${target.database || target.user}) or fix ${CHECK_DB}.`,
      );
    case "28P01":
      return failed(`${message}. Check the user and password in ${CHECK_DB}.`);
    case "28000":
      return failed(
        /^role ".*" does not exist$/.test(message)
          ? `${message}. Check the user in ${CHECK_DB}, or create the role (createuser ${target.user}).`
          : `${message}. Check the user ${user} in ${CHECK_DB}, and that the server's pg_hba.conf lets it connect.`,
      );
    case "57P03":
      return failed(
        "the server is starting up or shutting down. Start Lockbox again once it accepts connections.",
      );
    case "53300":
      return failed(
        "the server has too many connections. Raise its max_connections, or lower other clients' pools.",
      );
  }
  if (/timeout exceeded when trying to connect/.test(message)) {
    return failed(`no answer. Check ${CHECK_DB}, and that PostgreSQL is running and reachable.`);
  }
  if (/client password must be a string|password authentication/i.test(message)) {
    return failed(
      `the server asks user ${user} for a password and none was given. Put it in ${CHECK_DB}: postgres://USER:PASSWORD@HOST:PORT/DATABASE.`,
    );
  }
  return failed(`${message}. Check ${CHECK_DB}.`);
}

/** The driver's own error: Lockbox's fault classification wraps an unreachable store's. */
function driverErrorOf(error: unknown): unknown {
  return error instanceof LockboxError && error.cause !== undefined ? error.cause : error;
}
