import { render } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, loadSession, type Session, saveSession, whenUnauthenticated } from "./api";
import { Link, useTitle } from "./components";
import { pathOf, type Route, useRoute } from "./router";
import { SignIn } from "./signin";
import "./styles.css";
import { AuditView } from "./views/audit";
import { HistoryView } from "./views/history";
import { HomeView } from "./views/home";
import { OrgView } from "./views/org";
import { ResolveView } from "./views/resolve";
import { SecretsView } from "./views/secrets";
import { SiteView } from "./views/site";
import { TokensView } from "./views/tokens";

function App() {
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [reason, setReason] = useState<string | undefined>();
  const route = useRoute();

  const signedIn = useCallback((next: Session) => {
    saveSession(next);
    setReason(undefined);
    setSession(next);
  }, []);

  useEffect(() => {
    whenUnauthenticated((message) => {
      saveSession(undefined);
      setSession(undefined);
      setReason(`You are signed out: ${message} Run 'lockbox ui' for a new sign-in link.`);
    });
  }, []);

  const signOut = async () => {
    const current = session;
    // A session from a sign-in link is revoked; a pasted user token is only forgotten by this tab.
    if (current?.sessionId) {
      await api("DELETE", `/v1/tokens/${encodeURIComponent(current.sessionId)}`).catch(() => undefined);
    }
    saveSession(undefined);
    setSession(undefined);
    setReason(
      current?.sessionId
        ? "Signed out: the session token is revoked."
        : "Signed out: this tab forgot the token (it stays valid until revoked with lockbox token:revoke).",
    );
  };

  if (!session) return <SignIn onSignedIn={signedIn} reason={reason} />;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href={pathOf()} class="brand">
          Lockbox
        </Link>
        <nav aria-label="Main">
          <Link href={pathOf()} current={route.view === "home"}>
            Overview
          </Link>
          <Link href={pathOf("audit")} current={route.view === "audit"}>
            Audit log
          </Link>
        </nav>
        <div class="who">
          <span class="email">{session.email}</span>
          <button type="button" class="secondary" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <View route={route} />
      </main>
    </>
  );
}

function View(props: { route: Route }) {
  const { route } = props;
  switch (route.view) {
    case "home":
      return <HomeView />;
    case "org":
      return <OrgView org={route.org} />;
    case "site":
      return <SiteView site={route.site} />;
    case "secrets":
      return <SecretsView site={route.site} />;
    case "history":
      return <HistoryView owner={route.owner} name={route.name} />;
    case "resolve":
      return <ResolveView site={route.site} />;
    case "tokens":
      return <TokensView site={route.site} />;
    case "audit":
      return <AuditView />;
    case "missing":
      return <Missing />;
  }
}

function Missing() {
  useTitle("Page not found");
  return (
    <>
      <h1>Page not found</h1>
      <p>
        There is no such page in the dashboard. <Link href={pathOf()}>Go to the overview</Link>.
      </p>
    </>
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
