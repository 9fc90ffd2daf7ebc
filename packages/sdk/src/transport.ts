import { type Agent, type ClientRequest, Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** What a `GET` answered, as much of it as the runtime client reads. */
export interface Answer {
  readonly status: number;
  /** A response header (name in lower case), or null. */
  header(name: string): string | null;
  /** The body as text ("" for none). */
  readonly text: string;
}

/** One `GET` of `url` with `headers`, ended by `signal`; no redirect is followed. */
export type Transport = (
  url: string,
  headers: Readonly<Record<string, string>>,
  signal: AbortSignal,
) => Promise<Answer>;

/** A transport over a `fetch` (the global one, or the one a caller gave). */
export function fetchTransport(fetch: typeof globalThis.fetch): Transport {
  return async (url, headers, signal) => {
    // Redirects are not followed: the token must not travel to an address nobody configured.
    const response = await fetch(url, { headers, redirect: "manual", signal });
    const text = await response.text();
    return { status: response.status, header: (name) => response.headers.get(name), text };
  };
}

/**
 * The watch's transport: `node:http(s)` over one connection per client, kept between blocking
 * reads (a change reaches thousands of clients at once, and each would otherwise open a new
 * connection for its next read), whose socket does not keep the process alive (a held read must
 * not stop a Node process from exiting once it has nothing else to do). A request on a kept
 * connection that is reset before any answer (the server closed it meanwhile, or went away) is sent
 * once more on a new one. Lighter than `fetch`: no stream or `Response` per answer. `close()` closes the connection.
 */
export function keptAliveTransport(): { readonly transport: Transport; close(): void } {
  const agents: Record<string, Agent> = {
    "http:": new HttpAgent({ keepAlive: true }),
    "https:": new HttpsAgent({ keepAlive: true }),
  };
  let parsed: { readonly href: string; readonly url: URL } | undefined;
  const transport: Transport = (href, headers, signal) =>
    new Promise<Answer>((resolve, reject) => {
      if (parsed?.href !== href) parsed = { href, url: new URL(href) };
      const { url } = parsed;
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      let request: ClientRequest;
      const onAbort = () =>
        request.destroy(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
      signal.addEventListener("abort", onAbort, { once: true });
      const send = (retry: boolean) => {
        request = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, {
          headers,
          agent: agents[url.protocol],
        });
        const sent = request;
        let answered = false;
        const fail = (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        };
        sent.on("socket", (socket) => socket.unref());
        sent.on("error", (error: NodeJS.ErrnoException) => {
          // Only before any answer: a reset while the answer arrives is that answer's failure.
          if (retry && !answered && sent.reusedSocket && !signal.aborted && isReset(error)) {
            send(false);
            return;
          }
          fail(error);
        });
        sent.on("response", (response) => {
          answered = true;
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", fail);
          response.on("end", () => {
            signal.removeEventListener("abort", onAbort);
            const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString();
            const { headers: received } = response;
            resolve({
              status: response.statusCode ?? 0,
              header: (name) => {
                const value = received[name];
                return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
              },
              // As fetch's text(): a leading byte order mark is not part of the text.
              text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text,
            });
          });
        });
        sent.end();
      };
      send(true);
    });
  return {
    transport,
    close() {
      for (const agent of Object.values(agents)) agent.destroy();
    },
  };
}

/** The server closed a kept connection as the request went out on it. */
function isReset(error: NodeJS.ErrnoException): boolean {
  return error.code === "ECONNRESET" || error.code === "EPIPE";
}
