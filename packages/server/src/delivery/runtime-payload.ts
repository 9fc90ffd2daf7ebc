import { createHmac } from "node:crypto";
import type { DeliveredSecret } from "../secrets/secret-views.js";

/** A resolved set ready to serve: the JSON bytes, their content version and ETag. */
export interface RuntimePayload {
  readonly body: Buffer;
  /** A keyed content hash: the same set gives the same version on every server with the same master key. */
  readonly version: string;
  /** `"<version>"`, as sent in `ETag` and compared with `If-None-Match`. */
  readonly etag: string;
}

/**
 * Serializes what a runtime receives, in the seed product's wire shape (SPEC §3):
 * `{"SiteID", "Environment", "Secrets": {name: {"Type", "Value", "Scopes"}}, "Count", "Version", "Scopes": ["web"]}`.
 * `Version` is an HMAC-SHA256 under `versionKey` (derived from the current master key,
 * `Keyring.versionKey()`) of the site, the environment and every name, type, value and scope list in
 * name order: it depends on the content and that key only, never on which server or when, and a
 * stored version (audit rows) allows no guessing of the values without the master key.
 */
export function runtimePayload(
  versionKey: Uint8Array,
  siteId: string,
  env: string,
  secrets: readonly DeliveredSecret[],
): RuntimePayload {
  const sorted = [...secrets].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const version = createHmac("sha256", versionKey)
    .update(
      JSON.stringify([
        "lockbox.runtime.v1",
        siteId,
        env,
        sorted.map((s) => [s.name, s.type, s.value, s.scopes]),
      ]),
    )
    .digest("hex")
    .slice(0, 32);
  // A null-prototype map, so a secret named `__proto__` is an ordinary key.
  const map: Record<string, { Type: string; Value: string; Scopes: readonly string[] }> = Object.create(null);
  for (const secret of sorted)
    map[secret.name] = { Type: secret.type, Value: secret.value, Scopes: secret.scopes };
  const body = Buffer.from(
    JSON.stringify({
      SiteID: siteId,
      Environment: env,
      Secrets: map,
      Count: sorted.length,
      Version: version,
      Scopes: ["web"],
    }),
  );
  return { body, version, etag: `"${version}"` };
}
