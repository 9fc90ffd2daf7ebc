import { LockboxError, quoteIdentifier, resolveSecrets, type Scope } from "@lockbox/core";
import type { Vault } from "../keys/vault.js";
import type { OrgSnapshots } from "./org-snapshots.js";
import type { SecretStore, StoredSecret } from "./secret-store.js";
import type { DeliveredSecret } from "./secret-views.js";

/**
 * SPEC §2.4 for a machine (every value decrypted) from the site's own rows and the snapshot of its
 * owner org: one statement for the site, none for an org already in `snapshots`, and each org value
 * decrypted once for all the org's sites. The rules are {@link resolveSecrets}'s, as on every path.
 * Undefined when the site does not exist.
 */
export async function resolveWithOrgSnapshot(
  store: Pick<SecretStore, "loadOwnSiteSecrets" | "listSecrets">,
  vault: Vault,
  snapshots: OrgSnapshots,
  request: { readonly siteId: string; readonly env: string; readonly scope: Scope },
): Promise<DeliveredSecret[] | undefined> {
  const siteEpoch = snapshots.siteEpoch;
  const own = await store.loadOwnSiteSecrets(request.siteId);
  if (!own) return undefined;
  const orgId = own.ownerOrgId;
  const org = orgId
    ? await snapshots.snapshot(orgId, () => store.listSecrets({ kind: "org", id: orgId }))
    : undefined;
  snapshots.noteSiteOrg(own.siteId, orgId ?? null, siteEpoch);
  const winners = resolveSecrets({
    env: request.env,
    scope: request.scope,
    siteSecrets: own.siteSecrets,
    orgSecrets: org?.secrets ?? [],
  });
  const out: DeliveredSecret[] = [];
  for (const entry of winners.values()) {
    const secret = entry.secret as StoredSecret;
    const env = entry.valueEnv;
    const sealed = env === null ? secret.base : secret.overrides.get(env);
    if (!sealed) {
      throw new LockboxError(
        "INTEGRITY_FAILED",
        `Secret ${quoteIdentifier(secret.name)} lost a value while resolving.`,
      );
    }
    const binding = { secretId: secret.id, env };
    const value =
      entry.owner === "site" || !org
        ? await vault.open({ kind: "site", id: own.siteId }, binding, sealed)
        : await org.value(secret, env, () => vault.open({ kind: "org", id: org.orgId }, binding, sealed));
    out.push({ name: secret.name, type: secret.type, scopes: secret.scopes, value });
  }
  return out;
}
