import { useEffect, useState } from "preact/hooks";

/** The dashboard's routes live under /ui/; names in paths are percent-encoded, never a value. */
export const BASE = "/ui";

/** Who owns a secret whose page is shown: a site or an organization, by name. */
export interface SecretOwner {
  readonly kind: "site" | "org";
  readonly name: string;
}

/** A route as parsed from the path: its name and its decoded parameters. */
export type Route =
  | { readonly view: "home" }
  | { readonly view: "org"; readonly org: string }
  | { readonly view: "site"; readonly site: string }
  | { readonly view: "secrets"; readonly site: string }
  | { readonly view: "history"; readonly owner: SecretOwner; readonly name: string }
  | { readonly view: "resolve"; readonly site: string }
  | { readonly view: "tokens"; readonly site: string }
  | { readonly view: "audit" }
  | { readonly view: "missing"; readonly path: string };

export function parseRoute(pathname: string): Route {
  const rest = pathname.startsWith(`${BASE}/`) ? pathname.slice(BASE.length + 1) : "";
  const parts = rest.split("/").filter((part) => part !== "");
  let decoded: string[];
  try {
    decoded = parts.map((part) => decodeURIComponent(part));
  } catch {
    return { view: "missing", path: pathname };
  }
  const [first, second, third, fourth, fifth] = decoded;
  if (first === undefined) return { view: "home" };
  if (first === "audit" && second === undefined) return { view: "audit" };
  if (first === "orgs" && second !== undefined) {
    if (third === undefined) return { view: "org", org: second };
    if (third === "secrets" && fourth !== undefined && fifth === "history" && decoded.length === 5)
      return { view: "history", owner: { kind: "org", name: second }, name: fourth };
  }
  if (first === "sites" && second !== undefined) {
    if (third === undefined) return { view: "site", site: second };
    if (third === "secrets" && fourth === undefined) return { view: "secrets", site: second };
    if (third === "secrets" && fourth !== undefined && fifth === "history" && decoded.length === 5)
      return { view: "history", owner: { kind: "site", name: second }, name: fourth };
    if (third === "resolve" && fourth === undefined) return { view: "resolve", site: second };
    if (third === "tokens" && fourth === undefined) return { view: "tokens", site: second };
  }
  return { view: "missing", path: pathname };
}

/** The path of a route's page. */
export function pathOf(...parts: string[]): string {
  return `${BASE}/${parts.map((part) => encodeURIComponent(part)).join("/")}`;
}

/** The path of the history page of `owner`'s secret `name`. */
export function historyPath(owner: SecretOwner, name: string): string {
  return pathOf(owner.kind === "site" ? "sites" : "orgs", owner.name, "secrets", name, "history");
}

const listeners = new Set<() => void>();

/** Goes to `path` in this tab, without a reload. */
export function navigate(path: string): void {
  history.pushState(null, "", path);
  for (const listener of listeners) listener();
  window.scrollTo(0, 0);
}

/** The current route, re-rendered on navigation (links and the back button). */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname));
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return route;
}
