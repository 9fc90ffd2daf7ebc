import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A request the fake server received. */
export interface RecordedRequest {
  readonly method: string;
  /** The raw (still URL-encoded) path, without the query. */
  readonly rawPath: string;
  /** The decoded path parameters of the route that matched. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: IncomingMessage["headers"];
  /** The body exactly as received. */
  readonly rawBody: Buffer;
  /** The body parsed as JSON, or `undefined` when empty. */
  readonly body: unknown;
}

/** What a route answers. */
export interface FakeResponse {
  readonly status?: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A route's answer: fixed, or computed from the request (the n-th call for this route, from 0). */
export type FakeHandler = FakeResponse | ((request: RecordedRequest, call: number) => FakeResponse);

interface Route {
  readonly method: string;
  readonly segments: readonly string[];
  readonly handler: FakeHandler;
  calls: number;
}

/** The error body of docs/api.md. */
export function errorBody(
  code: string,
  message: string,
): { error: { code: string; message: string; requestId: string } } {
  return { error: { code, message, requestId: "req-test-1" } };
}

/**
 * A paginated list route as docs/api.md describes it: the rows after the `after` cursor, at most
 * `pageSize` of them (or the request's smaller `limit`), and `next` the last row's key while rows
 * follow. `rows` must be in key order. A small `pageSize` makes a client cross pages.
 */
export function pagedList<T>(rows: readonly T[], key: (row: T) => string, pageSize: number): FakeHandler {
  return (request) => {
    const limit = Math.min(pageSize, Number(request.query.limit ?? pageSize));
    const after = request.query.after;
    const rest = after === undefined ? rows : rows.filter((row) => key(row) > after);
    const items = rest.slice(0, limit);
    const last = items.at(-1);
    return { body: { items, next: rest.length > limit && last !== undefined ? key(last) : null } };
  };
}

/**
 * A `node:http` server on 127.0.0.1 that answers like the Lockbox API of docs/api.md for the
 * routes a test declares, records every request, and answers any other route with a 404 in the
 * Lockbox error shape.
 */
export class FakeLockboxServer {
  readonly requests: RecordedRequest[] = [];
  readonly #routes: Route[] = [];
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Starts a server on an ephemeral port. */
  static async start(): Promise<FakeLockboxServer> {
    const server = createServer();
    const fake = new FakeLockboxServer(server);
    server.on("request", (request, response) => {
      fake.#handle(request, response).catch((error: unknown) => {
        response.statusCode = 500;
        response.end(String(error));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return fake;
  }

  /** The server's base URL. */
  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Declares a route; `path` may hold `:param` segments. Later declarations win. */
  on(method: string, path: string, handler: FakeHandler): this {
    this.#routes.unshift({ method, segments: path.split("/"), handler, calls: 0 });
    return this;
  }

  /** The recorded requests to `method path` (raw path). */
  requestsTo(method: string, rawPath: string): RecordedRequest[] {
    return this.requests.filter((request) => request.method === method && request.rawPath === rawPath);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks);
    const url = new URL(request.url ?? "/", "http://fake");
    const method = request.method ?? "GET";
    const segments = url.pathname.split("/");
    for (const route of this.#routes) {
      const params = match(route, method, segments);
      if (params === undefined) continue;
      const recorded: RecordedRequest = {
        method,
        rawPath: url.pathname,
        params,
        query: Object.fromEntries(url.searchParams),
        headers: request.headers,
        rawBody,
        body: rawBody.length === 0 ? undefined : JSON.parse(rawBody.toString("utf8")),
      };
      this.requests.push(recorded);
      const answer =
        typeof route.handler === "function" ? route.handler(recorded, route.calls++) : route.handler;
      send(response, answer);
      return;
    }
    this.requests.push({
      method,
      rawPath: url.pathname,
      params: {},
      query: Object.fromEntries(url.searchParams),
      headers: request.headers,
      rawBody,
      body: undefined,
    });
    send(response, {
      status: 404,
      body: errorBody("NOT_FOUND", `No fake route for ${method} ${url.pathname}.`),
    });
  }
}

function match(
  route: Route,
  method: string,
  segments: readonly string[],
): Record<string, string> | undefined {
  if (route.method !== method || route.segments.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, pattern] of route.segments.entries()) {
    const actual = segments[index] as string;
    if (pattern.startsWith(":")) params[pattern.slice(1)] = decodeURIComponent(actual);
    else if (pattern !== actual) return undefined;
  }
  return params;
}

function send(response: ServerResponse, answer: FakeResponse): void {
  const status = answer.status ?? 200;
  for (const [name, value] of Object.entries(answer.headers ?? {})) response.setHeader(name, value);
  if (answer.body === undefined || status === 204) {
    response.statusCode = status;
    response.end();
    return;
  }
  response.statusCode = status;
  response.setHeader("content-type", "application/json; charset=utf-8");
  response.end(JSON.stringify(answer.body));
}
