import { useState } from "preact/hooks";
import { api, seg } from "../api";
import { Badge, Empty, Field, Show, TableRegion, useLoad, useTitle } from "../components";
import { type ResolvedRow, SCOPES, type SiteInfo } from "../types";
import { SiteNav } from "./site-nav";

const SOURCES: Readonly<Record<string, string>> = {
  "site-override": "site override",
  site: "site",
  "org-override": "org override",
  org: "organization",
};

/** What one environment of a site receives for one consumer scope, and where each value comes from. */
export function ResolveView(props: { site: string }) {
  const { site } = props;
  useTitle(`Resolve · ${site}`);
  const [env, setEnv] = useState("live");
  const [scope, setScope] = useState("web");
  const [revealed, setRevealed] = useState<string | undefined>();
  const [info] = useLoad(() => api<SiteInfo>("GET", `/v1/sites/${seg(site)}`), `site:${site}`);
  const [rows] = useLoad(
    () =>
      api<{ items: ResolvedRow[] }>("GET", `/v1/sites/${seg(site)}/resolve`, {
        query: { env: env || undefined, scope },
      }).then((answer) => answer.items),
    `resolve:${site}:${env}:${scope}`,
  );
  return (
    <>
      <h1>
        Resolve <span class="muted">{site}</span>
      </h1>
      <SiteNav site={site} current="resolve" />
      <Show loaded={info} what="the site">
        {(data) => (
          <form class="row panel" onSubmit={(event) => event.preventDefault()} aria-label="What to resolve">
            <Field label="Environment" id="resolve-env">
              <select id="resolve-env" value={env} onChange={(e) => setEnv(e.currentTarget.value)}>
                <option value="">Base values (no environment)</option>
                {data.environments.map((item) => (
                  <option key={item.name} value={item.name}>
                    {item.name}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Scope (who reads)" id="resolve-scope">
              <select id="resolve-scope" value={scope} onChange={(e) => setScope(e.currentTarget.value)}>
                {SCOPES.map((item) => (
                  <option key={item} value={item}>
                    {item === "ic"
                      ? "ic (builds)"
                      : item === "web"
                        ? "web (the application)"
                        : "user (people)"}
                  </option>
                ))}
              </select>
            </Field>
          </form>
        )}
      </Show>
      <Show loaded={rows} what="the resolution">
        {(items) =>
          items.length === 0 ? (
            <Empty>
              Nothing reaches the {scope} scope {env ? `in ${env}` : "in the base values"}. Give a secret that
              scope on the Secrets page.
            </Empty>
          ) : (
            <TableRegion label="Resolved secrets">
              <table>
                <caption class="visually-hidden">
                  Resolved for {scope} {env ? `in ${env}` : "(base values)"}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Secret</th>
                    <th scope="col">Type</th>
                    <th scope="col">Winning value</th>
                    <th scope="col">Source</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((row) => {
                    const shown = revealed === row.name;
                    return (
                      <tr key={row.name}>
                        <th scope="row">{row.name}</th>
                        <td>
                          <Badge kind="type">{row.type}</Badge>
                        </td>
                        <td>
                          {row.value === null ? (
                            <Badge
                              kind="redacted"
                              title="Without the user scope, people cannot read this value"
                            >
                              redacted
                            </Badge>
                          ) : (
                            <>
                              {shown ? (
                                <code class="value">{row.value === "" ? "(empty)" : row.value}</code>
                              ) : (
                                <span class="hidden-value">••••••</span>
                              )}{" "}
                              <button
                                type="button"
                                class="link"
                                aria-pressed={shown}
                                aria-label={`${shown ? "Hide" : "Reveal"} the value of ${row.name}`}
                                onClick={() => setRevealed(shown ? undefined : row.name)}
                              >
                                {shown ? "Hide" : "Reveal"}
                              </button>
                            </>
                          )}
                        </td>
                        <td data-testid={`source-${row.name}`}>{SOURCES[row.source] ?? row.source}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </TableRegion>
          )
        }
      </Show>
    </>
  );
}
