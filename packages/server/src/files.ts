import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";

/**
 * Creates `path` and its missing parents (mode 0700 by default), one level at a time. Node's own
 * `mkdirSync(path, { recursive: true })` never returns when a parent refuses new entries with
 * ENOENT (a path under `/proc`): it retries forever. Here the first refusal is thrown, with its
 * code (ENOENT, EACCES, ENOTDIR …) and path.
 */
export function makeDirectory(path: string, mode = 0o700): void {
  const missing: string[] = [];
  for (let dir = resolve(path); !existsSync(dir); dir = dirname(dir)) {
    missing.push(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing.reverse()) mkdirSync(dir, { mode });
}
