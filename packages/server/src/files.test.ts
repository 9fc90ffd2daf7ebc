import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeDirectory } from "./files.js";

describe("makeDirectory", () => {
  it("creates missing parents with mode 0700 and accepts a directory that exists", () => {
    const root = mkdtempSync(join(tmpdir(), "lockbox-files-"));
    try {
      const deep = join(root, "a", "b", "c");
      makeDirectory(deep);
      expect(existsSync(deep)).toBe(true);
      expect(statSync(join(root, "a")).mode & 0o777).toBe(0o700);
      makeDirectory(deep);
      makeDirectory(root);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("throws at once where a parent refuses new entries (Node's recursive mkdir spins under /proc)", () => {
    if (!existsSync("/proc/self")) return;
    expect(() => makeDirectory("/proc/lockbox-no-such/dir")).toThrow(/ENOENT/);
  });

  it("throws ENOTDIR under a file", () => {
    const root = mkdtempSync(join(tmpdir(), "lockbox-files-"));
    try {
      const file = join(root, "file");
      writeFileSync(file, "x");
      expect(() => makeDirectory(join(file, "sub"))).toThrow(/ENOTDIR/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
