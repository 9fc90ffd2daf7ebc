import { useState } from "preact/hooks";
import { api, listAll, seg } from "../api";
import {
  asApiError,
  Badge,
  Empty,
  Field,
  type Outcome,
  OutcomeNotice,
  Show,
  TableRegion,
  useLoad,
  useTitle,
} from "../components";
import type { CreatedToken, SiteInfo, TokenInfo } from "../types";
import { SiteNav } from "./site-nav";

/** A site's runtime and build tokens: create (shown once, with a copy button) and revoke. */
export function TokensView(props: { site: string }) {
  const { site } = props;
  useTitle(`Tokens · ${site}`);
  const [info] = useLoad(() => api<SiteInfo>("GET", `/v1/sites/${seg(site)}`), `site:${site}`);
  const [tokens, reload] = useLoad(() => listAll<TokenInfo>("/v1/tokens", { site }), `tokens:${site}`);
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  const [created, setCreated] = useState<CreatedToken | undefined>();

  const revoke = async (token: TokenInfo) => {
    setOutcome(undefined);
    try {
      await api("DELETE", `/v1/tokens/${seg(token.id)}`);
      setOutcome({
        ok: true,
        message: `Revoked the ${token.kind} token ${token.id} of ${token.environment}.`,
      });
    } catch (error) {
      setOutcome({ ok: false, error: asApiError(error) });
    }
    reload();
  };

  return (
    <>
      <h1>
        Tokens <span class="muted">of {site}</span>
      </h1>
      <SiteNav site={site} current="tokens" />
      <Show loaded={info} what="the site">
        {(data) => (
          <CreateTokenForm
            site={site}
            envs={data.environments.map((env) => env.name)}
            onCreated={(token) => {
              setCreated(token);
              setOutcome(undefined);
              reload();
            }}
          />
        )}
      </Show>
      {created && <NewToken token={created} onDismiss={() => setCreated(undefined)} />}
      <OutcomeNotice outcome={outcome} />
      <section aria-labelledby="token-list-heading">
        <h2 id="token-list-heading">Tokens of this site</h2>
        <Show loaded={tokens} what="tokens">
          {(items) =>
            items.length === 0 ? (
              <Empty>No runtime or build tokens yet. Create one above for the application or a build.</Empty>
            ) : (
              <TableRegion label="Tokens">
                <table>
                  <caption class="visually-hidden">Tokens of {site}</caption>
                  <thead>
                    <tr>
                      <th scope="col">Token id</th>
                      <th scope="col">Kind</th>
                      <th scope="col">Environment</th>
                      <th scope="col">Last used</th>
                      <th scope="col">Expires</th>
                      <th scope="col">State</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((token) => (
                      <tr key={token.id}>
                        <td>
                          <code>{token.id.slice(0, 8)}</code>
                        </td>
                        <td>
                          <Badge kind="type">{token.kind}</Badge>
                        </td>
                        <td>{token.environment}</td>
                        <td>{token.lastUsedAt ? new Date(token.lastUsedAt).toLocaleString() : "never"}</td>
                        <td>{token.expiresAt ? new Date(token.expiresAt).toLocaleString() : "never"}</td>
                        <td>
                          {token.revokedAt ? (
                            <Badge kind="redacted">revoked</Badge>
                          ) : (
                            <button
                              type="button"
                              class="link danger"
                              aria-label={`Revoke the ${token.kind} token ${token.id.slice(0, 8)} of ${token.environment}`}
                              onClick={() => revoke(token)}
                            >
                              Revoke
                            </button>
                          )}
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

function CreateTokenForm(props: {
  site: string;
  envs: readonly string[];
  onCreated: (token: CreatedToken) => void;
}) {
  const [kind, setKind] = useState("runtime");
  const [env, setEnv] = useState(props.envs.includes("live") ? "live" : (props.envs[0] ?? ""));
  const [expiresIn, setExpiresIn] = useState("");
  const [error, setError] = useState<Outcome | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const token = await api<CreatedToken>("POST", "/v1/tokens", {
        body: { kind, site: props.site, env, ...(expiresIn.trim() ? { expiresIn: expiresIn.trim() } : {}) },
      });
      props.onCreated(token);
    } catch (failure) {
      setError({ ok: false, error: asApiError(failure) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel stack" onSubmit={submit} aria-labelledby="create-token-heading">
      <h2 id="create-token-heading">Create a token</h2>
      <div class="row">
        <Field
          label="Kind"
          id="token-kind"
          hint="Runtime: the application reads its secrets. Build: dev and multidevs only."
        >
          <select
            id="token-kind"
            value={kind}
            aria-describedby="token-kind-hint"
            onChange={(e) => setKind(e.currentTarget.value)}
          >
            <option value="runtime">runtime</option>
            <option value="build">build</option>
          </select>
        </Field>
        <Field label="Environment" id="token-env">
          <select id="token-env" value={env} onChange={(e) => setEnv(e.currentTarget.value)}>
            {props.envs.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </Field>
        <Field
          label="Expires in (optional)"
          id="token-expires"
          hint="Such as 30m, 12h or 90d; empty: until revoked."
        >
          <input
            id="token-expires"
            autocomplete="off"
            value={expiresIn}
            aria-describedby="token-expires-hint"
            onInput={(e) => setExpiresIn(e.currentTarget.value)}
          />
        </Field>
      </div>
      <div>
        <button type="submit" disabled={busy}>
          {busy ? "Creating…" : "Create token"}
        </button>
      </div>
      <OutcomeNotice outcome={error} />
    </form>
  );
}

/** A token just created: shown this once, with a copy button. */
function NewToken(props: { token: CreatedToken; onDismiss: () => void }) {
  const [copied, setCopied] = useState<string | undefined>();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.token.token);
      setCopied("Copied to the clipboard.");
    } catch {
      setCopied("The browser refused the clipboard: select the token and copy it.");
    }
  };
  return (
    <div class="notice success" role="status">
      <p>
        Created a {props.token.kind} token for {props.token.environment}. It is shown only this once: store it
        now.
      </p>
      <div class="row">
        <label for="new-token" class="visually-hidden">
          The new token
        </label>
        <input
          id="new-token"
          class="token"
          readOnly
          value={props.token.token}
          onFocus={(e) => e.currentTarget.select()}
        />
        <button type="button" onClick={copy}>
          Copy
        </button>
        <button type="button" class="secondary" onClick={props.onDismiss}>
          Done
        </button>
      </div>
      {copied && <p>{copied}</p>}
    </div>
  );
}
