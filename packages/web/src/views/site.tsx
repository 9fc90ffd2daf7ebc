import { api, seg } from "../api";
import { Badge, Empty, Link, Show, useLoad, useTitle } from "../components";
import { pathOf } from "../router";
import type { SiteInfo } from "../types";
import { SiteNav } from "./site-nav";

/** A site: its owner, environments, team and supporting organizations. */
export function SiteView(props: { site: string }) {
  const { site } = props;
  useTitle(site);
  const [info] = useLoad(() => api<SiteInfo>("GET", `/v1/sites/${seg(site)}`), `site:${site}`);
  return (
    <>
      <h1>
        Site <span class="muted">{site}</span>
      </h1>
      <SiteNav site={site} current="site" />
      <Show loaded={info} what="the site">
        {(data) => (
          <div class="columns">
            <section aria-labelledby="owner-heading" class="panel">
              <h2 id="owner-heading">Owner</h2>
              <p>
                {data.owner.kind === "org" ? (
                  <>
                    Organization <Link href={pathOf("orgs", data.owner.name)}>{data.owner.name}</Link>
                  </>
                ) : (
                  <>Personal site of {data.owner.name}</>
                )}
              </p>
            </section>
            <section aria-labelledby="envs-heading" class="panel">
              <h2 id="envs-heading">Environments</h2>
              <ul class="plain">
                {data.environments.map((env) => (
                  <li key={env.name}>
                    {env.name} <Badge kind="type">{env.kind}</Badge>
                  </li>
                ))}
              </ul>
            </section>
            <section aria-labelledby="team-heading" class="panel">
              <h2 id="team-heading">Team</h2>
              {data.team.length === 0 ? (
                <Empty>
                  No one besides the owner's members. Add someone with{" "}
                  <code>lockbox site:team:add {site} EMAIL</code>.
                </Empty>
              ) : (
                <ul class="plain">
                  {data.team.map((person) => (
                    <li key={person.id}>{person.email}</li>
                  ))}
                </ul>
              )}
            </section>
            <section aria-labelledby="supporting-heading" class="panel">
              <h2 id="supporting-heading">Supporting organizations</h2>
              {data.supportingOrgs.length === 0 ? (
                <Empty>
                  None. An agency that works on the site is added with{" "}
                  <code>lockbox site:supporting-org:add {site} ORG</code>.
                </Empty>
              ) : (
                <ul class="plain">
                  {data.supportingOrgs.map((org) => (
                    <li key={org.id}>{org.name}</li>
                  ))}
                </ul>
              )}
            </section>
          </div>
        )}
      </Show>
    </>
  );
}
