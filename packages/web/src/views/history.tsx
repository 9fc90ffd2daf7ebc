import { useState } from "preact/hooks";
import { api, seg } from "../api";
import {
  asApiError,
  Badge,
  Empty,
  Field,
  Link,
  type Outcome,
  OutcomeNotice,
  Show,
  TableRegion,
  useLoad,
  useTitle,
} from "../components";
import { pathOf } from "../router";
import type { SiteInfo } from "../types";
import { SiteNav } from "./site-nav";

interface Version {
  version: number;
  at: string;
  actor: string;
  action: string;
}

/** A site secret's versions (the base value or one override), newest first, with restore. */
export function HistoryView(props: { site: string; name: string }) {
  const { site, name } = props;
  useTitle(`History of ${name} · ${site}`);
  const [env, setEnv] = useState("");
  const [before, setBefore] = useState<number[]>([]);
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  const [info] = useLoad(() => api<SiteInfo>("GET", `/v1/sites/${seg(site)}`), `site:${site}`);
  const cursor = before[before.length - 1];
  const [versions, reload] = useLoad(
    () =>
      api<{ items: Version[]; next?: string | null }>(
        "GET",
        `/v1/sites/${seg(site)}/secrets/${seg(name)}/versions`,
        { query: { env: env || undefined, limit: 50, before: cursor } },
      ),
    `versions:${site}:${name}:${env}:${cursor ?? ""}`,
  );
  const restore = async (version: number) => {
    setOutcome(undefined);
    try {
      const answer = await api<{ message: string; version: number; from: number }>(
        "POST",
        `/v1/sites/${seg(site)}/secrets/${seg(name)}/rollback`,
        { body: { to: version, ...(env ? { env } : {}) } },
      );
      setOutcome({
        ok: true,
        message: `${answer.message} Version ${answer.version} now holds version ${answer.from}'s value.`,
      });
      setBefore([]);
      reload();
    } catch (error) {
      setOutcome({ ok: false, error: asApiError(error) });
    }
  };
  return (
    <>
      <h1>
        History of {name} <span class="muted">in {site}</span>
      </h1>
      <SiteNav site={site} current="history" />
      <p>
        <Link href={pathOf("sites", site, "secrets")}>Back to the secrets</Link>
      </p>
      <Show loaded={info} what="the site">
        {(data) => (
          <form class="row panel" onSubmit={(event) => event.preventDefault()} aria-label="Which value">
            <Field label="Value slot" id="history-env">
              <select
                id="history-env"
                value={env}
                onChange={(e) => {
                  setEnv(e.currentTarget.value);
                  setBefore([]);
                }}
              >
                <option value="">Base value</option>
                {data.environments.map((item) => (
                  <option key={item.name} value={item.name}>
                    {item.name} override
                  </option>
                ))}
              </select>
            </Field>
          </form>
        )}
      </Show>
      <OutcomeNotice outcome={outcome} />
      <Show loaded={versions} what="versions">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No versions of this value yet: setting it creates the first.</Empty>
          ) : (
            <>
              <TableRegion label="Versions">
                <table>
                  <caption class="visually-hidden">Versions of {name}</caption>
                  <thead>
                    <tr>
                      <th scope="col">Version</th>
                      <th scope="col">Change</th>
                      <th scope="col">By</th>
                      <th scope="col">When</th>
                      <th scope="col">Restore</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((item, index) => (
                      <tr key={item.version}>
                        <td>{item.version}</td>
                        <td>
                          <Badge kind="type">{item.action}</Badge>
                        </td>
                        <td>{item.actor}</td>
                        <td>{new Date(item.at).toLocaleString()}</td>
                        <td>
                          {index === 0 && cursor === undefined ? (
                            <span class="muted">current</span>
                          ) : item.action === "delete" ? (
                            <span class="muted">—</span>
                          ) : (
                            <button
                              type="button"
                              class="link"
                              aria-label={`Restore version ${item.version}`}
                              onClick={() => restore(item.version)}
                            >
                              Restore
                            </button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableRegion>
              <div class="pager">
                {before.length > 0 && (
                  <button type="button" class="secondary" onClick={() => setBefore(before.slice(0, -1))}>
                    Newer
                  </button>
                )}
                {page.next && (
                  <button
                    type="button"
                    class="secondary"
                    onClick={() => setBefore([...before, Number(page.next)])}
                  >
                    Older
                  </button>
                )}
              </div>
            </>
          )
        }
      </Show>
    </>
  );
}
