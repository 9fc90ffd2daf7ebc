import { Link } from "../components";
import { pathOf } from "../router";

/** The pages of one site. */
export function SiteNav(props: {
  site: string;
  current: "site" | "secrets" | "resolve" | "tokens" | "history";
}) {
  const { site, current } = props;
  const pages = [
    ["site", "Overview", pathOf("sites", site)],
    ["secrets", "Secrets", pathOf("sites", site, "secrets")],
    ["resolve", "Resolve", pathOf("sites", site, "resolve")],
    ["tokens", "Tokens", pathOf("sites", site, "tokens")],
  ] as const;
  return (
    <nav class="tabs" aria-label={`Site ${site}`}>
      {pages.map(([key, label, href]) => (
        <Link key={key} href={href} current={current === key}>
          {label}
        </Link>
      ))}
    </nav>
  );
}
