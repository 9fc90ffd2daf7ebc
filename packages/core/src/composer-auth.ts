import { type ComposerAuthType, splitComposerSecretName } from "./secrets.js";

/** A resolved `composer` secret with its decrypted value. */
export interface ComposerSecretValue {
  readonly name: string;
  readonly value: string;
}

/**
 * Builds the `COMPOSER_AUTH` object of a build (SPEC §4). `base` is the parsed JSON value of the
 * resolved `env` secret `COMPOSER_AUTH` (`undefined` when there is none; anything but a JSON object
 * is ignored, which value validation makes impossible). Each `composer` secret then sets one entry,
 * replacing only the base's entry for the same auth type and host:
 * - `github-oauth`, `gitlab-oauth`, `gitlab-token`, `bearer`: `{[type]: {[host]: value}}`;
 * - `bitbucket-oauth`: `{"consumer-key", "consumer-secret"}`, split at the first space;
 * - `http-basic`: `{"username", "password"}`, split at the first colon.
 * The host key keeps its `:port`. A value missing its separator (impossible after validation) becomes
 * the key or user name with an empty second part; a secret whose name has no known auth type is skipped.
 *
 * Every object in the result that holds untrusted keys has a null prototype, so keys such as
 * `__proto__` stay plain data. Later secrets of the same name win; the input is not modified.
 */
export function buildComposerAuth(
  base: unknown,
  composerSecrets: Iterable<ComposerSecretValue>,
): Record<string, unknown> {
  const auth: Record<string, unknown> = Object.create(null);
  if (isJsonObject(base)) {
    for (const [type, entries] of Object.entries(base)) {
      // Copied one level down because that is where secrets are merged in; deeper data is only read.
      auth[type] = isJsonObject(entries) ? copyObject(entries) : entries;
    }
  }
  for (const { name, value } of composerSecrets) {
    const split = splitComposerSecretName(name);
    if (split === undefined) continue;
    const existing = auth[split.authType];
    const hosts: Record<string, unknown> = isJsonObject(existing) ? existing : Object.create(null);
    hosts[split.host] = composerEntry(split.authType, value);
    auth[split.authType] = hosts;
  }
  return auth;
}

function composerEntry(authType: ComposerAuthType, value: string): unknown {
  switch (authType) {
    case "bitbucket-oauth": {
      const [key, secret] = splitOnce(value, " ");
      return { "consumer-key": key, "consumer-secret": secret };
    }
    case "http-basic": {
      const [username, password] = splitOnce(value, ":");
      return { username, password };
    }
    default:
      return value;
  }
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at === -1 ? [text, ""] : [text.slice(0, at), text.slice(at + separator.length)];
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function copyObject(source: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = Object.create(null);
  for (const [key, value] of Object.entries(source)) copy[key] = value;
  return copy;
}
