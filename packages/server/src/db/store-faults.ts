import { LockboxError } from "@lockbox/core";
import type {
  DatabaseConnection,
  Dialect,
  Driver,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from "kysely";

/** Seconds a client is told to wait (`Retry-After`) when the store does not answer. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/**
 * The store cannot be reached (PostgreSQL stopped, restarting, or the connection cut): not an
 * internal error but a passing one, answered `503 UNAVAILABLE` with `Retry-After`. The request's
 * transaction did not commit, unless the connection was cut during its very COMMIT (then the
 * outcome is unknown, as with any database client).
 */
export class StoreUnavailableError extends LockboxError {
  readonly retryAfterSeconds = STORE_RETRY_AFTER_SECONDS;

  constructor(options?: { cause?: unknown }) {
    super(
      "UNAVAILABLE",
      `The database does not answer (it is down or restarting). Retry in ${STORE_RETRY_AFTER_SECONDS} s.`,
      options,
    );
  }
}

/**
 * The store's disk (or its size limit) is full: answered `507 STORAGE_FULL`. The write that met
 * it was rolled back; writes work again as soon as there is space, without a restart.
 */
export class StoreFullError extends LockboxError {
  constructor(options?: { cause?: unknown }) {
    super(
      "STORAGE_FULL",
      "The database's disk is full: nothing was changed. An operator must free space where the store is kept; writes work again as soon as there is room.",
      options,
    );
  }
}

/** A store fault as the server logs it, once per episode. */
export interface StoreFault {
  readonly code: "UNAVAILABLE" | "STORAGE_FULL";
  /** Which store: the SQLite file's path, or PostgreSQL's host, port and database (never credentials). */
  readonly store: string;
  readonly message: string;
}

/** Turns a driver error into a store fault, or undefined for any other error. */
export type FaultClassifier = (error: unknown) => StoreUnavailableError | StoreFullError | undefined;

/**
 * Tracks episodes of store faults, so each is reported once when it begins, not per request. An
 * unreachable store's episode ends when a query answers again. A full disk's ends only after
 * `fullQuietMs` without SQLITE_FULL: on a nearly full disk small writes still fit between refused
 * larger ones, and that is one episode for the operator, not one per refusal.
 */
export class StoreHealth {
  readonly #listeners = new Set<(fault: StoreFault) => void>();
  #unreachable = false;
  #lastFullAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    /** How the store is named in reports. */
    readonly store: string,
    private readonly options: { fullQuietMs?: number; now?: () => number } = {},
  ) {}

  /** Calls `listener` when an episode begins; returns an unsubscribe. */
  onFault(listener: (fault: StoreFault) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Notes a fault; the first of an episode goes to the listeners. */
  report(error: StoreUnavailableError | StoreFullError): void {
    if (error instanceof StoreFullError) {
      const nowMs = (this.options.now ?? Date.now)();
      const ongoing = nowMs - this.#lastFullAtMs < (this.options.fullQuietMs ?? 60_000);
      this.#lastFullAtMs = nowMs;
      if (ongoing) return;
    } else {
      if (this.#unreachable) return;
      this.#unreachable = true;
    }
    const fault: StoreFault = {
      code: error.code as StoreFault["code"],
      store: this.store,
      message: error.message,
    };
    for (const listener of this.#listeners) {
      try {
        listener(fault);
      } catch {
        // A logger's failure must not turn the fault into another error.
      }
    }
  }

  /** A query answered: an unreachable store is back. */
  answered(): void {
    this.#unreachable = false;
  }
}

/**
 * Wraps a Kysely dialect so that every error its driver raises (connecting, querying, beginning,
 * committing or rolling back) that `classify` recognizes leaves as a {@link StoreUnavailableError}
 * or {@link StoreFullError}, with the driver's error as its cause, and is reported to `health`.
 * Every store, service and route then sees one typed error, whichever dialect and step it met.
 */
export function faultClassifyingDialect(
  inner: Dialect,
  classify: FaultClassifier,
  health: StoreHealth,
): Dialect {
  return {
    createAdapter: () => inner.createAdapter(),
    createIntrospector: (db) => inner.createIntrospector(db),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createDriver: () => new FaultClassifyingDriver(inner.createDriver(), classify, health),
  };
}

class ClassifiedConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    private readonly guard: <T>(step: () => Promise<T>) => Promise<T>,
    private readonly health: StoreHealth,
  ) {}

  async executeQuery<R>(query: Parameters<DatabaseConnection["executeQuery"]>[0]): Promise<QueryResult<R>> {
    const result = await this.guard(() => this.inner.executeQuery<R>(query));
    this.health.answered();
    return result;
  }

  streamQuery<R>(
    query: Parameters<DatabaseConnection["streamQuery"]>[0],
    chunkSize?: number,
  ): AsyncIterableIterator<QueryResult<R>> {
    // Lockbox streams nothing; passed through for completeness.
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class FaultClassifyingDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly classify: FaultClassifier,
    private readonly health: StoreHealth,
  ) {}

  readonly #guard = async <T>(step: () => Promise<T>): Promise<T> => {
    try {
      return await step();
    } catch (error) {
      const fault = this.classify(error);
      if (!fault) throw error;
      this.health.report(fault);
      throw fault;
    }
  };

  init(): Promise<void> {
    return this.#guard(() => this.inner.init());
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.#guard(() => this.inner.acquireConnection());
    return new ClassifiedConnection(connection, this.#guard, this.health);
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#guard(() => this.inner.beginTransaction(innerOf(connection), settings));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#guard(() => this.inner.commitTransaction(innerOf(connection)));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#guard(() => this.inner.rollbackTransaction(innerOf(connection)));
  }

  savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    return this.#guard(async () => this.inner.savepoint?.(innerOf(connection), name, compile));
  }

  rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    return this.#guard(async () => this.inner.rollbackToSavepoint?.(innerOf(connection), name, compile));
  }

  releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    return this.#guard(async () => this.inner.releaseSavepoint?.(innerOf(connection), name, compile));
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(innerOf(connection));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

function innerOf(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof ClassifiedConnection ? connection.inner : connection;
}

/** Node's socket errors that mean the database cannot be reached. */
const UNREACHABLE_SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * PostgreSQL (node-postgres) errors that mean the store is unreachable or full. Unreachable: socket
 * errors, class 08 (connection exception), 57P01–57P03 (admin shutdown, crash shutdown, cannot
 * connect now), 53300 (too many connections), and pg's own messages for a cut connection or a
 * pool connect timeout. Full: 53100 (disk full).
 */
export const classifyPostgresError: FaultClassifier = (error) => {
  if (error instanceof LockboxError) return undefined;
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : "";
  if (code === "53100") return new StoreFullError({ cause: error });
  if (
    (typeof code === "string" &&
      (UNREACHABLE_SOCKET_CODES.has(code) ||
        code.startsWith("08") ||
        code === "57P01" ||
        code === "57P02" ||
        code === "57P03" ||
        code === "53300")) ||
    /^Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable/.test(
      message,
    )
  ) {
    return new StoreUnavailableError({ cause: error });
  }
  return undefined;
};

/**
 * SQLite (better-sqlite3) errors that mean the store is full: SQLITE_FULL (the disk, or the
 * database's `max_page_count`).
 */
export const classifySqliteError: FaultClassifier = (error) => {
  if (error instanceof LockboxError) return undefined;
  const code = (error as { code?: unknown })?.code;
  if (code === "SQLITE_FULL") return new StoreFullError({ cause: error });
  return undefined;
};
