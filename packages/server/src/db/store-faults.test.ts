import { LockboxError } from "@lockbox/core";
import { describe, expect, it } from "vitest";
import {
  classifyPostgresError,
  classifySqliteError,
  type StoreFault,
  StoreFullError,
  StoreHealth,
  StoreUnavailableError,
} from "./store-faults.js";

const withCode = (code: string, message = "driver error") => Object.assign(new Error(message), { code });

describe("classifyPostgresError()", () => {
  it("calls every way of not reaching PostgreSQL unavailable", () => {
    const unreachable = [
      withCode("ECONNREFUSED"),
      withCode("ECONNRESET"),
      withCode("57P01", "terminating connection due to administrator command"),
      withCode("57P02"),
      withCode("57P03", "the database system is starting up"),
      withCode("08006"),
      withCode("08001"),
      withCode("53300"),
      new Error("Connection terminated unexpectedly"),
      new Error("Connection terminated due to connection timeout"),
      new Error("timeout exceeded when trying to connect"),
      new Error("Client has encountered a connection error and is not queryable"),
    ];
    for (const error of unreachable) {
      const fault = classifyPostgresError(error);
      expect([error.message, fault]).toEqual([error.message, expect.any(StoreUnavailableError)]);
      expect(fault?.cause).toBe(error);
      expect((fault as StoreUnavailableError).retryAfterSeconds).toBeGreaterThan(0);
    }
  });

  it("calls a full disk STORAGE_FULL and leaves every other error alone", () => {
    expect(classifyPostgresError(withCode("53100"))).toBeInstanceOf(StoreFullError);
    for (const error of [
      withCode("23505"),
      withCode("42P01"),
      new Error("boom"),
      new LockboxError("CONFLICT", "x"),
      undefined,
    ]) {
      expect(classifyPostgresError(error)).toBeUndefined();
    }
  });
});

describe("classifySqliteError()", () => {
  it("calls SQLITE_FULL STORAGE_FULL and nothing else a fault", () => {
    expect(classifySqliteError(withCode("SQLITE_FULL"))?.code).toBe("STORAGE_FULL");
    expect(classifySqliteError(withCode("SQLITE_CONSTRAINT_UNIQUE"))).toBeUndefined();
    expect(classifySqliteError(withCode("SQLITE_BUSY"))).toBeUndefined();
  });
});

describe("StoreHealth", () => {
  it("reports a full disk once per episode: until a minute passes without SQLITE_FULL", () => {
    let nowMs = 0;
    const health = new StoreHealth("/srv/lockbox.db", { fullQuietMs: 60_000, now: () => nowMs });
    const faults: StoreFault[] = [];
    health.onFault((fault) => faults.push(fault));
    for (const at of [0, 10_000, 50_000, 100_000]) {
      nowMs = at;
      health.report(new StoreFullError());
    }
    // Answers in between (reads, small writes that still fit) do not end it either.
    health.answered();
    nowMs = 159_000;
    health.report(new StoreFullError());
    expect(faults).toEqual([{ code: "STORAGE_FULL", store: "/srv/lockbox.db", message: expect.any(String) }]);
    nowMs = 219_001;
    health.report(new StoreFullError());
    expect(faults).toHaveLength(2);
  });

  it("reports an unreachable store once per outage: until a query answers again", () => {
    const health = new StoreHealth("PostgreSQL at db:5432/lockbox");
    const faults: StoreFault[] = [];
    health.onFault((fault) => faults.push(fault));
    health.report(new StoreUnavailableError());
    health.report(new StoreUnavailableError());
    health.answered();
    health.report(new StoreUnavailableError());
    expect(faults.map((fault) => fault.code)).toEqual(["UNAVAILABLE", "UNAVAILABLE"]);
  });
});
