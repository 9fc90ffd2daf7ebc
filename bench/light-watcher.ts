/**
 * A watching client for the load generator of `propagation.ts`: one kept-alive connection, blocking
 * reads of `GET /site/secrets?wait=` with the last ETag in `If-None-Match`, each answer's JSON parsed
 * into a name → value map as the SDK's is, and the next read sent at once. No `node:http`: its
 * request and response objects, agent and timers made each SDK client cost this process 0.28–0.37 ms
 * of CPU per change, against 0.07–0.10 ms for this one (one run each, 4,000 clients). With 4,000 SDK
 * clients in one process on the servers' 2 cores, the clients were the limit of the run, not the
 * servers: against servers that do nothing (the floor of `propagation.ts`) their p99 was 0.97 s.
 *
 * It speaks only what those answers are: HTTP/1.1, a `Content-Length` body or none (304), no chunked
 * encoding (a response with one fails the client, so a change of the server's framing cannot go
 * unnoticed). Any status but 200 and 304 fails it too: the benchmark counts it as missing.
 */
import { connect, type Socket } from "node:net";

const HEAD_END = Buffer.from("\r\n\r\n");

export interface LightWatcherOptions {
  /** The server's origin, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly token: string;
  /** `?wait=` of each blocking read. */
  readonly waitSeconds: number;
  /** Each set answered (200), as name → value. */
  readonly onSet: (secrets: Readonly<Record<string, string>>) => void;
  /** The client stopped: a failed connection, an answer it does not expect. */
  readonly onError: (error: Error) => void;
}

export class LightWatcher {
  readonly #options: LightWatcherOptions;
  readonly #socket: Socket;
  readonly #host: string;
  #etag: string | undefined;
  #pending: Buffer | undefined;
  #closed = false;

  constructor(options: LightWatcherOptions) {
    this.#options = options;
    const url = new URL(options.url);
    if (url.protocol !== "http:") throw new Error(`LightWatcher speaks http: only, not ${url.protocol}`);
    this.#host = url.host;
    this.#socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true });
    this.#socket.on("connect", () => this.#send());
    this.#socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on("error", (error) => this.#fail(error));
    this.#socket.on("close", () => this.#fail(new Error("the server closed the connection")));
  }

  close(): void {
    this.#closed = true;
    this.#socket.destroy();
  }

  #send(): void {
    const etag = this.#etag;
    this.#socket.write(
      `GET /site/secrets${etag === undefined ? "" : `?wait=${this.#options.waitSeconds}`} HTTP/1.1\r\n` +
        `host: ${this.#host}\r\nauthorization: Bearer ${this.#options.token}\r\naccept: application/json\r\n` +
        (etag === undefined ? "" : `if-none-match: ${etag}\r\n`) +
        "\r\n",
    );
  }

  #onData(chunk: Buffer): void {
    let data = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    for (;;) {
      const headEnd = data.indexOf(HEAD_END);
      if (headEnd < 0) break;
      const head = data.toString("latin1", 0, headEnd);
      const status = Number(head.slice(9, 12));
      if (/\r\ntransfer-encoding:/i.test(head)) {
        this.#fail(new Error("a chunked answer"));
        return;
      }
      const length = status === 304 ? 0 : Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      const bodyStart = headEnd + HEAD_END.length;
      if (data.length < bodyStart + length) break;
      const body = data.toString("utf8", bodyStart, bodyStart + length);
      data = data.subarray(bodyStart + length);
      if (status === 200) {
        this.#etag = /\r\netag: *([^\r]+)/i.exec(head)?.[1];
        let secrets: Record<string, string>;
        try {
          secrets = secretsOf(body);
        } catch {
          this.#fail(new Error("a 200 whose body is not a set of secrets"));
          return;
        }
        // Without an ETag the next read could not wait: it would come back at once, for ever.
        if (this.#etag === undefined) {
          this.#fail(new Error("a 200 without an ETag"));
          return;
        }
        this.#options.onSet(secrets);
      } else if (status !== 304) {
        this.#fail(new Error(`HTTP ${status}: ${body.slice(0, 200)}`));
        return;
      }
      this.#send();
    }
    this.#pending = data.length === 0 ? undefined : data;
  }

  #fail(error: Error): void {
    if (this.#closed) return;
    this.close();
    this.#options.onError(error);
  }
}

/** The name → value map of a set in the wire shape of SPEC §3. */
function secretsOf(body: string): Record<string, string> {
  const { Secrets } = JSON.parse(body) as { Secrets: Record<string, { Value: string }> };
  const secrets: Record<string, string> = Object.create(null);
  for (const name in Secrets) secrets[name] = (Secrets[name] as { Value: string }).Value;
  return secrets;
}
