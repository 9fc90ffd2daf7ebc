import { listAll } from "../api";
import { Empty, Link, Show, TableRegion, useLoad, useTitle } from "../components";
import { pathOf } from "../router";
import type { Org, Site } from "../types";

/** The organizations and sites the signed-in user can see (the server decides which). */
export function HomeView() {
  useTitle("Overview");
  const [orgs] = useLoad(() => listAll<Org>("/v1/orgs"), "orgs");
  const [sites] = useLoad(() => listAll<Site>("/v1/sites"), "sites");
  return (
    <>
      <h1>Overview</h1>
      <section aria-labelledby="orgs-heading">
        <h2 id="orgs-heading">Organizations</h2>
        <Show loaded={orgs} what="organizations">
          {(items) =>
            items.length === 0 ? (
              <Empty>
                You are not in any organization. An org admin adds you with{" "}
                <code>lockbox org:member:add ORG EMAIL</code>.
              </Empty>
            ) : (
              <ul class="cards">
                {items.map((org) => (
                  <li key={org.id}>
                    <Link href={pathOf("orgs", org.name)}>{org.name}</Link>
                    {org.role && <span class="muted"> · your role: {org.role}</span>}
                  </li>
                ))}
              </ul>
            )
          }
        </Show>
      </section>
      <section aria-labelledby="sites-heading">
        <h2 id="sites-heading">Sites</h2>
        <Show loaded={sites} what="sites">
          {(items) =>
            items.length === 0 ? (
              <Empty>
                No site you can see yet. Create one with <code>lockbox site:create NAME --org=ORG</code>.
              </Empty>
            ) : (
              <TableRegion label="Sites">
                <table>
                  <caption class="visually-hidden">Sites you can see</caption>
                  <thead>
                    <tr>
                      <th scope="col">Site</th>
                      <th scope="col">Owner</th>
                      <th scope="col">Pages</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((site) => (
                      <tr key={site.id}>
                        <th scope="row">
                          <Link href={pathOf("sites", site.name)}>{site.name}</Link>
                        </th>
                        <td>
                          {site.owner.kind === "org" ? "org " : "person "}
                          {site.owner.name}
                        </td>
                        <td class="links">
                          <Link href={pathOf("sites", site.name, "secrets")}>Secrets</Link>
                          <Link href={pathOf("sites", site.name, "resolve")}>Resolve</Link>
                          <Link href={pathOf("sites", site.name, "tokens")}>Tokens</Link>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableRegion>
            )
          }
        </Show>
      </section>
    </>
  );
}
