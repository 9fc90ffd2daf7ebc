import type { ComponentChildren, JSX } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError } from "./api";
import { navigate } from "./router";

/** A link inside the dashboard: a real `<a href>` (keyboard, new tab), routed without a reload. */
export function Link(props: {
  href: string;
  children: ComponentChildren;
  class?: string;
  current?: boolean;
}) {
  const onClick = (event: MouseEvent) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.href);
  };
  return (
    <a
      href={props.href}
      class={props.class}
      onClick={onClick}
      {...(props.current ? { "aria-current": "page" as const } : {})}
    >
      {props.children}
    </a>
  );
}

/** The state of a load: pending, failed (with what to do), or its data. */
export type Loaded<T> =
  | { readonly state: "loading" }
  | { readonly state: "error"; readonly error: ApiError }
  | { readonly state: "ready"; readonly data: T };

/** Loads `load()` when `key` changes; `reload` loads again (after a write). */
export function useLoad<T>(load: () => Promise<T>, key: string): [Loaded<T>, () => void] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading" });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (data) => current && setLoaded({ state: "ready", data }),
      (error: unknown) => current && setLoaded({ state: "error", error: asApiError(error) }),
    );
    return () => {
      current = false;
    };
  }, [key, generation]);
  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  return [loaded, reload];
}

export function asApiError(error: unknown): ApiError {
  return error instanceof ApiError
    ? error
    : new ApiError(0, "CLIENT", error instanceof Error ? error.message : "Something went wrong.");
}

/** Renders a load: a loading line, an error that says what to do, or `children(data)`. */
export function Show<T>(props: {
  loaded: Loaded<T>;
  what: string;
  children: (data: T) => ComponentChildren;
}) {
  if (props.loaded.state === "loading") return <Loading what={props.what} />;
  if (props.loaded.state === "error") return <ErrorNotice error={props.loaded.error} />;
  return <>{props.children(props.loaded.data)}</>;
}

export function Loading(props: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {props.what}…
    </p>
  );
}

/** What the server said, and what to do next for the common cases. */
export function ErrorNotice(props: { error: ApiError }) {
  const { error } = props;
  const next =
    error.status === 404
      ? "Check the name, or go back to the overview: you only see what you have access to."
      : error.status === 403
        ? "Ask an admin of the organization for access."
        : error.code === "NETWORK"
          ? "Retry when the server is reachable."
          : undefined;
  return (
    <div class="notice error" role="alert">
      <p>
        <strong>{error.status === 404 ? "Not found" : "Error"}:</strong> {error.message}
      </p>
      {next && <p>{next}</p>}
    </div>
  );
}

/** An empty listing: says so, and what to do next. */
export function Empty(props: { children: ComponentChildren }) {
  return <p class="empty">{props.children}</p>;
}

export function Badge(props: { children: ComponentChildren; kind?: string; title?: string }) {
  return (
    <span class={`badge ${props.kind ?? ""}`} {...(props.title ? { title: props.title } : {})}>
      {props.children}
    </span>
  );
}

/** The outcome of a write, shown inline (never an alert box): the server's message and notes, or its error. */
export type Outcome =
  | { readonly ok: true; readonly message: string; readonly notes?: readonly string[] }
  | { readonly ok: false; readonly error: ApiError };

export function OutcomeNotice(props: { outcome: Outcome | undefined }) {
  const { outcome } = props;
  if (!outcome) return null;
  if (!outcome.ok) return <ErrorNotice error={outcome.error} />;
  return (
    <div class="notice success" role="status">
      <p>{outcome.message}</p>
      {outcome.notes?.map((note) => (
        <p key={note} class="note">
          Note: {note}
        </p>
      ))}
    </div>
  );
}

/** A wide table in a region that scrolls sideways on a narrow screen (and is keyboard-focusable). */
export function TableRegion(props: { label: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard.
    <section class="table-region" aria-label={props.label} tabIndex={0}>
      {props.children}
    </section>
  );
}

export function Field(props: { label: string; id: string; hint?: string; children: JSX.Element }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && (
        <small id={`${props.id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
    </div>
  );
}

/** Sets the tab's title: names only, never a value. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Lockbox`;
  }, [title]);
}
