import { useState } from "preact/hooks";
import { api, listAll, seg } from "../api";
import {
  asApiError,
  Badge,
  Empty,
  type Outcome,
  OutcomeNotice,
  Show,
  TableRegion,
  useLoad,
} from "../components";
import type { SecretOwnerPath } from "./secret-form";

interface DeletedSecret {
  id: string;
  name: string;
  type: string;
  scopes: string[];
  envs: string[];
  deletedAt: string;
  deletedBy: string;
}

interface RestoreAnswer {
  message: string;
  name: string;
  envs: string[];
  notes: string[];
}

/**
 * An owner's deleted secrets (`GET …/deleted-secrets`), kept for the server's retention period with
 * every override and their history; each can be restored as it was when deleted
 * (`POST …/secrets/:name/restore?id=`), with the server's message, notes and refusals shown inline.
 * `refreshKey` changes when the owner's secrets change (a delete adds a row here).
 */
export function DeletedSecrets(props: {
  owner: SecretOwnerPath;
  /** The CLI command that deletes one of this owner's secrets, for the empty state. */
  deleteCommand: string;
  refreshKey: number;
  onRestored: () => void;
  /** Whether the caller may restore (an org's members may list its deleted secrets, not restore them). */
  canRestore?: boolean;
}) {
  const { owner } = props;
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  const [restoring, setRestoring] = useState<string | undefined>();
  const [rows, reload] = useLoad(
    () => listAll<DeletedSecret>(`${owner.base}/deleted-secrets`),
    `deleted:${owner.base}:${props.refreshKey}`,
  );
  const restore = async (row: DeletedSecret) => {
    setOutcome(undefined);
    setRestoring(row.id);
    try {
      const answer = await api<RestoreAnswer>("POST", `${owner.base}/secrets/${seg(row.name)}/restore`, {
        query: { id: row.id },
      });
      const overrides = answer.envs.length > 0 ? `, with its overrides in ${answer.envs.join(", ")}` : "";
      setOutcome({
        ok: true,
        message: `${answer.message} ${answer.name} is back${overrides}.`,
        notes: answer.notes,
      });
      reload();
      props.onRestored();
    } catch (error) {
      setOutcome({ ok: false, error: asApiError(error) });
    } finally {
      setRestoring(undefined);
    }
  };
  const headingId = `deleted-${owner.base.replace(/[^a-z0-9]/gi, "-")}`;
  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>Deleted secrets</h2>
      <OutcomeNotice outcome={outcome} />
      <Show loaded={rows} what="the deleted secrets">
        {(items) =>
          items.length === 0 ? (
            <Empty>
              No deleted secrets. A secret deleted here or with <code>{props.deleteCommand}</code> is kept for
              the server's retention period (30 days by default), with its overrides
              {props.canRestore === false ? ", and an admin can restore it." : ", and can be restored here."}
            </Empty>
          ) : (
            <>
              <p class="muted">
                Kept for the server's retention period with every override and its history.
                {props.canRestore === false
                  ? " An admin can restore one as it was when deleted."
                  : " Restore brings one back as it was when deleted."}
              </p>
              <TableRegion label={`Deleted secrets of ${owner.label}`}>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Secret</th>
                      <th scope="col">Type and scopes</th>
                      <th scope="col">Overrides</th>
                      <th scope="col">Deleted</th>
                      <th scope="col">By</th>
                      <th scope="col">Action</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((row) => (
                      <tr key={row.id}>
                        <th scope="row">
                          <code>{row.name}</code>
                        </th>
                        <td>
                          <Badge kind="type">{row.type}</Badge>
                          {row.scopes.map((scope) => (
                            <Badge key={scope} kind={`scope scope-${scope}`}>
                              {scope}
                            </Badge>
                          ))}
                        </td>
                        <td>{row.envs.length > 0 ? row.envs.join(", ") : "—"}</td>
                        <td>{new Date(row.deletedAt).toLocaleString()}</td>
                        <td>{row.deletedBy}</td>
                        <td>
                          {props.canRestore === false ? (
                            <span class="muted">—</span>
                          ) : (
                            <button
                              type="button"
                              class="link"
                              disabled={restoring !== undefined}
                              aria-label={`Restore ${row.name} deleted ${new Date(row.deletedAt).toLocaleString()}`}
                              onClick={() => restore(row)}
                            >
                              {restoring === row.id ? "Restoring…" : "Restore"}
                            </button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableRegion>
            </>
          )
        }
      </Show>
    </section>
  );
}
