import { Fragment } from "preact";
import { useState } from "preact/hooks";
import { Badge, Link, TableRegion } from "../components";

/** A row of a secrets grid: a site's (with its owner) or an organization's. */
export interface GridRow {
  readonly name: string;
  readonly type: string;
  readonly scopes: readonly string[];
  readonly value: string | null;
  readonly envValues: Readonly<Record<string, string | null>>;
  readonly owner?: "site" | "org";
}

/** What a row's delete buttons ask for: the whole secret, or one override. */
export interface DeleteRequest {
  readonly name: string;
  readonly env?: string | undefined;
}

/**
 * One row per secret, the base value and each environment's override in columns, type and scopes
 * as badges. Values the server redacted (no `user` scope) say so; readable values stay hidden
 * until revealed, one at a time (revealing another hides the first).
 */
export function SecretGrid(props: {
  label: string;
  rows: readonly GridRow[];
  envs: readonly string[];
  /** Whether the dashboard offers writes on this row (its owner is the page's). */
  editable: (row: GridRow) => boolean;
  onDelete: (request: DeleteRequest) => void;
  /** What a row without writes says in its Actions cell; by default an inherited row's note. */
  readOnlyNote?: string | undefined;
  /** The row's history page, or undefined for a row without one on this page. */
  historyHref?: ((row: GridRow) => string | undefined) | undefined;
}) {
  const [revealed, setRevealed] = useState<string | undefined>();
  const cell = (row: GridRow, env: string | undefined) => {
    const present = env === undefined || Object.hasOwn(row.envValues, env);
    const where = env === undefined ? "base value" : `${env} override`;
    if (!present) {
      return (
        <td class="none">
          <span aria-hidden="true">—</span>
          <span class="visually-hidden">no {where}</span>
        </td>
      );
    }
    const value = env === undefined ? row.value : (row.envValues[env] ?? null);
    const key = `${row.name}\u0000${env ?? ""}`;
    const canDelete = env !== undefined && props.editable(row);
    const deleteOverride = canDelete && (
      <button
        type="button"
        class="link danger"
        aria-label={`Delete the ${env} override of ${row.name}`}
        onClick={() => props.onDelete({ name: row.name, env })}
      >
        Delete
      </button>
    );
    if (value === null) {
      return (
        <td>
          <Badge kind="redacted" title="Without the user scope, people cannot read this value">
            redacted
          </Badge>
          <span class="visually-hidden"> (no user scope)</span> {deleteOverride}
        </td>
      );
    }
    const shown = revealed === key;
    return (
      <td>
        {shown ? (
          <code class="value" data-testid="revealed-value">
            {value === "" ? "(empty)" : value}
          </code>
        ) : (
          <span class="hidden-value">
            <span aria-hidden="true">••••••</span>
            <span class="visually-hidden">hidden</span>
          </span>
        )}{" "}
        <button
          type="button"
          class="link"
          aria-pressed={shown}
          aria-label={`${shown ? "Hide" : "Reveal"} the ${where} of ${row.name}`}
          onClick={() => setRevealed(shown ? undefined : key)}
        >
          {shown ? "Hide" : "Reveal"}
        </button>{" "}
        {deleteOverride}
      </td>
    );
  };
  const historyLink = (row: GridRow) => {
    const href = props.historyHref?.(row);
    return (
      href !== undefined && (
        <Link href={href}>
          History<span class="visually-hidden"> of {row.name}</span>
        </Link>
      )
    );
  };
  return (
    <TableRegion label={props.label}>
      <table class="grid">
        <caption class="visually-hidden">{props.label}</caption>
        <thead>
          <tr>
            <th scope="col">Secret</th>
            <th scope="col">Type and scopes</th>
            <th scope="col">Base value</th>
            {props.envs.map((env) => (
              <th scope="col" key={env}>
                {env}
              </th>
            ))}
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr key={row.name}>
              <th scope="row">
                <span class="name">{row.name}</span>
                {row.owner && (
                  <Badge
                    kind={`owner-${row.owner}`}
                    title={row.owner === "org" ? "Inherited from the organization" : "The site's own secret"}
                  >
                    {row.owner === "org" ? "org" : "site"}
                  </Badge>
                )}
              </th>
              <td>
                <Badge kind="type">{row.type}</Badge>
                {row.scopes.map((scope) => (
                  <Badge key={scope} kind={`scope scope-${scope}`}>
                    {scope}
                  </Badge>
                ))}
              </td>
              {cell(row, undefined)}
              {props.envs.map((env) => (
                <Fragment key={env}>{cell(row, env)}</Fragment>
              ))}
              <td class="links">
                {historyLink(row)}
                {props.editable(row) ? (
                  <button
                    type="button"
                    class="link danger"
                    aria-label={`Delete ${row.name} and all its overrides`}
                    onClick={() => props.onDelete({ name: row.name })}
                  >
                    Delete
                  </button>
                ) : (
                  <span class="muted">{props.readOnlyNote ?? "Edit in the organization"}</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableRegion>
  );
}
