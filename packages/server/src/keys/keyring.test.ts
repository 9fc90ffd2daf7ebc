import { randomBytes, randomUUID } from "node:crypto";
import { inspect } from "node:util";
import { isLockboxError, type OwnerRef } from "@lockbox/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { openValue, sealValue } from "./envelope.js";
import { Keyring, keyCheckValue, masterKeyId } from "./keyring.js";

const site: OwnerRef = { kind: "site", id: randomUUID() };

function thrown(run: () => unknown): Error & { code?: string } {
  try {
    run();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected an error");
}

describe("masterKeyId() and keyCheckValue()", () => {
  it("derive stable, distinct, non-revealing values from a master key", () => {
    const key = randomBytes(32);
    const id = masterKeyId(key);
    const kcv = keyCheckValue(key);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(masterKeyId(key)).toBe(id);
    expect(keyCheckValue(key)).toBe(kcv);
    expect(Buffer.from(kcv, "base64")).toHaveLength(32);
    expect(masterKeyId(randomBytes(32))).not.toBe(id);
    expect(Buffer.from(kcv, "base64").toString("hex")).not.toContain(id);
    expect(key.toString("hex")).not.toContain(id);
  });

  it("reject keys that are not 32 bytes", () => {
    expect(thrown(() => masterKeyId(randomBytes(31))).code).toBe("VALIDATION_FAILED");
    expect(thrown(() => keyCheckValue(randomBytes(33))).code).toBe("VALIDATION_FAILED");
  });
});

describe("Keyring.fromKeys()", () => {
  it("loads the current key first and de-duplicates previous keys", () => {
    const current = randomBytes(32);
    const old = randomBytes(32);
    const ring = Keyring.fromKeys(current, [old, current, old]);
    expect(ring.currentKeyId).toBe(masterKeyId(current));
    expect(ring.keyIds).toEqual([masterKeyId(current), masterKeyId(old)]);
    expect(ring.has(masterKeyId(old))).toBe(true);
    expect(ring.has(masterKeyId(randomBytes(32)))).toBe(false);
  });

  it("rejects a current or previous key that is not 32 bytes, saying which", () => {
    const badCurrent = thrown(() => Keyring.fromKeys(randomBytes(16)));
    expect(badCurrent.code).toBe("VALIDATION_FAILED");
    expect(badCurrent.message).toBe("The master key must be exactly 32 bytes (got 16 bytes).");
    const badPrevious = thrown(() => Keyring.fromKeys(randomBytes(32), [randomBytes(32), randomBytes(8)]));
    expect(badPrevious.message).toBe("Previous master key 2 must be exactly 32 bytes (got 8 bytes).");
  });

  it("copies the keys, so wiping the caller's buffer does not break the ring", () => {
    const current = randomBytes(32);
    const ring = Keyring.fromKeys(current);
    const { key, wrapped } = ring.generateDataKey(site);
    current.fill(0);
    expect(ring.unwrapDataKey(site, wrapped).id).toBe(key.id);
  });

  it("shows only key ids when inspected or serialised", () => {
    const current = randomBytes(32);
    const ring = Keyring.fromKeys(current);
    for (const shown of [inspect(ring, { showHidden: true }), JSON.stringify(ring), String(ring)]) {
      expect(shown).not.toContain(current.toString("hex"));
      expect(shown).not.toContain(current.toString("base64"));
    }
    expect(inspect(ring)).toContain(ring.currentKeyId);
  });
});

describe("Keyring data keys", () => {
  it("generates a data key that unwraps to the same key for its owner and seals values", () => {
    const ring = Keyring.fromKeys(randomBytes(32));
    const { key, wrapped } = ring.generateDataKey(site);
    expect(ring.wrappedKeyId(wrapped)).toBe(ring.currentKeyId);
    const unwrapped = ring.unwrapDataKey(site, wrapped);
    expect(unwrapped.id).toBe(key.id);
    expect(unwrapped.key.equals(key.key)).toBe(true);
    const where = { secretId: randomUUID(), env: null };
    expect(openValue(unwrapped, sealValue(key, "value", where), where)).toBe("value");
  });

  it("generates a different data key for every owner", () => {
    const ring = Keyring.fromKeys(randomBytes(32));
    expect(ring.generateDataKey(site).key.id).not.toBe(ring.generateDataKey(site).key.id);
  });

  it("refuses a wrapped data key moved to another owner, of the same or the other kind", () => {
    const ring = Keyring.fromKeys(randomBytes(32));
    const { wrapped } = ring.generateDataKey(site);
    const otherSite: OwnerRef = { kind: "site", id: randomUUID() };
    const error = thrown(() => ring.unwrapDataKey(otherSite, wrapped));
    expect(error.code).toBe("INTEGRITY_FAILED");
    expect(error.message).toBe(
      `Data key of site '${otherSite.id}' failed its integrity check: it was altered or moved from another owner.`,
    );
    expect(thrown(() => ring.unwrapDataKey({ kind: "org", id: site.id }, wrapped)).code).toBe(
      "INTEGRITY_FAILED",
    );
  });

  it("refuses a wrapped data key with any single bit flipped", () => {
    const ring = Keyring.fromKeys(randomBytes(32));
    const { wrapped } = ring.generateDataKey(site);
    fc.assert(
      fc.property(fc.nat({ max: wrapped.length * 8 - 1 }), (bit) => {
        const copy = Buffer.from(wrapped);
        copy[bit >> 3] = (copy[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        expect(
          isLockboxError(
            thrown(() => ring.unwrapDataKey(site, copy)),
            "INTEGRITY_FAILED",
          ),
        ).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("unwraps with a previous key after the current key changed", () => {
    const oldKey = randomBytes(32);
    const { key, wrapped } = Keyring.fromKeys(oldKey).generateDataKey(site);
    const rotated = Keyring.fromKeys(randomBytes(32), [oldKey]);
    expect(rotated.unwrapDataKey(site, wrapped).key.equals(key.key)).toBe(true);
  });

  it("names the missing master key when the key that wrapped a data key is not loaded", () => {
    const oldKey = randomBytes(32);
    const { wrapped } = Keyring.fromKeys(oldKey).generateDataKey(site);
    const error = thrown(() => Keyring.fromKeys(randomBytes(32)).unwrapDataKey(site, wrapped));
    expect(error.code).toBe("INTEGRITY_FAILED");
    expect(error.message).toBe(
      `Data key of site '${site.id}' is wrapped by master key '${masterKeyId(oldKey)}', which is not loaded: ` +
        "start the server with that key in LOCKBOX_PREVIOUS_MASTER_KEYS.",
    );
  });

  it("rewraps a data key under the current key without changing the data key", () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const { key, wrapped } = Keyring.fromKeys(oldKey).generateDataKey(site);
    const rewrapped = Keyring.fromKeys(newKey, [oldKey]).rewrap(site, wrapped);
    const newOnly = Keyring.fromKeys(newKey);
    expect(newOnly.wrappedKeyId(rewrapped)).toBe(masterKeyId(newKey));
    expect(newOnly.unwrapDataKey(site, rewrapped).key.equals(key.key)).toBe(true);
  });

  it("refuses to read the key id of a truncated wrapped key", () => {
    const ring = Keyring.fromKeys(randomBytes(32));
    const { wrapped } = ring.generateDataKey(site);
    expect(thrown(() => ring.wrappedKeyId(wrapped.subarray(0, 10))).code).toBe("INTEGRITY_FAILED");
  });
});

describe("Keyring.verifyKeyCheck()", () => {
  it("passes for the key the database was set up with, also as a previous key", () => {
    const key = randomBytes(32);
    const stored = Keyring.fromKeys(key).currentKeyCheck();
    expect(stored).toEqual({ keyId: masterKeyId(key), kcv: keyCheckValue(key) });
    expect(() => Keyring.fromKeys(key).verifyKeyCheck(stored)).not.toThrow();
    expect(() => Keyring.fromKeys(randomBytes(32), [key]).verifyKeyCheck(stored)).not.toThrow();
  });

  it("stops start-up with a clear message naming the expected key id when the key is wrong", () => {
    const right = randomBytes(32);
    const wrong = randomBytes(32);
    const ring = Keyring.fromKeys(wrong);
    const error = thrown(() => ring.verifyKeyCheck({ keyId: masterKeyId(right), kcv: keyCheckValue(right) }));
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toMatch(/^The master key does not match this database: /);
    expect(error.message).toContain(`master key '${masterKeyId(right)}'`);
    expect(error.message).toContain(`'${masterKeyId(wrong)}'`);
    for (const key of [right, wrong]) {
      expect(error.message).not.toContain(key.toString("base64"));
      expect(error.message).not.toContain(key.toString("hex"));
    }
  });

  it("fails when the stored check value does not match the loaded key with that id", () => {
    const key = randomBytes(32);
    const ring = Keyring.fromKeys(key);
    for (const kcv of [keyCheckValue(randomBytes(32)), "", "not base64!", undefined as unknown as string]) {
      const error = thrown(() => ring.verifyKeyCheck({ keyId: ring.currentKeyId, kcv }));
      expect(error.code).toBe("VALIDATION_FAILED");
      expect(error.message).toMatch(/^The master key does not match this database: /);
    }
    const malformed = JSON.parse('{"keyId": 7}') as { keyId: string; kcv: string };
    expect(thrown(() => ring.verifyKeyCheck(malformed)).code).toBe("VALIDATION_FAILED");
  });
});
