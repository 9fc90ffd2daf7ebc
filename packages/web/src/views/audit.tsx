import { useState } from "preact/hooks";
import { api } from "../api";
import { Empty, Field, Show, TableRegion, useLoad, useTitle } from "../components";
import type { AuditEvent } from "../types";

interface Filters {
  readonly org: string;
  readonly site: string;
  readonly since: string;
}
const NONE: Filters = { org: "", site: "", since: "" };
const PAGE = 20;

/** The audit log, newest first, filtered by organization, site and time, a page at a time. */
export function AuditView() {
  useTitle("Audit log");
  const [draft, setDraft] = useState<Filters>(NONE);
  const [filters, setFilters] = useState<Filters>(NONE);
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const [events] = useLoad(
    () =>
      api<{ items: AuditEvent[]; next?: string | null }>("GET", "/v1/audit", {
        query: { org: filters.org, site: filters.site, since: filters.since, limit: PAGE, before: cursor },
      }),
    `audit:${JSON.stringify(filters)}:${cursor ?? ""}`,
  );
  const apply = (event: Event) => {
    event.preventDefault();
    setFilters({ org: draft.org.trim(), site: draft.site.trim(), since: draft.since.trim() });
    setCursors([]);
  };
  const input = (key: keyof Filters, label: string, hint: string) => (
    <Field label={label} id={`audit-${key}`} hint={hint}>
      <input
        id={`audit-${key}`}
        autocomplete="off"
        value={draft[key]}
        aria-describedby={`audit-${key}-hint`}
        onInput={(e) => setDraft({ ...draft, [key]: e.currentTarget.value })}
      />
    </Field>
  );
  return (
    <>
      <h1>Audit log</h1>
      <form class="panel stack" onSubmit={apply} aria-label="Filter the audit log">
        <div class="row">
          {input("org", "Organization", "Org admins see their organization's events.")}
          {input("site", "Site", "Site managers see their site's events.")}
          {input("since", "Since", "An ISO date such as 2026-11-01.")}
        </div>
        <div>
          <button type="submit">Filter</button>
        </div>
      </form>
      <Show loaded={events} what="audit events">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No events match. Widen the filters, or clear them to see everything you may see.</Empty>
          ) : (
            <>
              <TableRegion label="Audit events">
                <table>
                  <caption class="visually-hidden">Audit events, newest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Who</th>
                      <th scope="col">Action</th>
                      <th scope="col">Target</th>
                      <th scope="col">Environment</th>
                      <th scope="col">Outcome</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((event) => (
                      <tr key={event.id}>
                        <td>{new Date(event.at).toLocaleString()}</td>
                        <td>{event.actorEmail ?? event.actor}</td>
                        <td>
                          <code>{event.action}</code>
                        </td>
                        <td class="target">{event.target}</td>
                        <td>{event.environment ?? ""}</td>
                        <td>{event.outcome}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableRegion>
              <div class="pager">
                {cursors.length > 0 && (
                  <button type="button" class="secondary" onClick={() => setCursors(cursors.slice(0, -1))}>
                    Newer events
                  </button>
                )}
                {page.next && (
                  <button
                    type="button"
                    class="secondary"
                    onClick={() => setCursors([...cursors, String(page.next)])}
                  >
                    Older events
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
