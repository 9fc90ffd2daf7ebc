/** The table shapes as Kysely sees them (snake_case, as stored). Each area's Kysely store maps its rows. */
export interface Database {
  meta: { key: string; value: string };
  users: { id: string; email: string; is_admin: number; created_at: string };
  orgs: { id: string; name: string; data_key: Buffer; data_key_master_id: string; created_at: string };
  memberships: { org_id: string; user_id: string; role: string; created_at: string };
  sites: {
    id: string;
    name: string;
    owner_org_id: string | null;
    owner_user_id: string | null;
    data_key: Buffer;
    data_key_master_id: string;
    created_at: string;
  };
  site_supporting_orgs: { site_id: string; org_id: string };
  site_team: { site_id: string; user_id: string };
  environments: { id: string; site_id: string; name: string; kind: string; created_at: string };
  secrets: {
    id: string;
    org_id: string | null;
    site_id: string | null;
    name: string;
    type: string;
    scopes: string;
    created_at: string;
    updated_at: string;
  };
  /** `owner_id`: the secret's owner (its `site_id` or `org_id`), which never changes. */
  secret_values: { owner_id: string; secret_id: string; env: string; ciphertext: Buffer; updated_at: string };
  secret_versions: {
    secret_id: string;
    env: string;
    version: number;
    org_id: string | null;
    site_id: string | null;
    name: string;
    action: string;
    ciphertext: Buffer | null;
    actor: string;
    at: string;
  };
  deleted_secrets: {
    secret_id: string;
    org_id: string | null;
    site_id: string | null;
    name: string;
    type: string;
    scopes: string;
    envs: string;
    created_at: string;
    deleted_at: string;
    deleted_by: string;
  };
  tokens: {
    id: string;
    kind: string;
    hash: string;
    user_id: string | null;
    environment_id: string | null;
    created_by: string | null;
    created_at: string;
    expires_at: string | null;
    last_used_at: string | null;
    revoked_at: string | null;
  };
  signin_links: {
    id: string;
    hash: string;
    user_id: string;
    created_at: string;
    expires_at: string;
    used_at: string | null;
    /** The expiry of the token that made the link: the session it gives ends no later (null: none). */
    session_expires_at: string | null;
    /** The token that made the link (null: a link made before this was recorded). */
    created_by_token_id: string | null;
  };
  audit_events: {
    seq: number;
    id: string;
    at: string;
    actor: string;
    action: string;
    target: string;
    environment: string | null;
    org_id: string | null;
    site_id: string | null;
    outcome: string;
    request_id: string | null;
    prev_hash: string;
    hash: string;
  };
}
