import { connect, type Socket } from "node:net";
import { type RunningServer, type ServerOptions, startServer } from "../server.js";
import { sqliteTestDatabase, type TestDatabase } from "./test-databases.js";
import { randomMasterKey } from "./test-lockbox.js";

/** A real server (`startServer`, as `server:start` runs it) on a fresh SQLite database and a free port. */
export interface TestServer {
  readonly server: RunningServer;
  readonly port: number;
  readonly adminToken: string;
  close(): Promise<void>;
}

export async function startTestServer(
  options: Partial<
    Pick<
      ServerOptions,
      | "requestTimeout"
      | "maxConnections"
      | "maxConnectionsPerAddress"
      | "trustProxy"
      | "maxHeldRequests"
      | "retainVersions"
      | "retainDeletedDays"
      | "pruning"
    >
  > = {},
): Promise<TestServer> {
  const database: TestDatabase = sqliteTestDatabase();
  const server = await startServer({
    db: database.location,
    host: "127.0.0.1",
    port: 0,
    env: { LOCKBOX_MASTER_KEY: randomMasterKey() },
    ...options,
  });
  const token = server.bootstrap.created ? server.bootstrap.token : undefined;
  if (!token) throw new Error("the test server did not create its admin");
  return {
    server,
    port: Number(new URL(server.url).port),
    adminToken: token,
    async close() {
      await server.close();
      await database.drop();
    },
  };
}

/** A raw TCP connection to `port` that collects everything it receives and notes when it closes. */
export interface RawConnection {
  readonly socket: Socket;
  /** Everything received so far, as latin1 text. */
  received(): string;
  /** Whether the server closed (or reset) the connection. */
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

export function rawConnection(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let text = "";
    let isClosed = false;
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
    });
    const closed = new Promise<void>((resolveClosed) =>
      socket.once("close", () => {
        isClosed = true;
        resolveClosed();
      }),
    );
    // A reset after the server closes is expected here; the test reads `closed`.
    socket.on("error", () => {});
    socket.once("connect", () => resolve({ socket, received: () => text, closed, isClosed: () => isClosed }));
    socket.once("error", reject);
  });
}

/** Sends `bytes` as they are to `port`, half-closes, and answers everything received until the server closes. */
export function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.end(bytes));
    let answer = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      answer += chunk;
    });
    socket.on("close", () => resolve(answer));
    socket.on("error", reject);
  });
}
