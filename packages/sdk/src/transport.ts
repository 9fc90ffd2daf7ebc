import { type Agent, type ClientRequest, Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { clearTimeout, setTimeout } from "node:timers";
import { AnswerTooLarge, MAX_ANSWER_BYTES, readAnswerText } from "./answers.js";

/** What a `GET` answered, as much of it as the runtime client reads. */
export interface Answer {
  readonly status: number;
  /** A response header (name in lower case), or null. */
  header(name: string): string | null;
  /** The body as text ("" for none). */
  readonly text: string;
}

/**
 * One `GET` of `url` with `headers`, which fails with {@link NoAnswerInTime} when its answer is not
 * complete within `timeoutMs`, or with {@link AnswerTooLarge} past `MAX_ANSWER_BYTES`; no redirect is
 * followed.
 */
export type Transport = (
  url: string,
  headers: Readonly<Record<string, string>>,
  timeoutMs: number,
) => Promise<Answer>;

/** A transport's failure when the whole answer did not arrive within its time. */
export class NoAnswerInTime extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
  }
}

/** The failure of a request in flight when the watch stops (its signal aborts, or `close()`). */
const STOPPED = "the watch was stopped";

/**
 * A transport over a `fetch` (the global one, or the one a caller gave). `watch`: the watch's
 * signal, when the watch uses it; its abort ends every request in flight, and the timeouts of its
 * requests do not keep the process alive.
 */
export function fetchTransport(fetch: typeof globalThis.fetch, watch?: AbortSignal): Transport {
  return async (url, headers, timeoutMs) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new NoAnswerInTime(timeoutMs)), timeoutMs);
    if (watch) timer.unref();
    const onStop = () => controller.abort(new Error(STOPPED));
    if (watch?.aborted) onStop();
    else watch?.addEventListener("abort", onStop, { once: true });
    try {
      // Redirects are not followed: the token must not travel to an address nobody configured.
      const response = await fetch(url, { headers, redirect: "manual", signal: controller.signal });
      const text = await readAnswerText(response);
      return { status: response.status, header: (name) => response.headers.get(name), text };
    } catch (error) {
      throw controller.signal.aborted ? controller.signal.reason : error;
    } finally {
      clearTimeout(timer);
      watch?.removeEventListener("abort", onStop);
    }
  };
}

/**
 * The watch's transport: `node:http(s)` over one connection per client, kept between blocking
 * reads (a change reaches thousands of clients at once, and each would otherwise open a new
 * connection for its next read), whose socket does not keep the process alive (a held read must
 * not stop a Node process from exiting once it has nothing else to do). A request on a kept
 * connection that is reset before any answer (the server closed it meanwhile, or went away) is sent
 * once more on a new one. Lighter than `fetch`: no stream or `Response` per answer, and no
 * `AbortSignal` or listener per request (each blocking read after a change is one more request in
 * thousands at once): `stop` (the watch's signal) or `close()` ends the requests in flight and closes
 * the connection.
 */
export function keptAliveTransport(stop?: AbortSignal): { readonly transport: Transport; close(): void } {
  const agents: Record<string, Agent> = {
    "http:": new HttpAgent({ keepAlive: true }),
    "https:": new HttpsAgent({ keepAlive: true }),
  };
  /** How to end each request in flight, with the error its caller receives. */
  const inflight = new Set<(error: Error) => void>();
  let closed = false;
  const close = () => {
    closed = true;
    for (const end of [...inflight]) end(new Error(STOPPED));
    for (const agent of Object.values(agents)) agent.destroy();
  };
  if (stop?.aborted) close();
  else stop?.addEventListener("abort", close, { once: true });
  let parsed: { readonly href: string; readonly url: URL } | undefined;
  const transport: Transport = (href, headers, timeoutMs) =>
    new Promise<Answer>((resolve, reject) => {
      if (closed) {
        reject(new Error(STOPPED));
        return;
      }
      if (parsed?.href !== href) parsed = { href, url: new URL(href) };
      const { url } = parsed;
      let request: ClientRequest | undefined;
      let finished = false;
      const finish = (end: () => void) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        inflight.delete(abort);
        end();
      };
      // The caller gets `error`, whatever the destroyed request reports after it.
      const abort = (error: Error) => {
        finish(() => reject(error));
        request?.destroy();
      };
      const timer = setTimeout(() => abort(new NoAnswerInTime(timeoutMs)), timeoutMs);
      timer.unref();
      inflight.add(abort);
      const send = (retry: boolean) => {
        request = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, {
          headers,
          agent: agents[url.protocol],
        });
        const sent = request;
        let answered = false;
        sent.on("socket", (socket) => socket.unref());
        sent.on("error", (error: NodeJS.ErrnoException) => {
          // Only before any answer: a reset while the answer arrives is that answer's failure (on
          // Node 20 it reaches the response's "error", not this one; `answered` keeps it so should a
          // Node report it here too).
          if (retry && !answered && sent.reusedSocket && !finished && isReset(error)) {
            send(false);
            return;
          }
          finish(() => reject(error));
        });
        sent.on("response", (response) => {
          answered = true;
          const chunks: Buffer[] = [];
          let received = 0;
          response.on("data", (chunk: Buffer) => {
            received += chunk.length;
            if (received > MAX_ANSWER_BYTES) abort(new AnswerTooLarge(MAX_ANSWER_BYTES));
            else chunks.push(chunk);
          });
          response.on("error", (error) => finish(() => reject(error)));
          response.on("end", () => {
            const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString();
            const { headers: received } = response;
            finish(() =>
              resolve({
                status: response.statusCode ?? 0,
                header: (name) => {
                  const value = received[name];
                  return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
                },
                // As fetch's text(): a leading byte order mark is not part of the text.
                text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text,
              }),
            );
          });
        });
        sent.end();
      };
      try {
        send(true);
      } catch (error) {
        // A request node:http refuses outright (an invalid header): settled, its timer cleared.
        finish(() => reject(error));
      }
    });
  return { transport, close };
}

/** The server closed a kept connection as the request went out on it. */
function isReset(error: NodeJS.ErrnoException): boolean {
  return error.code === "ECONNRESET" || error.code === "EPIPE";
}
