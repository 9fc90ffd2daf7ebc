import type { OwnerRef } from "@lockbox/core";
import { LockboxError, quoteIdentifier, resolveSecrets, type Scope } from "@lockbox/core";
import type { ValueBinding } from "../keys/index.js";
import type { Vault } from "../keys/vault.js";
import type { OrgSnapshot, OrgSnapshots } from "./org-snapshots.js";
import type { SecretStore, StoredSecret } from "./secret-store.js";
import type { DeliveredSecret } from "./secret-views.js";

/**
 * SPEC §2.4 for a machine (every value decrypted) from the site's own rows and the snapshot of its
 * owner org: one statement for the site and none for an org, unless `snapshots` lacks them (so an
 * org-wide change reads nothing from the store for sites resolved before). The org's side of
 * a resolution (its winners for the environment and scope, values decrypted) is the same for all
 * its sites, so it is worked out once per snapshot and merged with each site's side: the site wins
 * a name it has with the scope, and names stay in `resolveSecrets`' order. Each side is chosen by
 * {@link resolveSecrets}, as on every path. Undefined when the site does not exist.
 */
export async function resolveWithOrgSnapshot(
  store: Pick<SecretStore, "loadOwnSiteSecrets" | "listSecrets">,
  vault: Vault,
  snapshots: OrgSnapshots,
  request: { readonly siteId: string; readonly env: string; readonly scope: Scope },
): Promise<DeliveredSecret[] | undefined> {
  const siteEpoch = snapshots.siteEpoch;
  const own = await snapshots.siteRows(request.siteId, () => store.loadOwnSiteSecrets(request.siteId));
  if (!own) return undefined;
  const orgId = own.ownerOrgId;
  const org = orgId
    ? await snapshots.snapshot(orgId, () => store.listSecrets({ kind: "org", id: orgId }))
    : undefined;
  snapshots.noteSiteOrg(own.siteId, orgId ?? null, siteEpoch);
  const site: OwnerRef = { kind: "site", id: own.siteId };
  const siteSide = await openWinners(site, own.siteSecrets, request, (binding, sealed) =>
    vault.open(site, binding, sealed),
  );
  if (!org) return siteSide;
  const orgSide = await org.resolved(request.env, request.scope, () => orgWinners(vault, org, request));
  return mergeByName(orgSide, siteSide);
}

/** The org's side for one environment and scope, each value decrypted once per snapshot. */
function orgWinners(
  vault: Vault,
  org: OrgSnapshot,
  request: { readonly env: string; readonly scope: Scope },
): Promise<DeliveredSecret[]> {
  const owner: OwnerRef = { kind: "org", id: org.orgId };
  return openWinners(owner, org.secrets, request, (binding, sealed, secret) =>
    org.value(secret, binding.env, () => vault.open(owner, binding, sealed)),
  );
}

/** One owner's winners (SPEC §2.4 on that side alone), in name order, values opened by `open`. */
async function openWinners(
  owner: OwnerRef,
  secrets: readonly StoredSecret[],
  request: { readonly env: string; readonly scope: Scope },
  open: (binding: ValueBinding, sealed: Buffer, secret: StoredSecret) => Promise<string>,
): Promise<DeliveredSecret[]> {
  const side = resolveSecrets({
    env: request.env,
    scope: request.scope,
    siteSecrets: owner.kind === "site" ? secrets : [],
    orgSecrets: owner.kind === "org" ? secrets : [],
  });
  const out: DeliveredSecret[] = [];
  for (const entry of side.values()) {
    const secret = entry.secret as StoredSecret;
    const env = entry.valueEnv;
    const sealed = env === null ? secret.base : secret.overrides.get(env);
    if (!sealed) {
      throw new LockboxError(
        "INTEGRITY_FAILED",
        `Secret ${quoteIdentifier(secret.name)} lost a value while resolving.`,
      );
    }
    const value = await open({ secretId: secret.id, env }, sealed, secret);
    out.push({ name: secret.name, type: secret.type, scopes: secret.scopes, value });
  }
  return out;
}

/**
 * Two sides, each in name order, merged in name order (UTF-16 code units, as `resolveSecrets`
 * sorts); a name on both sides is the site's.
 */
function mergeByName(org: readonly DeliveredSecret[], site: readonly DeliveredSecret[]): DeliveredSecret[] {
  const out: DeliveredSecret[] = [];
  let i = 0;
  let j = 0;
  while (i < org.length || j < site.length) {
    const a = org[i];
    const b = site[j];
    if (b === undefined || (a !== undefined && a.name < b.name)) {
      out.push(a as DeliveredSecret);
      i++;
    } else {
      if (a !== undefined && a.name === b.name) i++;
      out.push(b);
      j++;
    }
  }
  return out;
}
