/**
 * Encryption at rest: values sealed under per-owner data keys, data keys wrapped by master keys.
 * See README.md in this folder for the key hierarchy, the envelope format and the invariants.
 */
export {
  type DataKey,
  dataKeyFromBytes,
  ENVELOPE_VERSION,
  type EnvelopeHeader,
  EnvelopeKind,
  openValue,
  readEnvelopeHeader,
  sealValue,
  type ValueBinding,
} from "./envelope.js";
export {
  type GeneratedDataKey,
  type KeyCheck,
  Keyring,
  keyCheckValue,
  MASTER_KEY_BYTES,
  masterKeyId,
} from "./keyring.js";
export {
  decodeMasterKey,
  type LoadedMasterKeys,
  type LoadMasterKeysOptions,
  loadMasterKeys,
  type MasterKeyFile,
  readMasterKeyFile,
} from "./master-key.js";
export {
  type DataKeyRepository,
  type RewrapOptions,
  type RewrapResult,
  rewrapAllDataKeys,
  type WrappedDataKeyRecord,
} from "./rotate.js";
