/**
 * The dashboard's only way to the server: the `/v1` API with the session's token as a Bearer
 * header, exactly as the CLI calls it. The server decides every access; a 404 here is what the
 * CLI would get. The token lives in sessionStorage (this tab only), never in a cookie or a URL.
 */

const STORAGE_KEY = "lockbox.session";

/** Who is signed in: the token, and for a session from a sign-in link its id (revoked at sign-out). */
export interface Session {
  readonly token: string;
  /** The id of a session token (from `lockbox ui`); absent for a pasted user token. */
  readonly sessionId?: string | undefined;
  readonly email: string;
  readonly expiresAt: string | null;
}

export function loadSession(): Session | undefined {
  try {
    const text = sessionStorage.getItem(STORAGE_KEY);
    return text ? (JSON.parse(text) as Session) : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session | undefined): void {
  if (session) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(STORAGE_KEY);
}

/** An answer in the server's error shape (SPEC §7): its code and message are shown as they are. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the server refuses the token (expired, revoked): the app signs out. */
let onUnauthenticated: (message: string) => void = () => {};
export function whenUnauthenticated(handler: (message: string) => void): void {
  onUnauthenticated = handler;
}

type Query = Readonly<Record<string, string | number | undefined>>;

/** One path segment, percent-encoded (names may hold any character the server allows). */
export const seg = (text: string): string => encodeURIComponent(text);

export async function api<T>(
  method: string,
  path: string,
  options: { query?: Query; body?: unknown; token?: string } = {},
): Promise<T> {
  const token = options.token ?? loadSession()?.token;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined && value !== "") params.set(key, String(value));
  }
  const url = params.size > 0 ? `${path}?${params}` : path;
  const headers: Record<string, string> = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  // Rate-limited (429): wait as the server says and retry, as the CLI does, a few times.
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(url, {
        method,
        headers,
        cache: "no-store",
        credentials: "omit",
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      });
    } catch {
      throw new ApiError(
        0,
        "NETWORK",
        "The Lockbox server did not answer: check that it is running, then retry.",
      );
    }
    if (response.status !== 429 || attempt >= 3) break;
    const seconds = Math.min(Math.max(Number(response.headers.get("retry-after")) || 1, 1), 10);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    const failure = new ApiError(
      response.status,
      error?.code ?? "HTTP",
      error?.message ?? `The server answered ${response.status}.`,
    );
    if (response.status === 401 && token && options.token === undefined) onUnauthenticated(failure.message);
    throw failure;
  }
  return json as T;
}

/** Every page of a listing (`{items, next}`), following `next` as `after`, at most 20 pages. */
export async function listAll<T>(path: string, query: Query = {}): Promise<T[]> {
  const items: T[] = [];
  let after: string | undefined;
  for (let page = 0; page < 20; page++) {
    const answer = await api<{ items: T[]; next?: string | null }>("GET", path, {
      query: { ...query, limit: 500, after },
    });
    items.push(...answer.items);
    if (!answer.next) break;
    after = answer.next;
  }
  return items;
}
