import { useState } from "preact/hooks";
import { api, listAll, seg } from "../api";
import { Empty, type Outcome, OutcomeNotice, Show, useLoad, useTitle } from "../components";
import { historyPath } from "../router";
import type { SiteInfo, SiteSecretRow } from "../types";
import { DeleteConfirm } from "./delete-confirm";
import { DeletedSecrets } from "./deleted-secrets";
import { ownerPath, SecretForm } from "./secret-form";
import { type DeleteRequest, SecretGrid } from "./secret-grid";
import { SiteNav } from "./site-nav";

/** A site's secrets, its own and those it inherits, as one grid; writes go to the site's own. */
export function SecretsView(props: { site: string }) {
  const { site } = props;
  useTitle(`Secrets · ${site}`);
  const [data, reload] = useLoad(async () => {
    const info = await api<SiteInfo>("GET", `/v1/sites/${seg(site)}`);
    const rows = await listAll<SiteSecretRow>(`/v1/sites/${seg(site)}/secrets`);
    return { info, rows };
  }, `secrets:${site}`);
  const [deleting, setDeleting] = useState<DeleteRequest | undefined>();
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  // Counts deletes, so the deleted secrets below list the one just deleted.
  const [deletes, setDeletes] = useState(0);
  const owner = ownerPath("site", site);
  return (
    <>
      <h1>
        Secrets <span class="muted">of {site}</span>
      </h1>
      <SiteNav site={site} current="secrets" />
      <Show loaded={data} what="the site's secrets">
        {({ info, rows }) => {
          const envs = info.environments.map((env) => env.name);
          return (
            <>
              <OutcomeNotice outcome={outcome} />
              {deleting && (
                <DeleteConfirm
                  owner={owner}
                  request={deleting}
                  onCancel={() => setDeleting(undefined)}
                  onDone={(result) => {
                    setDeleting(undefined);
                    setOutcome(result);
                    setDeletes((n) => n + 1);
                    reload();
                  }}
                />
              )}
              {rows.length === 0 ? (
                <Empty>
                  This site has no secrets yet, and inherits none. Add one with the form below, or with{" "}
                  <code>lockbox secret:site:set {site} NAME</code>.
                </Empty>
              ) : (
                <SecretGrid
                  label={`Secrets of ${site}`}
                  rows={rows.map(withOrgOverrides)}
                  envs={envs}
                  editable={(row) => row.owner === "site"}
                  onDelete={(request) => {
                    setOutcome(undefined);
                    setDeleting(request);
                  }}
                  // An inherited row's history is its organization's, linked from the org page.
                  historyHref={(row) =>
                    row.owner === "site" ? historyPath({ kind: "site", name: site }, row.name) : undefined
                  }
                />
              )}
              <p class="muted legend">
                Values marked <em>redacted</em> lack the <code>user</code> scope: people never read them, here
                or in the CLI. Org secrets are changed on their organization's page.
              </p>
              <SecretForm owner={owner} envs={envs} onDone={reload} />
              <DeletedSecrets
                owner={owner}
                deleteCommand={`lockbox secret:site:delete ${site} NAME`}
                refreshKey={deletes}
                onRestored={reload}
              />
            </>
          );
        }}
      </Show>
    </>
  );
}

/**
 * An inherited row's environment columns show its organization's overrides: the listing's
 * `envValues` are the site's own (none for an org row), and "no live override" there would hide
 * the org's live value, which is what live receives.
 */
function withOrgOverrides(row: SiteSecretRow): SiteSecretRow {
  if (row.owner !== "org") return row;
  const { default: _base, ...overrides } = row.orgValues;
  return { ...row, envValues: overrides };
}
