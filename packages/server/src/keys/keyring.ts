import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { inspect } from "node:util";
import { LockboxError, type OwnerRef } from "@lockbox/core";
import {
  type DataKey,
  dataKeyFromBytes,
  deriveKeyId,
  type EnvelopeKey,
  EnvelopeKind,
  KEY_BYTES,
  openEnvelope,
  readEnvelopeHeader,
  sealEnvelope,
} from "./envelope.js";

// Invariants (see README.md in this folder):
// - Master key bytes live only inside a Keyring (private fields, copied in); inspect() and JSON show ids.
// - A wrapped data key is bound to its owner (kind and UUID): moved to another owner it fails to unwrap.
// - Re-wrapping never changes a data key, only the master key wrapping it, so values sealed under it and
//   data keys cached by running servers stay valid through a rotation.

/** Bytes in a master key. */
export const MASTER_KEY_BYTES = KEY_BYTES;

/**
 * What the server stores to recognise its master key: the key's id and key check value. Both are
 * one-way functions of the key, safe to store next to the data.
 */
export interface KeyCheck {
  readonly keyId: string;
  readonly kcv: string;
}

/**
 * The public id of a master key: the first 8 bytes of HMAC-SHA256(key, "lockbox master key id") as
 * 16 hex characters. Stored in every wrapped data key's header to find the key that unwraps it; it
 * reveals nothing usable about the key.
 *
 * @throws LockboxError `VALIDATION_FAILED` when `key` is not exactly 32 bytes.
 */
export function masterKeyId(key: Uint8Array): string {
  return deriveKeyId(checkedMasterKey(key, "A master key"), "lockbox master key id");
}

/**
 * The key check value of a master key: HMAC-SHA256(key, "lockbox key check value") in base64. Stored
 * by the server so that start-up with the wrong key stops with a clear message (see
 * {@link Keyring.verifyKeyCheck}) instead of failing on every value.
 *
 * @throws LockboxError `VALIDATION_FAILED` when `key` is not exactly 32 bytes.
 */
export function keyCheckValue(key: Uint8Array): string {
  return kcvBytes(checkedMasterKey(key, "A master key")).toString("base64");
}

/** A fresh data key and its wrapped form, ready to store with its owner. */
export interface GeneratedDataKey {
  readonly key: DataKey;
  /** The data key sealed under the current master key, bound to its owner. */
  readonly wrapped: Buffer;
}

/**
 * The master keys a process holds: one current key, which wraps every new or re-wrapped data key, and
 * any previous keys, which only unwrap (during and after a rotation). Immutable once built. Key bytes
 * never leave it: `inspect()` and `JSON.stringify()` show only key ids.
 */
export class Keyring {
  /** Id of the current master key (see {@link masterKeyId}). */
  readonly currentKeyId: string;
  readonly #current: EnvelopeKey;
  readonly #keys: ReadonlyMap<string, EnvelopeKey>;

  private constructor(current: EnvelopeKey, keys: ReadonlyMap<string, EnvelopeKey>) {
    this.currentKeyId = current.id;
    this.#current = current;
    this.#keys = keys;
  }

  /**
   * Builds a keyring from raw 32-byte master keys. The bytes are copied. A previous key equal to the
   * current key, or repeated, is kept once.
   *
   * @throws LockboxError `VALIDATION_FAILED` when any key is not exactly 32 bytes.
   */
  static fromKeys(current: Uint8Array, previous: readonly Uint8Array[] = []): Keyring {
    const currentKey = toMasterKey(current, "The master key");
    const keys = new Map<string, EnvelopeKey>([[currentKey.id, currentKey]]);
    previous.forEach((bytes, index) => {
      const key = toMasterKey(bytes, `Previous master key ${index + 1}`);
      if (!keys.has(key.id)) {
        keys.set(key.id, key);
      }
    });
    return new Keyring(currentKey, keys);
  }

  /** Ids of all loaded master keys, the current one first. */
  get keyIds(): readonly string[] {
    return [...this.#keys.keys()];
  }

  /** True when a master key with id `id` is loaded (current or previous). */
  has(id: string): boolean {
    return this.#keys.has(id);
  }

  /** The id and key check value of the current master key, for the server to store at set-up. */
  currentKeyCheck(): KeyCheck {
    return { keyId: this.#current.id, kcv: kcvBytes(this.#current.key).toString("base64") };
  }

  /**
   * Checks at start-up that this keyring can read the database, given the key check the database
   * stored: passes when a loaded key (current or previous) has the stored id and its key check value
   * matches (compared in constant time).
   *
   * @throws LockboxError `VALIDATION_FAILED` starting `The master key does not match this database:`,
   *   naming the expected key id and the loaded ids, never key bytes.
   */
  verifyKeyCheck(stored: KeyCheck): void {
    // `stored` comes from the database: tolerate any shape and report it as a mismatch.
    const key = typeof stored.keyId === "string" ? this.#keys.get(stored.keyId) : undefined;
    if (key === undefined) {
      const loaded = this.keyIds.map((id) => `'${id}'`).join(", ");
      throw new LockboxError(
        "VALIDATION_FAILED",
        `The master key does not match this database: the database was set up with master key ` +
          `'${stored.keyId}', but the loaded master key ids are ${loaded}. Start the server with the ` +
          `master key this database was set up with (LOCKBOX_MASTER_KEY or --master-key-file); while ` +
          `rotating, pass the old key in LOCKBOX_PREVIOUS_MASTER_KEYS.`,
      );
    }
    const expected = kcvBytes(key.key);
    const actual = Buffer.from(typeof stored.kcv === "string" ? stored.kcv : "", "base64");
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
      throw new LockboxError(
        "VALIDATION_FAILED",
        `The master key does not match this database: master key '${stored.keyId}' is loaded, but the ` +
          `stored key check value does not match it, so the stored check was altered. Restore the ` +
          `database's key check record from a backup.`,
      );
    }
  }

  /**
   * Creates a fresh random data key for `owner` and wraps it under the loaded master key
   * `masterKeyId` (by default the current one), bound to the owner's kind and UUID. Store `wrapped`
   * with the owner; keep `key` only in memory. A server passes the store's current key (see
   * `Vault.newDataKey`), so that every server reading the store can unwrap it.
   *
   * @throws LockboxError `INTERNAL` when `masterKeyId` is not loaded (the caller checks {@link has}).
   */
  generateDataKey(owner: OwnerRef, masterKeyId: string = this.currentKeyId): GeneratedDataKey {
    const masterKey = this.#keys.get(masterKeyId);
    if (masterKey === undefined) {
      throw new LockboxError("INTERNAL", `Master key '${masterKeyId}' is not loaded.`);
    }
    const bytes = randomBytes(KEY_BYTES);
    const key = dataKeyFromBytes(bytes);
    bytes.fill(0);
    return { key, wrapped: this.#wrap(owner, key, masterKey) };
  }

  /**
   * The key of runtime set versions: HMAC-SHA256(current master key, "lockbox runtime version key").
   * Every server with the same current master key derives the same key; it reveals nothing about the
   * master key, and without it a stored `Version` allows no guessing of the values it covers.
   */
  versionKey(): Buffer {
    return createHmac("sha256", this.#current.key).update("lockbox runtime version key", "utf8").digest();
  }

  /**
   * Unwraps `owner`'s data key with whichever loaded master key wrapped it (found by the id in the
   * envelope header).
   *
   * @throws LockboxError `INTEGRITY_FAILED` when the wrapping master key is not loaded (the message
   *   names its id and says to add it to LOCKBOX_PREVIOUS_MASTER_KEYS), or when `wrapped` is
   *   truncated, altered, or belongs to another owner.
   */
  unwrapDataKey(owner: OwnerRef, wrapped: Uint8Array): DataKey {
    const subject = dataKeySubject(owner);
    const { keyId } = readEnvelopeHeader(wrapped, subject);
    const masterKey = this.#keys.get(keyId);
    if (masterKey === undefined) {
      throw new LockboxError(
        "INTEGRITY_FAILED",
        `${subject} is wrapped by master key '${keyId}', which is not loaded: start the server with ` +
          `that key in LOCKBOX_PREVIOUS_MASTER_KEYS.`,
      );
    }
    const bytes = openEnvelope({
      kind: EnvelopeKind.dataKey,
      key: masterKey,
      sealed: wrapped,
      context: ownerContext(owner),
      subject,
      tamperedReason: "it was altered or moved from another owner",
    });
    try {
      if (bytes.length !== KEY_BYTES) {
        throw new LockboxError(
          "INTEGRITY_FAILED",
          `${subject} failed its integrity check: it does not hold a ${KEY_BYTES}-byte key.`,
        );
      }
      return dataKeyFromBytes(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /**
   * The id of the master key that wrapped `wrapped`, read from its header without unwrapping.
   *
   * @throws LockboxError `INTEGRITY_FAILED` when `wrapped` is truncated, malformed or of an unknown
   *   version.
   */
  wrappedKeyId(wrapped: Uint8Array): string {
    return readEnvelopeHeader(wrapped, "Wrapped data key").keyId;
  }

  /**
   * Unwraps `owner`'s data key with whichever loaded key wrapped it and wraps the same data key under
   * the current master key (with a fresh IV, also when it already was under the current key).
   *
   * @throws LockboxError `INTEGRITY_FAILED` as {@link Keyring.unwrapDataKey}.
   */
  rewrap(owner: OwnerRef, wrapped: Uint8Array): Buffer {
    const dataKey = this.unwrapDataKey(owner, wrapped);
    try {
      return this.#wrap(owner, dataKey);
    } finally {
      dataKey.key.fill(0);
    }
  }

  /** Shows key ids only. */
  toJSON(): { currentKeyId: string; keyIds: readonly string[] } {
    return { currentKeyId: this.currentKeyId, keyIds: this.keyIds };
  }

  /** Shows key ids only. */
  [inspect.custom](): string {
    return `Keyring { currentKeyId: '${this.currentKeyId}', keyIds: [${this.keyIds.map((id) => `'${id}'`).join(", ")}] }`;
  }

  #wrap(owner: OwnerRef, dataKey: DataKey, masterKey: EnvelopeKey = this.#current): Buffer {
    return sealEnvelope({
      kind: EnvelopeKind.dataKey,
      key: masterKey,
      plaintext: dataKey.key,
      context: ownerContext(owner),
    });
  }
}

function checkedMasterKey(key: Uint8Array, what: string): Buffer {
  if (key.length !== MASTER_KEY_BYTES) {
    throw new LockboxError(
      "VALIDATION_FAILED",
      `${what} must be exactly ${MASTER_KEY_BYTES} bytes (got ${key.length} bytes).`,
    );
  }
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength);
}

function toMasterKey(bytes: Uint8Array, what: string): EnvelopeKey {
  const key = Buffer.from(checkedMasterKey(bytes, what));
  return { id: deriveKeyId(key, "lockbox master key id"), key };
}

function kcvBytes(key: Buffer): Buffer {
  return createHmac("sha256", key).update("lockbox key check value", "utf8").digest();
}

function ownerContext(owner: OwnerRef): string[] {
  return ["data key", owner.kind, owner.id];
}

function dataKeySubject(owner: OwnerRef): string {
  return `Data key of ${owner.kind} '${owner.id}'`;
}
