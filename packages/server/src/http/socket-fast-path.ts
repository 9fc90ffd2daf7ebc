import { maxHeaderSize, type Server } from "node:http";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { FastifyInstance } from "fastify";
import type { RuntimeAnswer, WarmRuntimeRead } from "./runtime-fast-path.js";

/** The one request line answered here; any other (HEAD, a query, HTTP/1.0, an absolute URL) is Node's. */
const REQUEST_LINE = "GET /site/secrets HTTP/1.1\r\n";
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
/** More header lines than any client sends for this read: such a request is Node's. */
const MAX_HEADER_LINES = 64;
/**
 * A header line as strictly as this path takes it: a token, a colon, then visible ASCII and blanks
 * (the value, once its leading and trailing blanks are trimmed). Anything Node might read otherwise
 * (obs-fold, a bare CR or LF, a byte past 0x7E, a blank before the colon) makes the request Node's.
 * The value is trimmed after the match rather than matched without its blanks: an expression that
 * splits a run of blanks between leading and trailing tries every split when the line then fails,
 * which took time quadratic in the run (25 ms for 8 KiB of tabs, on any connection's first request,
 * before a token is read).
 */
const HEADER_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t -~]*$/;
/**
 * Headers that change what Node does with the request or the connection (a body, an expectation, a
 * protocol switch, the connection's end): a request with one is Node's. Node's parser (llhttp) reads
 * `Proxy-Connection` as it reads `Connection` (`Proxy-Connection: close` ends the connection).
 * `Connection: keep-alive`, what HTTP/1.1 means anyway, is the one exception.
 */
const NODE_HEADERS = new Set([
  "content-length",
  "transfer-encoding",
  "expect",
  "upgrade",
  "connection",
  "proxy-connection",
  "te",
]);
/**
 * What Node adds to the keep-alive timeout before it closes an idle connection, so that a client
 * reusing the connection just inside the advertised timeout does not meet a closing one: 1 s in
 * Node 20 (`HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER`), `server.keepAliveTimeoutBuffer` where Node has it.
 */
const NODE_KEEP_ALIVE_BUFFER_MS = 1000;
const STATUS_LINES: Readonly<Record<RuntimeAnswer["status"], string>> = {
  200: "HTTP/1.1 200 OK\r\n",
  304: "HTTP/1.1 304 Not Modified\r\n",
};

/**
 * The warm runtime read answered on the connection, ahead of Node's HTTP code (STYLE, "The hot
 * path"): Node's parser, request and response objects and their streams cost more than the read
 * itself, and more still in a process as large as a Lockbox server, where Node's shared stream code
 * has seen many kinds of object. Takes the place of Node's connection listener on `server` (plain
 * HTTP; a TLS server keeps Node's). Each connection starts here; every request that arrives whole in
 * one read, is exactly `GET /site/secrets HTTP/1.1` with strictly formed headers and nothing that
 * changes Node's handling, and that {@link WarmRuntimeRead} answers, is answered here with the
 * bytes Node would write (the route's headers, then `Date`, `Connection` and `Keep-Alive` as Node
 * writes them). At the first request that is not — any other request, a request split over reads, a
 * malformed one, a client not reading its answers — the connection is handed to Node for good, with
 * the bytes not yet answered, so Node's parser, limits, timeouts and errors, and Fastify, answer
 * everything that is not the warm read. Pipelined requests are answered in order. A connection held
 * here is idle between requests: it closes after the server's keep-alive timeout and Node's buffer
 * past it, as Node closes an idle kept-alive connection, and at the app's `preClose`, as Node closes
 * idle connections when the server closes (an answer not yet written out included); a new
 * connection is Node's from then on.
 */
export function answerOnSockets(app: FastifyInstance, warm: WarmRuntimeRead): void {
  const server = app.server as Server;
  const listeners = server.rawListeners("connection") as Array<(socket: Socket) => void>;
  const nodeListener = listeners.find((listener) => listener.name === "connectionListener");
  if (nodeListener === undefined) {
    throw new Error(
      "Node's HTTP connection listener is not on the server: the fast path cannot go ahead of it.",
    );
  }
  // A limit Node counts per connection (`maxRequestsPerSocket`) is Node's to keep.
  if ((server.maxRequestsPerSocket ?? 0) > 0) return;

  // A head past half of Node's limit (the server's, or `--max-http-header-size`) is Node's to judge
  // (431 past the limit): far longer than any runtime read, and clear of how Node counts it.
  const ownLimit = (server as Server & { readonly maxHeaderSize?: number }).maxHeaderSize;
  const maxHeadBytes = (ownLimit || maxHeaderSize) / 2;
  const held = new Set<Socket>();
  let closing = false;
  let date = { second: -1, text: "" };

  const handOver = (socket: Socket, unanswered: Buffer): void => {
    held.delete(socket);
    socket.removeListener("data", onData);
    socket.removeListener("end", onEnd);
    socket.removeListener("timeout", onTimeout);
    socket.removeListener("error", onError);
    socket.removeListener("close", onClose);
    socket.setTimeout(0);
    nodeListener.call(server, socket);
    socket.unshift(unanswered);
  };

  function take(this: Server, socket: Socket): void {
    if (closing || socket.destroyed) {
      nodeListener?.call(this, socket);
      return;
    }
    held.add(socket);
    socket.on("data", onData);
    // Node's server is half-open: a client's end of sending ends the connection once answered.
    socket.on("end", onEnd);
    socket.on("error", onError);
    socket.on("close", onClose);
    if (server.keepAliveTimeout > 0) {
      const buffer = (server as Server & { readonly keepAliveTimeoutBuffer?: number }).keepAliveTimeoutBuffer;
      socket.setTimeout(server.keepAliveTimeout + (buffer ?? NODE_KEEP_ALIVE_BUFFER_MS));
      socket.on("timeout", onTimeout);
    }
  }

  function onData(this: Socket, chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const answered = answerOne(this, chunk, start);
      if (answered === undefined) {
        handOver(this, chunk.subarray(start));
        return;
      }
      start = answered;
    }
  }

  /** Answers the request at `start` of `chunk` and gives where the next begins, or undefined. */
  function answerOne(socket: Socket, chunk: Buffer, start: number): number | undefined {
    // A client that does not read its answers is Node's to slow down.
    if (closing || socket.writableNeedDrain) return undefined;
    const end = chunk.indexOf(HEAD_END, start);
    if (end < 0 || end - start > maxHeadBytes) return undefined;
    const started = performance.now();
    const headers = readHead(chunk.toString("latin1", start, end));
    const answer = headers && warm.answer(headers, false);
    if (answer === undefined) return undefined;
    write(socket, answer);
    warm.metrics.observe(answer.status, (performance.now() - started) / 1000);
    return end + HEAD_END.length;
  }

  /** The answer's bytes, as Node's `ServerResponse` writes them for the route's `writeHead`. */
  function write(socket: Socket, answer: RuntimeAnswer): void {
    let head = STATUS_LINES[answer.status];
    for (const name in answer.headers) head += `${name}: ${answer.headers[name]}\r\n`;
    head += `Date: ${httpDate()}\r\nConnection: keep-alive\r\n`;
    if (server.keepAliveTimeout > 0)
      head += `Keep-Alive: timeout=${Math.floor(server.keepAliveTimeout / 1000)}\r\n`;
    head += "\r\n";
    if (answer.body.length === 0) {
      socket.write(head, "latin1");
      return;
    }
    socket.cork();
    socket.write(head, "latin1");
    socket.write(answer.body);
    socket.uncork();
  }

  /** The `Date` header's value, made once a second (as Node does). */
  function httpDate(): string {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== date.second) date = { second, text: new Date(now).toUTCString() };
    return date.text;
  }

  function onEnd(this: Socket): void {
    this.end();
  }
  function onTimeout(this: Socket): void {
    this.destroy();
  }
  function onError(this: Socket): void {
    this.destroy();
  }
  function onClose(this: Socket): void {
    held.delete(this);
  }

  server.removeAllListeners("connection");
  for (const listener of listeners) server.on("connection", listener === nodeListener ? take : listener);
  app.addHook("preClose", (done) => {
    closing = true;
    // A held connection is idle (a request is answered as it arrives): closed at once, as Node's
    // server closes its idle connections, an answer not yet written out included (waiting for it
    // would let a client that does not read hold the close). Node would count one handed to it now
    // as awaiting its first request, and the server's close would wait for it.
    for (const socket of held) socket.destroy();
    done();
  });
}

/**
 * The headers of a request head (request line and header lines, without the blank line) whose
 * request line is exactly {@link REQUEST_LINE} and whose header lines are all strictly formed, have
 * distinct names, include `Host` and none of {@link NODE_HEADERS} but `Connection: keep-alive`;
 * otherwise undefined. Names are lower-cased, as Node gives them.
 */
function readHead(head: string): Record<string, string> | undefined {
  if (!head.startsWith(REQUEST_LINE)) return undefined;
  const lines = head.slice(REQUEST_LINE.length).split("\r\n");
  if (lines.length > MAX_HEADER_LINES) return undefined;
  const headers: Record<string, string> = Object.create(null);
  for (const line of lines) {
    if (!HEADER_LINE.test(line)) return undefined;
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    // Within [\t -~], trim() removes exactly the blanks (tab and space).
    const value = line.slice(colon + 1).trim();
    if (name in headers) return undefined;
    if (NODE_HEADERS.has(name) && !(name === "connection" && value.toLowerCase() === "keep-alive"))
      return undefined;
    headers[name] = value;
  }
  return headers.host === undefined ? undefined : headers;
}
