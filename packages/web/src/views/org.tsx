import { useState } from "preact/hooks";
import { api, listAll, seg } from "../api";
import {
  Empty,
  type Loaded,
  type Outcome,
  OutcomeNotice,
  Show,
  TableRegion,
  useLoad,
  useTitle,
} from "../components";
import { historyPath } from "../router";
import type { Member, Org, OrgSecretRow } from "../types";
import { DeleteConfirm } from "./delete-confirm";
import { DeletedSecrets } from "./deleted-secrets";
import { ownerPath, SecretForm } from "./secret-form";
import { type DeleteRequest, SecretGrid } from "./secret-grid";

/** Standard environments: org overrides are set per environment name. */
export const ORG_ENVS: readonly string[] = ["dev", "test", "live"];

/** Whether the server lets the caller set, delete, restore and roll back `org`'s secrets: its admins and the platform admin. */
export function canChangeOrgSecrets(org: Org): boolean {
  return org.role === "admin" || org.role === "platform-admin";
}

/** An organization: its members and its secrets (inherited by its sites). */
export function OrgView(props: { org: string }) {
  const { org } = props;
  useTitle(`Organization ${org}`);
  const [info] = useLoad(() => api<Org>("GET", `/v1/orgs/${seg(org)}`), `org:${org}`);
  const [members] = useLoad(() => listAll<Member>(`/v1/orgs/${seg(org)}/members`), `members:${org}`);
  const [secrets, reload] = useLoad(
    () => listAll<OrgSecretRow>(`/v1/orgs/${seg(org)}/secrets`),
    `org-secrets:${org}`,
  );
  return (
    <>
      <h1>
        Organization <span class="muted">{org}</span>
      </h1>
      <Show loaded={info} what="the organization">
        {(data) => (
          <>
            {data.role && <p class="muted">Your role: {data.role}</p>}
            <section aria-labelledby="members-heading">
              <h2 id="members-heading">Members</h2>
              <Show loaded={members} what="members">
                {(items) =>
                  items.length === 0 ? (
                    <Empty>
                      No members. Add one with <code>lockbox org:member:add {org} EMAIL</code>.
                    </Empty>
                  ) : (
                    <TableRegion label="Members">
                      <table>
                        <caption class="visually-hidden">Members of {org}</caption>
                        <thead>
                          <tr>
                            <th scope="col">Email</th>
                            <th scope="col">Role</th>
                          </tr>
                        </thead>
                        <tbody>
                          {items.map((member) => (
                            <tr key={member.userId}>
                              <td>{member.email}</td>
                              <td>{member.role}</td>
                            </tr>
                          ))}
                        </tbody>
                      </table>
                    </TableRegion>
                  )
                }
              </Show>
            </section>
            <OrgSecrets org={org} secrets={secrets} reload={reload} canChange={canChangeOrgSecrets(data)} />
          </>
        )}
      </Show>
    </>
  );
}

/**
 * The org's secrets. Only its admins (and the platform admin) may change them: members see no
 * delete, set or restore controls the server would refuse.
 */
function OrgSecrets(props: {
  org: string;
  secrets: Loaded<OrgSecretRow[]>;
  reload: () => void;
  canChange: boolean;
}) {
  const { org } = props;
  const [deleting, setDeleting] = useState<DeleteRequest | undefined>();
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  // Counts deletes, so the deleted secrets below list the one just deleted.
  const [deletes, setDeletes] = useState(0);
  const owner = ownerPath("org", org);
  return (
    <section aria-labelledby="org-secrets-heading">
      <h2 id="org-secrets-heading">Organization secrets</h2>
      <p class="muted">Every site of {org} inherits these, unless it has its own secret of the same name.</p>
      <OutcomeNotice outcome={outcome} />
      {deleting && (
        <DeleteConfirm
          owner={owner}
          request={deleting}
          onCancel={() => setDeleting(undefined)}
          onDone={(result) => {
            setDeleting(undefined);
            setOutcome(result);
            setDeletes((n) => n + 1);
            props.reload();
          }}
        />
      )}
      <Show loaded={props.secrets} what="the organization's secrets">
        {(rows) => {
          const envs = [...new Set([...ORG_ENVS, ...rows.flatMap((row) => Object.keys(row.envValues))])];
          return (
            <>
              {rows.length === 0 ? (
                <Empty>
                  No organization secrets yet.
                  {props.canChange && (
                    <>
                      {" "}
                      Add one below, or with <code>lockbox secret:org:set {org} NAME</code>.
                    </>
                  )}
                </Empty>
              ) : (
                <SecretGrid
                  label={`Secrets of ${org}`}
                  rows={rows}
                  envs={envs}
                  editable={() => props.canChange}
                  readOnlyNote="Admins only"
                  // Members read history as the server lets them; its restore buttons are the admins'.
                  historyHref={(row) => historyPath({ kind: "org", name: org }, row.name)}
                  onDelete={(request) => {
                    setOutcome(undefined);
                    setDeleting(request);
                  }}
                />
              )}
              {props.canChange ? (
                <SecretForm owner={owner} envs={envs} onDone={props.reload} />
              ) : (
                <p class="muted legend">
                  Only an admin of {org} can set, delete or restore its secrets; members list them.
                </p>
              )}
              <DeletedSecrets
                owner={owner}
                canRestore={props.canChange}
                deleteCommand={`lockbox secret:org:delete ${org} NAME`}
                refreshKey={deletes}
                onRestored={props.reload}
              />
            </>
          );
        }}
      </Show>
    </section>
  );
}
