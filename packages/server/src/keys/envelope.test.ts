import { randomBytes, randomUUID } from "node:crypto";
import { isLockboxError } from "@lockbox/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  dataKeyFromBytes,
  ENVELOPE_VERSION,
  EnvelopeKind,
  encodeAssociatedData,
  IV_BYTES,
  openEnvelope,
  openValue,
  readEnvelopeHeader,
  sealEnvelope,
  sealValue,
  TAG_BYTES,
  type ValueBinding,
} from "./envelope.js";

const dataKey = dataKeyFromBytes(randomBytes(32));
const binding: ValueBinding = { secretId: randomUUID(), env: "live" };

/** Runs `open` and returns the LockboxError it throws; fails the test if it throws nothing else. */
function integrityFailure(open: () => unknown): Error {
  try {
    open();
  } catch (error) {
    expect(isLockboxError(error, "INTEGRITY_FAILED")).toBe(true);
    return error as Error;
  }
  throw new Error("expected INTEGRITY_FAILED, but the envelope opened");
}

const text = fc.oneof(fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }), fc.string());
const envName = fc.option(fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/), { nil: null });

describe("sealValue() / openValue()", () => {
  it("round-trips any well-formed string, including empty and multi-byte text", () => {
    fc.assert(
      fc.property(text, fc.uuid(), envName, (plaintext, secretId, env) => {
        const where = { secretId, env };
        expect(openValue(dataKey, sealValue(dataKey, plaintext, where), where)).toBe(plaintext);
      }),
      { numRuns: 300 },
    );
    for (const plaintext of ["", "é", "漢字", "😀 emoji", "a\u0000b", "x".repeat(100_000)]) {
      expect(openValue(dataKey, sealValue(dataKey, plaintext, binding), binding)).toBe(plaintext);
    }
  });

  it("writes the documented version-1 layout: version, kind, key id, IV, ciphertext, tag", () => {
    const plaintext = "héllo";
    const sealed = sealValue(dataKey, plaintext, binding);
    const keyIdLength = dataKey.id.length;
    expect(sealed[0]).toBe(ENVELOPE_VERSION);
    expect(sealed[1]).toBe(EnvelopeKind.secretValue);
    expect(sealed[2]).toBe(keyIdLength);
    expect(sealed.subarray(3, 3 + keyIdLength).toString("ascii")).toBe(dataKey.id);
    expect(sealed.length).toBe(3 + keyIdLength + IV_BYTES + Buffer.byteLength(plaintext) + TAG_BYTES);
    expect(readEnvelopeHeader(sealed)).toEqual({
      version: 1,
      kind: EnvelopeKind.secretValue,
      keyId: dataKey.id,
    });
  });

  it("seals the same value differently each time (fresh IV) and never stores it in clear", () => {
    const plaintext = "correct horse battery staple";
    const first = sealValue(dataKey, plaintext, binding);
    const second = sealValue(dataKey, plaintext, binding);
    expect(first.equals(second)).toBe(false);
    expect(first.includes(Buffer.from(plaintext))).toBe(false);
  });

  it("refuses a ciphertext moved to another secret", () => {
    const sealed = sealValue(dataKey, "v", binding);
    const error = integrityFailure(() => openValue(dataKey, sealed, { ...binding, secretId: randomUUID() }));
    expect(error.message).toContain("failed its integrity check: it was altered or moved from another row.");
  });

  it("refuses a ciphertext moved to another environment", () => {
    const sealed = sealValue(dataKey, "v", { ...binding, env: "live" });
    integrityFailure(() => openValue(dataKey, sealed, { ...binding, env: "test" }));
  });

  it("refuses a base value moved to an override and an override moved to the base", () => {
    const base = sealValue(dataKey, "v", { ...binding, env: null });
    const override = sealValue(dataKey, "v", { ...binding, env: "dev" });
    integrityFailure(() => openValue(dataKey, base, { ...binding, env: "dev" }));
    integrityFailure(() => openValue(dataKey, override, { ...binding, env: null }));
    // Even an (invalid) empty environment name is not the base value.
    integrityFailure(() => openValue(dataKey, base, { ...binding, env: "" }));
  });

  it("refuses to open an old ciphertext in a secret recreated with the same name (new UUID)", () => {
    const deleted = { secretId: randomUUID(), env: null };
    const sealed = sealValue(dataKey, "old value", deleted);
    const recreated = { secretId: randomUUID(), env: null };
    integrityFailure(() => openValue(dataKey, sealed, recreated));
  });

  it("refuses a ciphertext sealed under another owner's data key, naming both key ids", () => {
    const otherKey = dataKeyFromBytes(randomBytes(32));
    const sealed = sealValue(otherKey, "v", binding);
    const error = integrityFailure(() => openValue(dataKey, sealed, binding));
    expect(error.message).toContain(`sealed by key '${otherKey.id}', not by key '${dataKey.id}'`);
  });

  it("says which row failed, and never includes the value or key bytes in the message", () => {
    const plaintext = "super-secret-value";
    const sealed = sealValue(dataKey, plaintext, binding);
    sealed[sealed.length - 1] = (sealed[sealed.length - 1] ?? 0) ^ 1;
    const error = integrityFailure(() => openValue(dataKey, sealed, binding));
    expect(error.message).toBe(
      `Secret value for secret '${binding.secretId}' (environment 'live') failed its integrity check: ` +
        "it was altered or moved from another row.",
    );
    for (const leak of [plaintext, dataKey.key.toString("hex"), dataKey.key.toString("base64")]) {
      expect(error.message).not.toContain(leak);
    }
    const base = { ...binding, env: null };
    const baseError = integrityFailure(() => openValue(dataKey, sealed, base));
    expect(baseError.message).toContain(`Secret value for secret '${binding.secretId}' (base value)`);
  });

  it("refuses an envelope with any single bit flipped, anywhere", () => {
    fc.assert(
      fc.property(text, fc.nat(), (plaintext, position) => {
        const sealed = sealValue(dataKey, plaintext, binding);
        const bit = position % (sealed.length * 8);
        sealed[bit >> 3] = (sealed[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        integrityFailure(() => openValue(dataKey, sealed, binding));
      }),
      { numRuns: 500 },
    );
  });

  it("refuses every truncation of an envelope, and an envelope with bytes appended", () => {
    const sealed = sealValue(dataKey, "a value of some length", binding);
    for (let length = 0; length < sealed.length; length++) {
      integrityFailure(() => openValue(dataKey, sealed.subarray(0, length), binding));
    }
    integrityFailure(() => openValue(dataKey, Buffer.concat([sealed, Buffer.from([0])]), binding));
  });

  it("refuses an unknown envelope version with a message naming both versions", () => {
    const sealed = sealValue(dataKey, "v", binding);
    sealed[0] = 2;
    const error = integrityFailure(() => openValue(dataKey, sealed, binding));
    expect(error.message).toContain("envelope format version 2, but this server reads only version 1");
  });

  it("refuses a wrapped data key presented as a secret value (the kind is authenticated)", () => {
    const wrapped = sealEnvelope({
      kind: EnvelopeKind.dataKey,
      key: dataKey,
      plaintext: Buffer.from("v"),
      context: ["secret value", binding.secretId, "override", "live"],
    });
    const error = integrityFailure(() => openValue(dataKey, wrapped, binding));
    expect(error.message).toContain("it is a wrapped data key, not a secret value");
  });

  it("opens a value sealed into a sub-array view of a larger buffer", () => {
    const sealed = sealValue(dataKey, "view", binding);
    const padded = Buffer.concat([Buffer.from("prefix"), sealed, Buffer.from("suffix")]);
    const view = new Uint8Array(padded.buffer, padded.byteOffset + 6, sealed.length);
    expect(openValue(dataKey, view, binding)).toBe("view");
  });

  it("rejects a value with a lone surrogate instead of silently changing it", () => {
    expect(() => sealValue(dataKey, "a\uD800b", binding)).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED" }),
    );
  });
});

describe("encodeAssociatedData()", () => {
  it("gives distinct encodings to distinct field lists", () => {
    const fields = fc.array(fc.oneof(fc.string(), fc.uint8Array({ maxLength: 8 })), { maxLength: 5 });
    fc.assert(
      fc.property(fields, fields, (a, b) => {
        const same = encodeAssociatedData(a).equals(encodeAssociatedData(b));
        const normalise = (list: (string | Uint8Array)[]) =>
          list.map((field) =>
            Buffer.from(typeof field === "string" ? Buffer.from(field) : field).toString("hex"),
          );
        expect(same).toBe(JSON.stringify(normalise(a)) === JSON.stringify(normalise(b)));
      }),
      { numRuns: 500 },
    );
    expect(encodeAssociatedData(["ab", "c"]).equals(encodeAssociatedData(["a", "bc"]))).toBe(false);
    expect(encodeAssociatedData([""]).equals(encodeAssociatedData([]))).toBe(false);
  });

  it("starts with the length-prefixed domain-separation label", () => {
    const encoded = encodeAssociatedData(["x"]);
    const label = "lockbox envelope aad v1";
    expect(encoded.readUInt32BE(0)).toBe(label.length);
    expect(encoded.subarray(4, 4 + label.length).toString()).toBe(label);
    expect(encoded.readUInt32BE(4 + label.length)).toBe(1);
    expect(encoded.subarray(8 + label.length).toString()).toBe("x");
  });
});

describe("dataKeyFromBytes()", () => {
  it("derives a stable 16-hex-digit id that differs between keys and is not the key", () => {
    const bytes = randomBytes(32);
    const key = dataKeyFromBytes(bytes);
    expect(key.id).toMatch(/^[0-9a-f]{16}$/);
    expect(dataKeyFromBytes(bytes).id).toBe(key.id);
    expect(dataKeyFromBytes(randomBytes(32)).id).not.toBe(key.id);
    expect(bytes.toString("hex")).not.toContain(key.id);
  });

  it("copies the key bytes, so changing the source buffer does not change the data key", () => {
    const bytes = randomBytes(32);
    const key = dataKeyFromBytes(bytes);
    const sealed = sealValue(key, "v", binding);
    bytes.fill(0);
    expect(openValue(key, sealed, binding)).toBe("v");
  });

  it("rejects key material that is not 32 bytes", () => {
    expect(() => dataKeyFromBytes(randomBytes(16))).toThrow(expect.objectContaining({ code: "INTERNAL" }));
  });
});

describe("openEnvelope()", () => {
  it("uses the caller's subject and tamper reason in its messages", () => {
    const sealed = sealEnvelope({
      kind: EnvelopeKind.dataKey,
      key: dataKey,
      plaintext: randomBytes(32),
      context: ["a"],
    });
    const error = integrityFailure(() =>
      openEnvelope({
        kind: EnvelopeKind.dataKey,
        key: dataKey,
        sealed,
        context: ["b"],
        subject: "Thing 'x'",
        tamperedReason: "it was moved",
      }),
    );
    expect(error.message).toBe("Thing 'x' failed its integrity check: it was moved.");
  });
});
