import type { PageRequest } from "../db/ports.js";
import type { EnvironmentRow, SiteRow } from "../directory/records.js";
import type { SecretsService } from "../secrets/secrets-service.js";
import { runtimePayload } from "./runtime-payload.js";

/** What {@link runtimeVersions} reads: every site and environment, resolution, and the version key. */
export interface RuntimeVersionSources {
  readonly sites: { listSites(filter: PageRequest): Promise<SiteRow[]> };
  readonly environments: { listEnvironments(siteId: string): Promise<EnvironmentRow[]> };
  readonly secrets: Pick<SecretsService, "resolveForDelivery">;
  /** `Keyring.versionKey()`: derived from the master key, so two stores under one key compare. */
  readonly versionKey: Uint8Array;
}

/**
 * The runtime set's `Version` (what `GET /site/secrets` answers) of every site environment, keyed
 * `site.env`, computed as delivery computes it: `store:copy` compares them on both sides of a copy.
 */
export async function runtimeVersions(sources: RuntimeVersionSources): Promise<Map<string, string>> {
  const versions = new Map<string, string>();
  let after: string | undefined;
  for (;;) {
    const sites = await sources.sites.listSites({ limit: 1000, ...(after !== undefined ? { after } : {}) });
    for (const site of sites) {
      for (const environment of await sources.environments.listEnvironments(site.id)) {
        const secrets = await sources.secrets.resolveForDelivery(site.id, environment.name, "web");
        const { version } = runtimePayload(sources.versionKey, site.id, environment.name, secrets ?? []);
        versions.set(`${site.name}.${environment.name}`, version);
      }
    }
    if (sites.length < 1000) break;
    after = sites[sites.length - 1]?.name;
  }
  return versions;
}
