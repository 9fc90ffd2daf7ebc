import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

/**
 * A minimal `fetch` (GET, headers, abort signal; no redirects followed) over `node:http(s)` whose
 * socket does not keep the process alive: a watch's held request must not stop a Node process
 * from exiting once it has nothing else to do. One connection per request (a held request lasts
 * a minute or more, so reusing it saves little).
 */
export const unrefFetch: typeof globalThis.fetch = (input, init = {}) =>
  new Promise<Response>((resolve, reject) => {
    const url = new URL(String(input));
    const signal = init.signal ?? undefined;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const request = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, {
      method: init.method ?? "GET",
      headers: init.headers as Record<string, string> | undefined,
      agent: false,
    });
    const onAbort = () =>
      request.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
    request.on("socket", (socket) => socket.unref());
    request.on("error", (error) => {
      signal?.removeEventListener("abort", onAbort);
      reject(error);
    });
    request.on("response", (response) => {
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
    request.end();
  });
