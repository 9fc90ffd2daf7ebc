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
import { pathOf, type SecretOwner } from "../router";
import type { Org, SiteInfo } from "../types";
import { canChangeOrgSecrets, ORG_ENVS } from "./org";
import { ownerPath, secretUrl } from "./secret-form";
import { SiteNav } from "./site-nav";

interface Version {
  version: number;
  at: string;
  actor: string;
  action: string;
}

/** What the history page needs to know of a secret's owner, as the caller sees it. */
interface OwnerFacts {
  /** The environments whose override can be chosen, besides the base value. */
  readonly envs: readonly string[];
  /** Whether the server would let the caller roll back: restore controls are shown only then. */
  readonly canRollback: boolean;
}

async function loadOwnerFacts(owner: SecretOwner): Promise<OwnerFacts> {
  if (owner.kind === "site") {
    const info = await api<SiteInfo>("GET", `/v1/sites/${seg(owner.name)}`);
    // Whoever may read a site secret's history manages the site, and managers may roll back.
    return { envs: info.environments.map((env) => env.name), canRollback: true };
  }
  const org = await api<Org>("GET", `/v1/orgs/${seg(owner.name)}`);
  // An org has no list of environments: the org page learns its other override names from the
  // secrets listing, which decrypts every value and is audited as a read. The standard ones are
  // offered here rather than reading all the org's values to open one secret's history.
  return { envs: ORG_ENVS, canRollback: canChangeOrgSecrets(org) };
}

/**
 * A secret's versions (the base value or one override), newest first, with restore: a site's
 * secret or an organization's, the same page. The server decides access: history is read by who
 * may list the owner's secrets (site managers, org members) and rolled back by who may set them
 * (site managers, org admins); others see the versions without restore buttons.
 */
export function HistoryView(props: { owner: SecretOwner; name: string }) {
  const { owner, name } = props;
  const base = ownerPath(owner.kind, owner.name);
  const ownerKey = `${owner.kind}:${owner.name}`;
  useTitle(`History of ${name} · ${owner.name}`);
  const [env, setEnv] = useState("");
  const [before, setBefore] = useState<number[]>([]);
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  const [facts] = useLoad(() => loadOwnerFacts(owner), `history-owner:${ownerKey}`);
  const cursor = before[before.length - 1];
  const [versions, reload] = useLoad(
    () =>
      api<{ items: Version[]; next?: string | null }>("GET", `${secretUrl(base, name)}/versions`, {
        query: { env: env || undefined, limit: 50, before: cursor },
      }),
    `versions:${ownerKey}:${name}:${env}:${cursor ?? ""}`,
  );
  const restore = async (version: number) => {
    setOutcome(undefined);
    try {
      const answer = await api<{ message: string; version: number; from: number }>(
        "POST",
        `${secretUrl(base, name)}/rollback`,
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
  // Whoever reads a site secret's history may roll it back; an org's answer waits for the org.
  const canRollback = owner.kind === "site" || (facts.state === "ready" && facts.data.canRollback);
  return (
    <>
      <h1>
        History of {name}{" "}
        <span class="muted">
          {owner.kind === "site" ? `in ${owner.name}` : `in organization ${owner.name}`}
        </span>
      </h1>
      {owner.kind === "site" && <SiteNav site={owner.name} current="history" />}
      <p>
        {owner.kind === "site" ? (
          <Link href={pathOf("sites", owner.name, "secrets")}>Back to the secrets</Link>
        ) : (
          <Link href={pathOf("orgs", owner.name)}>Back to the organization</Link>
        )}
      </p>
      <Show loaded={facts} what={owner.kind === "site" ? "the site" : "the organization"}>
        {(data) => (
          <>
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
                  {data.envs.map((item) => (
                    <option key={item} value={item}>
                      {item} override
                    </option>
                  ))}
                </select>
              </Field>
            </form>
            {!data.canRollback && (
              <p class="muted legend">
                Only an admin of {owner.name} can roll back its secrets; members see their history.
              </p>
            )}
          </>
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
                      {canRollback && <th scope="col">Restore</th>}
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
                        {canRollback && (
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
                        )}
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
