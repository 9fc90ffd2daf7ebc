import { type Agent, type ClientRequest, Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** A `fetch` with the connection it keeps, closed by `close()`. */
export interface UnrefFetch {
  readonly fetch: typeof globalThis.fetch;
  /** Closes the kept connection; a later request opens a new one. */
  close(): void;
}

/**
 * A minimal `fetch` (GET, headers, abort signal; no redirects followed) over `node:http(s)` whose
 * socket does not keep the process alive: a watch's held request must not stop a Node process
 * from exiting once it has nothing else to do. One per client: its connection is kept between
 * blocking reads (a change reaches thousands of clients at once, and each would otherwise open a
 * new connection for its next read). A request on a kept connection that the server closed
 * meanwhile (reset before any answer) is sent once more on a new one.
 */
export function unrefFetch(): UnrefFetch {
  const agents: Record<string, Agent> = {
    "http:": new HttpAgent({ keepAlive: true }),
    "https:": new HttpsAgent({ keepAlive: true }),
  };
  const fetch: typeof globalThis.fetch = (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(String(input));
      const signal = init.signal ?? undefined;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      let request: ClientRequest;
      const onAbort = () =>
        request.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
      signal?.addEventListener("abort", onAbort, { once: true });
      const send = (retry: boolean) => {
        request = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, {
          method: init.method ?? "GET",
          headers: init.headers as Record<string, string> | undefined,
          agent: agents[url.protocol],
        });
        const sent = request;
        sent.on("socket", (socket) => socket.unref());
        sent.on("error", (error: NodeJS.ErrnoException) => {
          if (retry && sent.reusedSocket && !signal?.aborted && isReset(error)) {
            send(false);
            return;
          }
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        });
        sent.on("response", (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () => {
            signal?.removeEventListener("abort", onAbort);
            const headers = new Headers();
            for (const [name, value] of Object.entries(response.headers)) {
              if (value === undefined) continue;
              for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
            }
            const status = response.statusCode ?? 0;
            const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
            try {
              resolve(new Response(body, { status, headers }));
            } catch (error) {
              reject(error);
            }
          });
        });
        sent.end();
      };
      send(true);
    });
  return {
    fetch,
    close() {
      for (const agent of Object.values(agents)) agent.destroy();
    },
  };
}

/** The server closed a kept connection as the request went out on it. */
function isReset(error: NodeJS.ErrnoException): boolean {
  return error.code === "ECONNRESET" || error.code === "EPIPE";
}
