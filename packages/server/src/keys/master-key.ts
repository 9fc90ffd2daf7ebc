import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { dirname, resolve } from "node:path";
import { LockboxError } from "@lockbox/core";
import { makeDirectory } from "../files.js";
import { MASTER_KEY_BYTES } from "./keyring.js";

// Invariants: no message, warning or return value other than the key buffers holds key material; a
// created key file is written with mode 0600, flushed to disk, and never overwritten.

/** Options of {@link loadMasterKeys}. */
export interface LoadMasterKeysOptions {
  /** The process environment: `LOCKBOX_MASTER_KEY` and `LOCKBOX_PREVIOUS_MASTER_KEYS` are read. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** `--master-key-file`: a file holding the base64 of the current key. Excludes `LOCKBOX_MASTER_KEY`. */
  readonly masterKeyFile?: string;
  /** Embedded mode's key file (e.g. `./data/master.key`), used or created when `createIfMissing`. */
  readonly defaultKeyFile?: string;
  /** Whether `defaultKeyFile` may be used, and created when missing, if no key is configured. */
  readonly createIfMissing: boolean;
}

/** The master keys a server starts with, and where the current one came from. */
export interface LoadedMasterKeys {
  /** The current master key (32 bytes): wraps new and re-wrapped data keys. */
  readonly current: Buffer;
  /** Keys from `LOCKBOX_PREVIOUS_MASTER_KEYS` (32 bytes each), in the order given; may be empty. */
  readonly previous: Buffer[];
  /** `env`: `LOCKBOX_MASTER_KEY`; `file`: a key file read; `created`: `defaultKeyFile` was just created. */
  readonly source: "env" | "file" | "created";
  /** The absolute path of the key file created by this call; the caller says to back it up. */
  readonly createdFile?: string;
  /** Problems that do not stop start-up (e.g. a key file readable by others), to print as warnings. */
  readonly warnings: string[];
}

/** A master key read from a file, with warnings about the file (see {@link readMasterKeyFile}). */
export interface MasterKeyFile {
  readonly key: Buffer;
  readonly warnings: string[];
}

const GENERATE_HINT = "Generate one with: openssl rand -base64 32";
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;
const MAX_KEY_FILE_BYTES = 4096;

/**
 * Loads the master keys at start-up. The current key comes from, in order: `LOCKBOX_MASTER_KEY`
 * (base64 of exactly 32 bytes) or `masterKeyFile` (giving both is an error); otherwise, when
 * `createIfMissing` and `defaultKeyFile` are set, that file, which is created (directories too, mode
 * 0600, never overwriting a concurrent creator) with a random key if it does not exist.
 * `LOCKBOX_PREVIOUS_MASTER_KEYS` holds comma-separated base64 keys; empty entries are ignored.
 * Key files are trimmed of surrounding whitespace; one readable by group or others gives a warning
 * rather than an error, since mounted secret volumes are often mode 0644.
 *
 * @throws LockboxError `VALIDATION_FAILED` when no key is configured, both a variable and a file are
 *   given, a key is not base64 or not 32 bytes, or a key file cannot be read or created. The message
 *   names the variable or file and the fix, never the key material.
 */
export function loadMasterKeys(options: LoadMasterKeysOptions): LoadedMasterKeys {
  const { env, masterKeyFile, defaultKeyFile } = options;
  const envKey = env.LOCKBOX_MASTER_KEY;
  if (envKey !== undefined && masterKeyFile !== undefined) {
    throw new LockboxError(
      "VALIDATION_FAILED",
      "Both LOCKBOX_MASTER_KEY and --master-key-file are set: give the master key only one way.",
    );
  }
  const previous = parsePreviousKeys(env.LOCKBOX_PREVIOUS_MASTER_KEYS);
  if (envKey !== undefined) {
    return { current: decodeMasterKey(envKey, "LOCKBOX_MASTER_KEY"), previous, source: "env", warnings: [] };
  }
  if (masterKeyFile !== undefined) {
    const file = readMasterKeyFile(masterKeyFile, "--master-key-file");
    return { current: file.key, previous, source: "file", warnings: file.warnings };
  }
  if (options.createIfMissing && defaultKeyFile !== undefined) {
    const path = resolve(defaultKeyFile);
    const created = !existsSync(path) && createKeyFile(path);
    const file = readMasterKeyFile(path);
    return created
      ? { current: file.key, previous, source: "created", createdFile: path, warnings: file.warnings }
      : { current: file.key, previous, source: "file", warnings: file.warnings };
  }
  throw new LockboxError(
    "VALIDATION_FAILED",
    "No master key is configured: set LOCKBOX_MASTER_KEY to the base64 encoding of exactly 32 bytes, " +
      `or pass --master-key-file=PATH. ${GENERATE_HINT}`,
  );
}

/**
 * Reads a master key file: the base64 of exactly 32 bytes, surrounding whitespace ignored (also for
 * `keys:rotate --new-master-key-file`). Warns when the file is accessible by group or others.
 * `option`, the command-line option that named the file, is named when the file does not exist.
 *
 * @throws LockboxError `VALIDATION_FAILED` naming the file when it is missing, unreadable, too large,
 *   not base64, or not 32 bytes.
 */
export function readMasterKeyFile(path: string, option?: string): MasterKeyFile {
  const label = `Master key file '${path}'`;
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw fileError(label, error, option);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new LockboxError("VALIDATION_FAILED", `${label} is not a regular file: check the path.`);
    }
    if (stat.size > MAX_KEY_FILE_BYTES) {
      throw new LockboxError(
        "VALIDATION_FAILED",
        `${label} is ${stat.size} bytes, too large to be a master key file: check the path.`,
      );
    }
    const warnings: string[] = [];
    if (process.platform !== "win32" && (stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
      warnings.push(
        `${label} can be accessed by group or others (mode ${mode}): restrict it with: chmod 600 '${path}'`,
      );
    }
    const text = readFileSync(fd, "utf8");
    return { key: decodeMasterKey(text, `The content of master key file '${path}'`), warnings };
  } catch (error) {
    throw error instanceof LockboxError ? error : fileError(label, error, option);
  } finally {
    closeSync(fd);
  }
}

/**
 * Decodes a base64 master key (standard alphabet, padding optional, surrounding whitespace ignored).
 *
 * @param label what holds the key, starting the error message, e.g. `LOCKBOX_MASTER_KEY`.
 * @throws LockboxError `VALIDATION_FAILED` when `text` is empty, not canonical base64, or does not
 *   decode to exactly 32 bytes; the message names `label` and how to generate a key, never the text.
 */
export function decodeMasterKey(text: string, label: string): Buffer {
  const trimmed = text.trim();
  const expectation = `the base64 encoding of exactly ${MASTER_KEY_BYTES} bytes`;
  if (trimmed === "") {
    throw new LockboxError(
      "VALIDATION_FAILED",
      `${label} is empty: it must be ${expectation}. ${GENERATE_HINT}`,
    );
  }
  const bytes = Buffer.from(trimmed, "base64");
  const unpadded = trimmed.replace(/=+$/, "");
  if (!BASE64_PATTERN.test(trimmed) || bytes.toString("base64").replace(/=+$/, "") !== unpadded) {
    bytes.fill(0);
    throw new LockboxError(
      "VALIDATION_FAILED",
      `${label} is not valid base64: it must be ${expectation}. ${GENERATE_HINT}`,
    );
  }
  if (bytes.length !== MASTER_KEY_BYTES) {
    const length = bytes.length;
    bytes.fill(0);
    throw new LockboxError(
      "VALIDATION_FAILED",
      `${label} must be ${expectation} (got ${length} bytes). ${GENERATE_HINT}`,
    );
  }
  return bytes;
}

function parsePreviousKeys(value: string | undefined): Buffer[] {
  if (value === undefined) {
    return [];
  }
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry, index) => decodeMasterKey(entry, `LOCKBOX_PREVIOUS_MASTER_KEYS entry ${index + 1}`));
}

/** Creates `path` with a random key; false when another process created it first. */
function createKeyFile(path: string): boolean {
  const label = `Master key file '${path}'`;
  let fd: number;
  try {
    makeDirectory(dirname(path));
    fd = openSync(path, "wx", 0o600);
  } catch (error) {
    if (errorCode(error) === "EEXIST") {
      return false;
    }
    throw createError(label, error);
  }
  const key = randomBytes(MASTER_KEY_BYTES);
  try {
    writeSync(fd, `${key.toString("base64")}\n`);
    // The database is about to hold data only this key opens: it must be on disk first.
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw createError(label, error);
  } finally {
    key.fill(0);
  }
  closeSync(fd);
  syncDirectory(dirname(path));
  return true;
}

function syncDirectory(path: string): void {
  try {
    const fd = openSync(path, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some platforms and file systems cannot fsync a directory; the file itself is synced.
  }
}

/** `option`: the command-line option that named the file, if one did. */
function fileError(label: string, error: unknown, option?: string): LockboxError {
  const code = errorCode(error);
  const reason =
    code === "ENOENT"
      ? `does not exist${option === undefined ? "" : `: check the path given to ${option}`}`
      : code === "EACCES" || code === "EPERM"
        ? "cannot be read by this user (permission denied)"
        : code === "EISDIR"
          ? "is a directory, not a key file: check the path"
          : `cannot be read (${code ?? "unknown error"})`;
  return new LockboxError("VALIDATION_FAILED", `${label} ${reason}.`, { cause: error });
}

function createError(label: string, error: unknown): LockboxError {
  return new LockboxError(
    "VALIDATION_FAILED",
    `${label} could not be created (${errorCode(error) ?? "unknown error"}): check that its directory is ` +
      "writable, or set LOCKBOX_MASTER_KEY or --master-key-file.",
    { cause: error },
  );
}

function errorCode(error: unknown): string | undefined {
  return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}
