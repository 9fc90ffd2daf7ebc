/**
 * A host and optional port as written in `host[:port]`: a DNS host name, an IPv4 address or an
 * IPv6 address in brackets (`[::1]`, as in URLs). `host` keeps the spelling of the input, brackets
 * included, because Composer keys credentials by exactly that text.
 */
export interface HostPort {
  readonly host: string;
  /** The port, or `undefined` when none is written. */
  readonly port: number | undefined;
}

/**
 * Why a `host[:port]` was refused: `host` (not a host name or IP address), `port` (not a number from
 * 1 to 65535 without leading zeros) or `unbracketed-ipv6` (an IPv6 address written without brackets).
 */
export type HostPortProblem = "host" | "port" | "unbracketed-ipv6";

/** The outcome of {@link parseHostPort}. */
export type HostPortResult =
  | ({ readonly ok: true } & HostPort)
  | { readonly ok: false; readonly problem: HostPortProblem };

/**
 * Parses `host[:port]`. The host is a DNS host name ({@link isDnsHostname}), an IPv4 address
 * ({@link isIPv4Address}) or a bracketed IPv6 address ({@link isIPv6Address}); a name whose last
 * label is numeric must be a whole IPv4 address (as URL parsers decide, so `1.2.3.999` is refused).
 * Never throws: a refused input answers `{ok: false, problem}`.
 */
export function parseHostPort(text: string): HostPortResult {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close === -1 || !isIPv6Address(text.slice(1, close))) return { ok: false, problem: "host" };
    host = text.slice(0, close + 1);
    const rest = text.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return { ok: false, problem: "host" };
      portText = rest.slice(1);
    }
  } else {
    const colon = text.indexOf(":");
    if (colon !== -1 && text.indexOf(":", colon + 1) !== -1) {
      return { ok: false, problem: isIPv6Address(text) ? "unbracketed-ipv6" : "host" };
    }
    host = colon === -1 ? text : text.slice(0, colon);
    if (colon !== -1) portText = text.slice(colon + 1);
    if (!isIPv4Address(host) && !(isDnsHostname(host) && !endsInNumber(host))) {
      return { ok: false, problem: "host" };
    }
  }
  if (portText === undefined) return { ok: true, host, port: undefined };
  const port = parsePort(portText);
  return port === undefined ? { ok: false, problem: "port" } : { ok: true, host, port };
}

/**
 * True for a DNS host name: at most 253 characters, dot-separated labels of 1–63 letters, digits and
 * hyphens that neither start nor end with a hyphen. A single label (`localhost`) is a host name;
 * a trailing dot (fully qualified form) is not accepted.
 */
export function isDnsHostname(text: string): boolean {
  return text.length <= 253 && text.split(".").every((label) => DNS_LABEL.test(label));
}

/** True for a dotted-quad IPv4 address, each part 0–255 written without leading zeros. */
export function isIPv4Address(text: string): boolean {
  return IPV4.test(text);
}

/**
 * True for an IPv6 address in text form (RFC 4291 §2.2): eight groups of 1–4 hex digits, at most one
 * `::`, optionally ending in an embedded IPv4 address. No brackets, no zone (`%eth0`).
 */
export function isIPv6Address(text: string): boolean {
  if (text.length > 45) return false;
  const gap = text.indexOf("::");
  if (gap !== -1 && text.indexOf("::", gap + 1) !== -1) return false;
  const head = gap === -1 ? text : text.slice(0, gap);
  const tail = gap === -1 ? "" : text.slice(gap + 2);
  const pieces = [...(head === "" ? [] : head.split(":")), ...(tail === "" ? [] : tail.split(":"))];
  const lastIsAtEnd = gap === -1 || tail !== "";
  let groups = 0;
  for (const [index, piece] of pieces.entries()) {
    if (index === pieces.length - 1 && lastIsAtEnd && piece.includes(".")) {
      if (!isIPv4Address(piece)) return false;
      groups += 2;
    } else if (HEX_GROUP.test(piece)) {
      groups += 1;
    } else {
      return false;
    }
  }
  // `::` stands for at least one group of zeros.
  return gap === -1 ? groups === 8 : groups <= 7;
}

const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV4_PART = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const IPV4 = new RegExp(`^${IPV4_PART}(?:\\.${IPV4_PART}){3}$`);
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const NUMERIC_LABEL = /^(?:[0-9]+|0[xX][0-9A-Fa-f]*)$/;

/** URL parsers read a host whose last label is a number as an IPv4 address, so it must be one. */
function endsInNumber(host: string): boolean {
  return NUMERIC_LABEL.test(host.slice(host.lastIndexOf(".") + 1));
}

function parsePort(text: string): number | undefined {
  if (!/^[1-9][0-9]{0,4}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}
