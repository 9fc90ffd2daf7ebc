import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A small file system of the test's own, to fill up. */
export interface SmallFilesystem {
  /** Where it is mounted. */
  readonly dir: string;
  /** Unmounts it and removes the mount point. */
  destroy(): Promise<void>;
}

/**
 * Mounts a tmpfs of `sizeBytes` on a new temporary folder, so a test can fill a disk for real.
 * Needs root (or CAP_SYS_ADMIN): resolves undefined where mounting is not allowed, and the caller
 * falls back to an injected limit (SQLite's `PRAGMA max_page_count`, which fails with SQLITE_FULL
 * just as a full disk does).
 */
export async function mountSmallFilesystem(sizeBytes: number): Promise<SmallFilesystem | undefined> {
  const dir = mkdtempSync(join(tmpdir(), "lockbox-small-fs-"));
  try {
    await run("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes},mode=0700`, "tmpfs", dir]);
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  let destroyed = false;
  return {
    dir,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await run("umount", [dir]).catch(() => run("umount", ["-l", dir]));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
