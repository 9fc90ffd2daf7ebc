/** System error codes a request can fail with, in words a person reading the message understands. */
const NETWORK_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  UND_ERR_SOCKET: "the connection closed before the answer was complete",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  // https:// to a server that speaks plain HTTP (the TLS handshake got an HTTP answer).
  ERR_SSL_WRONG_VERSION_NUMBER: "the server does not speak TLS: if it serves plain HTTP, use an http:// URL",
  ERR_SSL_PACKET_LENGTH_TOO_LONG:
    "the server does not speak TLS: if it serves plain HTTP, use an http:// URL",
};

/**
 * Names why a request got no answer. `fetch` fails with "fetch failed" and puts the reason in its
 * `cause` (a system error with a `code`, or undici's own error, such as a refused port): the first
 * code on the chain of causes is named, else the innermost cause's message.
 */
export function describeNetworkFailure(error: unknown, timeoutMs?: number): string {
  if (
    timeoutMs !== undefined &&
    error instanceof Error &&
    (error.name === "TimeoutError" || error.name === "AbortError")
  ) {
    return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  }
  let innermost = error instanceof Error ? error.message : "request failed";
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === "string") return `${NETWORK_ERRORS[code] ?? "request failed"} (${code})`;
    if (typeof message === "string" && message !== "") innermost = message;
    current = (current as { cause?: unknown }).cause;
  }
  return innermost;
}
