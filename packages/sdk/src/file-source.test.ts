import { getEventListeners } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileSource } from "./file-source.js";

describe("FileSource.watchOnce", () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "lockbox-file-source-"));
    file = join(dir, "secrets.json");
    await writeFile(
      file,
      JSON.stringify({ Secrets: { A: { Type: "runtime", Value: "1", Scopes: ["web"] } } }),
    );
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("leaves no abort listener behind on the watch's one signal, look after look", async () => {
    const source = new FileSource(file, "LOCKBOX_SECRETS_FILE", undefined);
    const controller = new AbortController();
    await source.current();
    for (let look = 0; look < 3; look++) {
      expect(await source.watchOnce(30, controller.signal)).toEqual({
        changed: false,
        retryAfterMs: undefined,
      });
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    }
  });

  it("answers at once when aborted, and sees a changed file", async () => {
    const source = new FileSource(file, "LOCKBOX_SECRETS_FILE", undefined);
    await source.current();
    const controller = new AbortController();
    const pending = source.watchOnce(30, controller.signal);
    controller.abort();
    expect(await pending).toEqual({ changed: false, retryAfterMs: undefined });
    await writeFile(
      file,
      JSON.stringify({ Secrets: { A: { Type: "runtime", Value: "22", Scopes: ["web"] } } }),
    );
    expect((await source.watchOnce(30, new AbortController().signal)).changed).toBe(true);
  });
});
