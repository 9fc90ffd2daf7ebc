import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeMasterKey, loadMasterKeys, readMasterKeyFile } from "./master-key.js";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "lockbox-master-key-"));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function keyFile(name: string, content: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
  return path;
}

function thrown(run: () => unknown): Error & { code?: string } {
  try {
    run();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected an error");
}

describe("loadMasterKeys()", () => {
  it("reads the current key from LOCKBOX_MASTER_KEY, ignoring surrounding whitespace", () => {
    const key = randomBytes(32);
    const loaded = loadMasterKeys({
      env: { LOCKBOX_MASTER_KEY: ` ${key.toString("base64")}\n` },
      createIfMissing: false,
    });
    expect(loaded.current.equals(key)).toBe(true);
    expect(loaded).toMatchObject({ previous: [], source: "env", warnings: [] });
    expect(loaded.createdFile).toBeUndefined();
  });

  it("reads comma-separated previous keys from LOCKBOX_PREVIOUS_MASTER_KEYS, in order", () => {
    const [current, first, second] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const loaded = loadMasterKeys({
      env: {
        LOCKBOX_MASTER_KEY: current.toString("base64"),
        LOCKBOX_PREVIOUS_MASTER_KEYS: ` ${first.toString("base64")} ,, ${second.toString("base64").replace(/=+$/, "")},`,
      },
      createIfMissing: false,
    });
    expect(loaded.previous.map((key) => key.toString("hex"))).toEqual([
      first.toString("hex"),
      second.toString("hex"),
    ]);
  });

  it("treats an empty LOCKBOX_PREVIOUS_MASTER_KEYS as no previous keys", () => {
    const loaded = loadMasterKeys({
      env: { LOCKBOX_MASTER_KEY: randomBytes(32).toString("base64"), LOCKBOX_PREVIOUS_MASTER_KEYS: "" },
      createIfMissing: false,
    });
    expect(loaded.previous).toEqual([]);
  });

  it("names the bad entry of LOCKBOX_PREVIOUS_MASTER_KEYS", () => {
    const error = thrown(() =>
      loadMasterKeys({
        env: {
          LOCKBOX_MASTER_KEY: randomBytes(32).toString("base64"),
          LOCKBOX_PREVIOUS_MASTER_KEYS: `${randomBytes(32).toString("base64")},${randomBytes(16).toString("base64")}`,
        },
        createIfMissing: false,
      }),
    );
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toContain("LOCKBOX_PREVIOUS_MASTER_KEYS entry 2 must be");
  });

  it("explains a LOCKBOX_MASTER_KEY of the wrong length without echoing it", () => {
    const short = randomBytes(16).toString("base64");
    const error = thrown(() =>
      loadMasterKeys({ env: { LOCKBOX_MASTER_KEY: short }, createIfMissing: false }),
    );
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toBe(
      "LOCKBOX_MASTER_KEY must be the base64 encoding of exactly 32 bytes (got 16 bytes). " +
        "Generate one with: openssl rand -base64 32",
    );
  });

  it("explains a LOCKBOX_MASTER_KEY that is not base64 without echoing it", () => {
    for (const value of ["this is not base64!", `${randomBytes(32).toString("hex")}`, "", "   "]) {
      const error = thrown(() =>
        loadMasterKeys({ env: { LOCKBOX_MASTER_KEY: value }, createIfMissing: false }),
      );
      expect(error.code).toBe("VALIDATION_FAILED");
      expect(error.message).toMatch(/^LOCKBOX_MASTER_KEY (is not valid base64|is empty|must be)/);
      expect(error.message).toContain("openssl rand -base64 32");
      if (value.trim() !== "") expect(error.message).not.toContain(value);
    }
  });

  it("reads the current key from a key file, trimming whitespace, without warnings at mode 0600", () => {
    const key = randomBytes(32);
    const path = keyFile("master.key", `\n${key.toString("base64")}\n\n`);
    const loaded = loadMasterKeys({ env: {}, masterKeyFile: path, createIfMissing: false });
    expect(loaded.current.equals(key)).toBe(true);
    expect(loaded).toMatchObject({ source: "file", warnings: [] });
  });

  it("warns, and still starts, when the key file is readable by group or others", () => {
    const path = keyFile("master.key", randomBytes(32).toString("base64"), 0o644);
    const loaded = loadMasterKeys({ env: {}, masterKeyFile: path, createIfMissing: false });
    expect(loaded.warnings).toEqual([
      `Master key file '${path}' can be accessed by group or others (mode 0644): restrict it with: chmod 600 '${path}'`,
    ]);
  });

  it("names the key file and the problem when the file is missing, a directory, or holds a bad key", () => {
    const missing = join(dir, "nope.key");
    expect(
      thrown(() => loadMasterKeys({ env: {}, masterKeyFile: missing, createIfMissing: true })).message,
    ).toBe(`Master key file '${missing}' does not exist: check the path given to --master-key-file.`);
    expect(thrown(() => loadMasterKeys({ env: {}, masterKeyFile: dir, createIfMissing: false })).code).toBe(
      "VALIDATION_FAILED",
    );
    const short = keyFile("short.key", randomBytes(24).toString("base64"));
    const error = thrown(() => loadMasterKeys({ env: {}, masterKeyFile: short, createIfMissing: false }));
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toBe(
      `The content of master key file '${short}' must be the base64 encoding of exactly 32 bytes (got 24 bytes). ` +
        "Generate one with: openssl rand -base64 32",
    );
  });

  it("refuses both LOCKBOX_MASTER_KEY and a key file", () => {
    const path = keyFile("master.key", randomBytes(32).toString("base64"));
    const error = thrown(() =>
      loadMasterKeys({
        env: { LOCKBOX_MASTER_KEY: randomBytes(32).toString("base64") },
        masterKeyFile: path,
        createIfMissing: false,
      }),
    );
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toContain("Both LOCKBOX_MASTER_KEY and --master-key-file are set");
  });

  it("creates the default key file with mode 0600 (and its directories) on first start, then reuses it", () => {
    const path = join(dir, "data", "nested", "master.key");

    const first = loadMasterKeys({ env: {}, defaultKeyFile: path, createIfMissing: true });

    expect(first).toMatchObject({ source: "created", createdFile: path, warnings: [] });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(path, "utf8").trim(), "base64").equals(first.current)).toBe(true);
    expect(first.current).toHaveLength(32);

    const second = loadMasterKeys({ env: {}, defaultKeyFile: path, createIfMissing: true });
    expect(second.source).toBe("file");
    expect(second.createdFile).toBeUndefined();
    expect(second.current.equals(first.current)).toBe(true);
  });

  it("prefers a configured key over the default key file, and creates nothing", () => {
    const path = join(dir, "master.key");
    const loaded = loadMasterKeys({
      env: { LOCKBOX_MASTER_KEY: randomBytes(32).toString("base64") },
      defaultKeyFile: path,
      createIfMissing: true,
    });
    expect(loaded.source).toBe("env");
    expect(() => statSync(path)).toThrow();
  });

  it("fails with the fix when no key is configured and creating one is not allowed", () => {
    const path = join(dir, "master.key");
    const error = thrown(() => loadMasterKeys({ env: {}, defaultKeyFile: path, createIfMissing: false }));
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toContain("No master key is configured: set LOCKBOX_MASTER_KEY");
    expect(error.message).toContain("--master-key-file");
    expect(() => statSync(path)).toThrow();
  });
});

describe("decodeMasterKey()", () => {
  it("accepts padded and unpadded base64 of 32 bytes", () => {
    const key = randomBytes(32);
    expect(decodeMasterKey(key.toString("base64"), "k").equals(key)).toBe(true);
    expect(decodeMasterKey(key.toString("base64").replace(/=+$/, ""), "k").equals(key)).toBe(true);
  });

  it("rejects base64url and non-canonical encodings rather than guessing", () => {
    const key = Buffer.alloc(32, 0xfb);
    expect(thrown(() => decodeMasterKey(key.toString("base64url"), "k")).message).toContain(
      "not valid base64",
    );
    // The last character carries unused bits that a canonical encoding leaves at zero.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const canonical = key.toString("base64");
    const last = alphabet.indexOf(canonical.charAt(42));
    const sloppy = `${canonical.slice(0, 42)}${alphabet.charAt(last | 1)}=`;
    expect(Buffer.from(sloppy, "base64").equals(key)).toBe(true);
    expect(thrown(() => decodeMasterKey(sloppy, "k")).message).toContain("not valid base64");
  });
});

describe("readMasterKeyFile()", () => {
  it("rejects a file too large to be a key file", () => {
    const path = keyFile("big.key", "A".repeat(10_000));
    expect(thrown(() => readMasterKeyFile(path)).message).toContain("too large to be a master key file");
  });
});
