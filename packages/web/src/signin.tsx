import { useEffect, useState } from "preact/hooks";
import { ApiError, api, type Session } from "./api";
import { ErrorNotice, Field, Loading, useTitle } from "./components";

interface Whoami {
  user: { email: string };
  token: { id: string; kind: string; expiresAt: string | null };
}
interface CreatedToken {
  id: string;
  token: string;
  user: string | null;
  expiresAt: string | null;
}

/** The link's secret, if the page was opened with `#signin=…` (the fragment never reaches a server). */
function linkSecret(): string | undefined {
  const match = /^#signin=([A-Za-z0-9_-]+)$/.exec(location.hash);
  return match?.[1];
}

/**
 * Sign-in: a `lockbox ui` link is exchanged at once (and its secret taken out of the address bar
 * and the history with replaceState); else a user token can be pasted.
 */
export function SignIn(props: { onSignedIn: (session: Session) => void; reason?: string | undefined }) {
  useTitle("Sign in");
  const [secret] = useState(linkSecret);
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(secret !== undefined);
  const [token, setToken] = useState("");
  // A link's session waits for "Continue as …": a link someone else sent must not silently sign
  // this tab in as them (the header's email would be the only sign).
  const [pending, setPending] = useState<Session | undefined>();
  const [declined, setDeclined] = useState(false);

  // Once, at start: a link works once.
  useEffect(() => {
    if (secret === undefined) return;
    // The secret leaves the address bar and the history before anything else happens.
    history.replaceState(null, "", location.pathname + location.search);
    api<CreatedToken>("POST", "/v1/ui/sessions", { body: { secret } }).then(
      (created) => {
        setPending({
          token: created.token,
          sessionId: created.id,
          email: created.user ?? "",
          expiresAt: created.expiresAt,
        });
        setBusy(false);
      },
      (failure: unknown) => {
        setError(failure instanceof ApiError ? failure : new ApiError(0, "CLIENT", String(failure)));
        setBusy(false);
      },
    );
  }, []);

  const submit = async (event: Event) => {
    event.preventDefault();
    const pasted = token.trim();
    if (!/^lbx_[A-Za-z0-9_-]{43}$/.test(pasted)) {
      setError(
        new ApiError(
          0,
          "BAD_TOKEN",
          "That is not a user token: user tokens start with lbx_ and are 47 characters long. Runtime (lbr_) and build (lbb_) tokens cannot sign in.",
        ),
      );
      return;
    }
    setBusy(true);
    try {
      const who = await api<Whoami>("GET", "/v1/whoami", { token: pasted });
      setToken("");
      props.onSignedIn({ token: pasted, email: who.user.email, expiresAt: who.token.expiresAt });
    } catch (failure) {
      setError(failure instanceof ApiError ? failure : new ApiError(0, "CLIENT", String(failure)));
      setBusy(false);
    }
  };

  const decline = async (session: Session) => {
    setPending(undefined);
    setDeclined(true);
    try {
      await api("DELETE", `/v1/tokens/${encodeURIComponent(session.sessionId ?? "")}`, {
        token: session.token,
      });
    } catch {
      // It expires within 12 hours anyway; nothing kept it in this tab.
    }
  };

  if (pending) {
    return (
      <main id="main" class="signin">
        <h1>Sign in to Lockbox</h1>
        <section class="panel stack" aria-labelledby="confirm-heading">
          <h2 id="confirm-heading">Continue as {pending.email}?</h2>
          <p>
            This sign-in link opens a session of <strong>{pending.email}</strong>. Continue only if it is your
            own link, printed by <code>lockbox ui</code> in your terminal.
          </p>
          <div class="row">
            <button type="button" onClick={() => props.onSignedIn(pending)}>
              Continue as {pending.email}
            </button>
            <button type="button" class="secondary" onClick={() => decline(pending)}>
              Not me: end this session
            </button>
          </div>
        </section>
      </main>
    );
  }

  return (
    <main id="main" class="signin">
      <h1>Sign in to Lockbox</h1>
      {declined && (
        <div class="notice" role="status">
          <p>That session was ended. Sign in with a link of your own (lockbox ui) or your user token.</p>
        </div>
      )}
      {busy && <Loading what="your session" />}
      {props.reason && !busy && (
        <div class="notice" role="status">
          <p>{props.reason}</p>
        </div>
      )}
      {error && <ErrorNotice error={error} />}
      {!busy && (
        <>
          <section aria-labelledby="link-heading">
            <h2 id="link-heading">With a sign-in link</h2>
            <p>
              Run <code>lockbox ui</code> in a terminal where you are logged in, and open the link it prints.
              A link works once, for 5 minutes; the session it opens lasts 12 hours and ends when you sign
              out.
            </p>
          </section>
          <section aria-labelledby="token-heading">
            <h2 id="token-heading">Or with a user token</h2>
            <form onSubmit={submit} class="stack">
              <Field
                label="User token"
                id="paste-token"
                hint="Kept in this tab only (sessionStorage) and forgotten at sign-out; signing out does not revoke it."
              >
                <input
                  id="paste-token"
                  type="password"
                  autocomplete="off"
                  spellcheck={false}
                  value={token}
                  aria-describedby="paste-token-hint"
                  onInput={(event) => setToken(event.currentTarget.value)}
                />
              </Field>
              <button type="submit">Sign in</button>
            </form>
          </section>
        </>
      )}
    </main>
  );
}
