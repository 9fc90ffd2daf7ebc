import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { LockboxError } from "@lockbox/core";

// Invariants (see README.md in this folder):
// - Nothing here logs, and no error message contains plaintext, key bytes or ciphertext.
// - Every envelope authenticates its own header (version, kind, key id) and the caller's context
//   as associated data, so a ciphertext opens only with its key, as its kind, in its own row.
// - A fresh random 96-bit IV per seal; keys are per owner, so no key comes near the 2^32-seal bound.

/** The only envelope format version this build writes and reads. */
export const ENVELOPE_VERSION = 1;

/** Bytes in an AES-256 key (master keys and data keys alike). */
export const KEY_BYTES = 32;

/** Bytes in an AES-GCM IV. */
export const IV_BYTES = 12;

/** Bytes in an AES-GCM authentication tag. */
export const TAG_BYTES = 16;

/**
 * What an envelope holds; the kind byte is authenticated, so an envelope of one kind never opens
 * as another. Values are part of the stored format: never renumber them.
 */
export const EnvelopeKind = {
  /** A secret value, bound to its secret UUID and environment. */
  secretValue: 1,
  /** A per-owner data key wrapped by a master key, bound to its owner. */
  dataKey: 2,
} as const;

/** The numeric kind byte of an envelope; see {@link EnvelopeKind}. */
export type EnvelopeKind = (typeof EnvelopeKind)[keyof typeof EnvelopeKind];

/**
 * A 32-byte AES-256 key together with its public id. The id is a one-way function of the key and
 * is safe to store and print; the key bytes are never logged, stored unwrapped or put in a message.
 */
export interface EnvelopeKey {
  /** Short hex id derived from the key with HMAC; identifies the key without revealing it. */
  readonly id: string;
  /** Exactly {@link KEY_BYTES} bytes of key material. */
  readonly key: Buffer;
}

/**
 * A per-owner data key (one per org or site), created with its owner and destroyed with it. Values
 * are sealed under it; it is stored only wrapped by a master key (see `Keyring`).
 */
export type DataKey = EnvelopeKey;

/** Where a secret value lives: the secret's UUID and its environment (`null` = the base value). */
export interface ValueBinding {
  readonly secretId: string;
  readonly env: string | null;
  /** Set for a version of the slot (its history), which must never open as the current value. */
  readonly version?: number | undefined;
}

/** The authenticated, unencrypted prefix of an envelope. */
export interface EnvelopeHeader {
  readonly version: number;
  readonly kind: EnvelopeKind;
  /** Id of the key that sealed the envelope. */
  readonly keyId: string;
}

/** Input of {@link sealEnvelope}. */
export interface SealEnvelopeInput {
  readonly kind: EnvelopeKind;
  readonly key: EnvelopeKey;
  readonly plaintext: Uint8Array;
  /** Fields the envelope is bound to (authenticated, not stored); opening needs the same list. */
  readonly context: readonly (string | Uint8Array)[];
}

/** Input of {@link openEnvelope}. */
export interface OpenEnvelopeInput {
  readonly kind: EnvelopeKind;
  readonly key: EnvelopeKey;
  readonly sealed: Uint8Array;
  readonly context: readonly (string | Uint8Array)[];
  /** What is being opened, for error messages, e.g. `Data key of site 'UUID'`. Holds no secret. */
  readonly subject: string;
  /** Why a tag mismatch most likely happened, e.g. `it was altered or moved from another row`. */
  readonly tamperedReason: string;
}

const AAD_LABEL = "lockbox envelope aad v1";
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const HEADER_FIXED_BYTES = 3;
const KIND_NAMES: Record<EnvelopeKind, string> = { 1: "secret value", 2: "wrapped data key" };

/**
 * Derives a short public id (16 hex characters: the first 8 bytes of HMAC-SHA256(key, label)) from
 * key material. Distinct labels give unrelated ids for the same bytes; the id reveals nothing usable
 * about the key. Pure; never throws.
 */
export function deriveKeyId(key: Buffer, label: string): string {
  return createHmac("sha256", key).update(label, "utf8").digest().subarray(0, 8).toString("hex");
}

/**
 * Makes a {@link DataKey} from 32 key bytes, deriving its id as the first 8 bytes of
 * HMAC-SHA256(key, "lockbox data key id") in hex. The bytes are copied, so later changes to `bytes`
 * do not affect the data key.
 *
 * @throws LockboxError `INTERNAL` when `bytes` is not exactly 32 bytes (a programming error).
 */
export function dataKeyFromBytes(bytes: Uint8Array): DataKey {
  if (bytes.length !== KEY_BYTES) {
    throw new LockboxError(
      "INTERNAL",
      `A data key must be exactly ${KEY_BYTES} bytes (got ${bytes.length}).`,
    );
  }
  const key = Buffer.from(bytes);
  return { id: deriveKeyId(key, "lockbox data key id"), key };
}

/**
 * Encodes the associated data for an envelope: a fixed domain-separation label, then each field, each
 * as a u32 big-endian byte length followed by its bytes (strings as UTF-8). The encoding is injective:
 * no two field lists share an encoding, so `["ab", "c"]` and `["a", "bc"]` differ.
 *
 * @throws LockboxError `VALIDATION_FAILED` when a string field is not well-formed UTF-16 (a lone
 *   surrogate would collapse to U+FFFD and make two different strings encode alike).
 */
export function encodeAssociatedData(fields: readonly (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [];
  for (const field of [AAD_LABEL, ...fields]) {
    if (typeof field === "string" && !field.isWellFormed()) {
      throw new LockboxError("VALIDATION_FAILED", "A binding field is not well-formed Unicode text.");
    }
    const bytes = typeof field === "string" ? Buffer.from(field, "utf8") : Buffer.from(field);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}

/**
 * Seals `plaintext` as a version-1 envelope:
 * `[version u8 = 1][kind u8][keyIdLen u8][keyId ASCII][iv 12][ciphertext][tag 16]`, AES-256-GCM with a
 * fresh random IV. The associated data is {@link encodeAssociatedData} of
 * `[version, kind, keyId, ...context]`, so the header and the context are both authenticated.
 *
 * @throws LockboxError `INTERNAL` when the key is not 32 bytes or its id is not 1–64 characters of
 *   `[A-Za-z0-9._-]` (programming errors).
 */
export function sealEnvelope(input: SealEnvelopeInput): Buffer {
  const { kind, key, plaintext, context } = input;
  assertUsableKey(key);
  const keyIdBytes = Buffer.from(key.id, "ascii");
  const header = Buffer.from([ENVELOPE_VERSION, kind, keyIdBytes.length]);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData({ version: ENVELOPE_VERSION, kind, keyId: key.id }, context));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, keyIdBytes, iv, ciphertext, cipher.getAuthTag()]);
}

/**
 * Reads the header of an envelope without opening it (e.g. to find which master key wrapped a data
 * key). The header is only authenticated once the envelope is opened.
 *
 * @param subject what the envelope is, for the error message, e.g. `Data key of site 'UUID'`.
 * @throws LockboxError `INTEGRITY_FAILED` when `sealed` is truncated, malformed, or of an unknown
 *   version.
 */
export function readEnvelopeHeader(sealed: Uint8Array, subject = "Envelope"): EnvelopeHeader {
  const parsed = parseEnvelope(sealed);
  if (!parsed.ok) {
    throw integrityError(subject, parsed.reason);
  }
  return parsed.header;
}

/**
 * Opens an envelope sealed by {@link sealEnvelope} with the same kind, key and context, and returns
 * the plaintext bytes (a fresh buffer the caller owns).
 *
 * @throws LockboxError `INTEGRITY_FAILED` with a message starting with `subject` when the envelope is
 *   truncated or malformed, of an unknown version or another kind, sealed by another key id, or fails
 *   its tag (altered, or bound to another context). The message never contains plaintext or key bytes.
 */
export function openEnvelope(input: OpenEnvelopeInput): Buffer {
  const { kind, key, context, subject } = input;
  const parsed = parseEnvelope(input.sealed);
  if (!parsed.ok) {
    throw integrityError(subject, parsed.reason);
  }
  const { header, iv, ciphertext, tag } = parsed;
  if (header.kind !== kind) {
    throw integrityError(subject, `it is a ${KIND_NAMES[header.kind]}, not a ${KIND_NAMES[kind]}`);
  }
  if (header.keyId !== key.id) {
    throw integrityError(subject, `it was sealed by key '${header.keyId}', not by key '${key.id}'`);
  }
  assertUsableKey(key);
  const decipher = createDecipheriv("aes-256-gcm", key.key, iv, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(tag);
  decipher.setAAD(associatedData(header, context));
  const plaintext = decipher.update(ciphertext);
  try {
    decipher.final();
  } catch {
    plaintext.fill(0);
    throw integrityError(subject, input.tamperedReason);
  }
  return plaintext;
}

/**
 * Encrypts a secret value under its owner's data key, bound to its row: the secret's UUID and its
 * environment (`null` = the base value). The result opens only with {@link openValue} given the same
 * data key and binding; a copy moved to another secret, another environment, between base and
 * override, or replayed into a secret recreated under a new UUID fails.
 *
 * @throws LockboxError `VALIDATION_FAILED` when `plaintext` or a binding field is not well-formed
 *   Unicode (a lone surrogate cannot round-trip through UTF-8).
 */
export function sealValue(dataKey: DataKey, plaintext: string, binding: ValueBinding): Buffer {
  if (!plaintext.isWellFormed()) {
    throw new LockboxError(
      "VALIDATION_FAILED",
      `${valueSubject(binding)} is not well-formed Unicode text (it contains a lone surrogate).`,
    );
  }
  const bytes = Buffer.from(plaintext, "utf8");
  try {
    return sealEnvelope({
      kind: EnvelopeKind.secretValue,
      key: dataKey,
      plaintext: bytes,
      context: valueContext(binding),
    });
  } finally {
    bytes.fill(0);
  }
}

/**
 * Decrypts a value sealed by {@link sealValue} for the same data key and binding.
 *
 * @throws LockboxError `INTEGRITY_FAILED` when the envelope was altered, truncated, sealed by another
 *   data key, written in an unknown version, or belongs to another row, e.g.
 *   `Secret value for secret 'UUID' (environment 'live') failed its integrity check: it was altered or
 *   moved from another row.` The message never contains the value or key bytes.
 */
export function openValue(dataKey: DataKey, sealed: Uint8Array, binding: ValueBinding): string {
  const bytes = openEnvelope({
    kind: EnvelopeKind.secretValue,
    key: dataKey,
    sealed,
    context: valueContext(binding),
    subject: valueSubject(binding),
    tamperedReason: "it was altered or moved from another row",
  });
  try {
    return bytes.toString("utf8");
  } finally {
    bytes.fill(0);
  }
}

type ParsedEnvelope =
  | { ok: true; header: EnvelopeHeader; iv: Buffer; ciphertext: Buffer; tag: Buffer }
  | { ok: false; reason: string };

function parseEnvelope(sealed: Uint8Array): ParsedEnvelope {
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const truncated = { ok: false, reason: "it is truncated or not a Lockbox envelope" } as const;
  if (bytes.length < HEADER_FIXED_BYTES) {
    return truncated;
  }
  const version = bytes.readUInt8(0);
  if (version !== ENVELOPE_VERSION) {
    return {
      ok: false,
      reason: `it is in envelope format version ${version}, but this server reads only version ${ENVELOPE_VERSION}`,
    };
  }
  const kind = bytes.readUInt8(1);
  if (!isEnvelopeKind(kind)) {
    return { ok: false, reason: `it has an unknown envelope kind ${kind}` };
  }
  const keyIdLength = bytes.readUInt8(2);
  const ivStart = HEADER_FIXED_BYTES + keyIdLength;
  if (bytes.length < ivStart + IV_BYTES + TAG_BYTES) {
    return truncated;
  }
  const keyId = bytes.subarray(HEADER_FIXED_BYTES, ivStart).toString("latin1");
  if (!KEY_ID_PATTERN.test(keyId)) {
    return { ok: false, reason: "its key id is malformed" };
  }
  const tagStart = bytes.length - TAG_BYTES;
  return {
    ok: true,
    header: { version, kind, keyId },
    iv: bytes.subarray(ivStart, ivStart + IV_BYTES),
    ciphertext: bytes.subarray(ivStart + IV_BYTES, tagStart),
    tag: bytes.subarray(tagStart),
  };
}

function isEnvelopeKind(kind: number): kind is EnvelopeKind {
  return kind === EnvelopeKind.secretValue || kind === EnvelopeKind.dataKey;
}

function associatedData(header: EnvelopeHeader, context: readonly (string | Uint8Array)[]): Buffer {
  return encodeAssociatedData([
    Uint8Array.of(header.version),
    Uint8Array.of(header.kind),
    header.keyId,
    ...context,
  ]);
}

function assertUsableKey(key: EnvelopeKey): void {
  if (key.key.length !== KEY_BYTES || !KEY_ID_PATTERN.test(key.id)) {
    throw new LockboxError(
      "INTERNAL",
      `An envelope key must be ${KEY_BYTES} bytes with an id of 1-64 characters [A-Za-z0-9._-].`,
    );
  }
}

// The presence marker keeps the base value (null) apart from any environment name, even "".
// A version's own label and number keep it apart from the current value and from every other version.
function valueContext(binding: ValueBinding): string[] {
  const slot = binding.env === null ? ["base", ""] : ["override", binding.env];
  return binding.version === undefined
    ? ["secret value", binding.secretId, ...slot]
    : ["secret version", binding.secretId, ...slot, String(binding.version)];
}

function valueSubject(binding: ValueBinding): string {
  const where = binding.env === null ? "base value" : `environment '${binding.env}'`;
  const version = binding.version === undefined ? "" : `, version ${binding.version}`;
  return `Secret value for secret '${binding.secretId}' (${where}${version})`;
}

function integrityError(subject: string, reason: string): LockboxError {
  return new LockboxError("INTEGRITY_FAILED", `${subject} failed its integrity check: ${reason}.`);
}
