import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Helpers of the PHP drop-in tests. */

export interface CountingProxy {
  readonly url: string;
  /** Requests that reached the server, with what they sent and got. */
  readonly requests: { ifNoneMatch: string | undefined; status: number }[];
  /** Connections attempted while down (reset without an answer). */
  refused: number;
  down: boolean;
  close(): Promise<void>;
}

/** A pass-through HTTP proxy to `target` that records requests and can play "unreachable". */
export async function startProxy(target: string): Promise<CountingProxy> {
  const server: Server = createServer((req, res) => {
    if (proxy.down) {
      proxy.refused += 1;
      req.socket.destroy();
      return;
    }
    const upstream = httpRequest(
      new URL(req.url ?? "/", target),
      { method: req.method, headers: req.headers },
      (answer) => {
        const ifNoneMatch = req.headers["if-none-match"];
        proxy.requests.push({ ifNoneMatch, status: answer.statusCode ?? 0 });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const proxy: CountingProxy = {
    url: `http://127.0.0.1:${port}`,
    requests: [],
    refused: 0,
    down: false,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return proxy;
}

/** A port nothing listens on (bound, then released). */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
