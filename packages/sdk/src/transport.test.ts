import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { keptAliveTransport, NoAnswerInTime } from "./transport.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the watch's kept-alive transport", () => {
  it("settles a request node:http refuses outright, and its timer never fires afterwards", async () => {
    const { transport, close } = keptAliveTransport();
    // A header value node:http will not send: refused before any connection.
    await expect(transport("http://127.0.0.1:1/site/secrets", { "x-bad": "\u0100" }, 50)).rejects.toThrow(
      /Invalid character/,
    );
    // Past the request's timeout: an uncaught error here would fail the test run.
    await sleep(100);
    close();
  });

  it("fails with NoAnswerInTime when the answer does not come, and ends requests in flight on close()", async () => {
    const server = createServer(() => {
      // Never answers.
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/site/secrets`;
    try {
      const { transport, close } = keptAliveTransport();
      const late = transport(url, {}, 100);
      await expect(late).rejects.toBeInstanceOf(NoAnswerInTime);
      const pending = transport(url, {}, 60_000);
      await sleep(50);
      close();
      await expect(pending).rejects.toThrow("the watch was stopped");
      await expect(transport(url, {}, 60_000)).rejects.toThrow("the watch was stopped");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("ends requests in flight when the watch's signal aborts", async () => {
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/site/secrets`;
    try {
      const stop = new AbortController();
      const { transport } = keptAliveTransport(stop.signal);
      const pending = transport(url, {}, 60_000);
      await sleep(50);
      stop.abort();
      await expect(pending).rejects.toThrow("the watch was stopped");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
