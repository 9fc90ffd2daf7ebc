/**
 * The management client: one typed method per route of the Lockbox HTTP API (`docs/api.md`),
 * over the global `fetch`. Zero dependencies; the CLI is built on it.
 *
 * The wire types are `@lockbox/core`'s, the ones the server's schemas infer. They are imported
 * with `import type` only, which the compiler erases: the built client loads neither core nor zod.
 */
import type {
  AuditEventResponse,
  AuditPage,
  AuditQuery,
  AuditVerifyResponse,
  CreatedTokenResponse,
  CreateSiteBody,
  CreateTokenBody,
  CreateUserBody,
  DeletedSecretRow,
  EnvironmentResponse,
  ImportSecretsBody,
  ImportSecretsResponse,
  Items,
  LocalSecretsResponse,
  MemberResponse,
  MessageResponse,
  OrgResponse,
  OrgRole,
  OrgSecretRow,
  RemovalResponse,
  ResolvedRow,
  RestoreSecretResponse,
  RollbackSecretResponse,
  resolvedRow,
  Scope,
  SecretType,
  SecretVersionRow,
  SetSecretBody,
  SetSecretResponse,
  SigninLinkResponse,
  SiteInfoResponse,
  SiteResponse,
  SiteSecretRow,
  SupportEndedResponse,
  TokenResponse,
  TransferBody,
  UserResponse,
  WhoamiResponse,
} from "@lockbox/core";
import {
  AnswerTooLarge,
  describeLocation,
  isRedirect,
  maskTokens,
  parseRetryAfter,
  readAnswerText,
} from "./answers.js";
import { describeNetworkFailure } from "./network-failure.js";

export type {
  AuditPage,
  AuditQuery,
  OrgRole,
  OrgSecretRow,
  ResolutionSource,
  Scope,
  SecretType,
  SecretVersionAction,
  SiteSecretRow,
  TokenKind,
} from "@lockbox/core";

/** The local development file of SPEC §3 (`EnvValues`/`OrgValues` values are `null` when redacted). */
export type LocalSecretsFile = LocalSecretsResponse;

/** One version of a secret's value slot; `value` only when asked for, `null` when redacted or deleted. */
export type SecretVersion = SecretVersionRow;

/** A rollback's answer: the new current version and the one whose value it took. */
export type RollbackResult = RollbackSecretResponse;

/** A deleted secret that can still be restored: name, type, scopes, overrides, when and by whom; never a value. */
export type DeletedSecret = DeletedSecretRow;

/** A restore's answer: the secret as it is again, the environments whose overrides came back, notes. */
export type RestoreResult = RestoreSecretResponse;

/** Whose secret: a site's or an org's. */
export type SecretOwner = { readonly site: string } | { readonly org: string };

/** A person; `admin` marks the platform admin. */
export type User = UserResponse;

/** An organization; `role` is the caller's role when the server says it (`GET /v1/orgs/:org`). */
export type Org = OrgResponse;

/** A member of an organization. */
export type Member = MemberResponse;

/** A site and its owner. */
export type Site = SiteResponse;

/** A site as `GET /v1/sites/:site` answers it: with its supporting orgs, environments and team. */
export type SiteInfo = SiteInfoResponse;

/** An environment of a site: `dev`, `test`, `live` (`standard`) or a multidev. */
export type Environment = EnvironmentResponse;

/** An API token as listed: never the token itself. */
export type TokenInfo = TokenResponse;

/** A token just created: `token` is shown this once and never again. */
export type CreatedToken = CreatedTokenResponse;

/** What `GET /v1/whoami` answers: the caller and the token it used. */
export type WhoAmI = WhoamiResponse;

/**
 * The body of a set: the value (a UTF-8 string of at most 16384 bytes; may be empty), and the type
 * and scopes of a new secret, which must match an existing one's. Scopes are a comma-separated
 * string or a list. `type` is narrowed to the secret types; the server answers 422 for others.
 */
export type SecretInput = Omit<SetSecretBody, "type"> & { readonly type?: SecretType | undefined };

/**
 * The body of an import: secrets by name (at most 1000), the type and scopes of the new ones, and
 * with `env` overrides instead of base values. `dryRun` plans without writing.
 */
export type ImportInput = Omit<ImportSecretsBody, "type"> & { readonly type?: SecretType | undefined };

/**
 * What an import answers: the plan by name (`create`, `update`, `unchanged`, or `refused` with the
 * reason), whether it was applied (never when an entry is refused, nor for a dry run), and notes.
 */
export type ImportResult = ImportSecretsResponse;

/** What a set answers: the server's message, whether it created the secret, and notes to show once. */
export type SetSecretResult = SetSecretResponse;

/** A delete's answer: the server's message. */
export type MessageResult = MessageResponse;

/** One resolved secret (SPEC §2.4); `null` when the winning secret has no `user` scope. */
export type ResolvedSecret = ResolvedRow;

/**
 * The body of `POST /v1/tokens` ({@link CreateTokenBody}), narrowed to what the server accepts: a
 * user token, or a runtime or build token bound to a site and environment.
 */
export type CreateTokenInput = (
  | { readonly kind: "user"; readonly user?: string | undefined }
  | { readonly kind: "runtime" | "build"; readonly site: string; readonly env: string }
) & {
  /** A lifetime such as `30m`, `12h` or `90d` (at most `365d`); without it the token lasts until revoked. */
  readonly expiresIn?: string | undefined;
};

/** The body of `POST /v1/sites`: exactly one of `org` (an org-owned site) and `owner` (a personal site). */
export type CreateSiteInput = CreateSiteBody;

/** A site's new owner ({@link TransferBody}): an organization, or a user for a personal site. */
export type SiteOwnerInput = { readonly org: string } | { readonly owner: string };

/**
 * What a removal from an organization or a site team answers: the server's message, and the
 * runtime and build tokens the removed person minted there that still work (revoke them by id).
 */
export type RemovalResult = RemovalResponse;
/** The answer of {@link ManagementClient.removeSupportingOrg}. */
export type SupportEndedResult = SupportEndedResponse;

/** An audit event: who did what to what, never a value. */
export type AuditEvent = AuditEventResponse;

/** What `GET /v1/audit/verify` answers; when `ok` is false, `message` names the first bad event. */
export type AuditVerification = AuditVerifyResponse;

/** Options of {@link LockboxClient}. */
export interface LockboxClientOptions {
  /** The server's base URL, e.g. `https://lockbox.example.com` (a path prefix is kept). */
  readonly url: string;
  /** A user token (`lbx_…`). Sent only in the `Authorization` header, never in an error message. */
  readonly token: string;
  /** The `fetch` to use; defaults to the global one. */
  readonly fetch?: typeof globalThis.fetch | undefined;
  /** Sent as `User-Agent`; defaults to `lockbox-sdk`. */
  readonly userAgent?: string | undefined;
  /** Called before each wait after an HTTP 429, with the seconds about to be waited. */
  readonly onRateLimited?: ((retryAfterSeconds: number) => void) | undefined;
  /** How many times a request answered 429 is retried before the 429 is thrown (default 5). */
  readonly maxRateLimitRetries?: number | undefined;
  /** A `Retry-After` longer than this is not waited for: the 429 is thrown at once (default 60). */
  readonly maxRetryAfterSeconds?: number | undefined;
  /** How long one request may take before it fails (default 30000). */
  readonly timeoutMs?: number | undefined;
}

/**
 * A non-2xx answer of the Lockbox API, parsed from `{"error": {code, message, requestId}}`. The
 * message is the server's, written for people; it never holds a value or a token.
 */
export class LockboxApiError extends Error {
  override readonly name = "LockboxApiError";
  /** The HTTP status. */
  readonly status: number;
  /** An UPPER_SNAKE error code (SPEC §7), e.g. `SITE_NOT_FOUND`. */
  readonly code: string;
  /** The server's request id, for its log; absent when the answer did not come from Lockbox. */
  readonly requestId: string | undefined;
  /** The `Retry-After` of a 429, in seconds. */
  readonly retryAfterSeconds: number | undefined;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    requestId?: string | undefined;
    retryAfterSeconds?: number | undefined;
  }) {
    super(init.message);
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }
}

/** The server could not be reached at all (refused, unknown host, TLS failure, timeout). */
export class LockboxConnectionError extends Error {
  override readonly name = "LockboxConnectionError";

  /**
   * @param url The server's base URL (never holds credentials: the client refuses them).
   * @param reason Why it could not be reached, e.g. `connection refused (ECONNREFUSED)`.
   */
  constructor(
    readonly url: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Cannot reach the Lockbox server at ${url}: ${reason}. Is it running? Check LOCKBOX_URL or run lockbox auth:login.`,
      options,
    );
  }
}

/** A list page of the management API. */
interface Page<T> {
  readonly items: readonly T[];
  readonly next?: string | null;
}

type Query = Readonly<Record<string, string | number | undefined>>;

const DEFAULT_MAX_RATE_LIMIT_RETRIES = 5;
const DEFAULT_MAX_RETRY_AFTER_SECONDS = 60;
const DEFAULT_TIMEOUT_MS = 30_000;
/** Pages fetched at most by one list call (1000 items each): a server that never ends is a bug. */
const MAX_PAGES = 1000;
const PAGE_LIMIT = 1000;

const CODE_BY_STATUS: Readonly<Record<number, string>> = {
  400: "BAD_REQUEST",
  401: "UNAUTHENTICATED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  422: "VALIDATION_FAILED",
  429: "RATE_LIMITED",
  503: "UNAVAILABLE",
  507: "STORAGE_FULL",
};

/**
 * A client of the Lockbox management API. Every method sends the token as a bearer token and
 * resolves with the answer's JSON; path parameters are URL-encoded.
 *
 * Failures: a non-2xx answer rejects with {@link LockboxApiError}; an unreachable server with
 * {@link LockboxConnectionError}. An HTTP 429 is retried after its `Retry-After` (up to
 * `maxRateLimitRetries` times, calling `onRateLimited` before each wait); a request refused by a
 * 429 was not processed, so retrying a write is safe.
 *
 * List methods (`listOrgs`, `listSites` …) follow the `next` cursor and return every item.
 */
export class LockboxClient {
  /** The base URL, without a trailing slash. */
  readonly url: string;
  readonly #token: string;
  readonly #fetch: typeof globalThis.fetch;
  readonly #userAgent: string;
  readonly #onRateLimited: ((retryAfterSeconds: number) => void) | undefined;
  readonly #maxRateLimitRetries: number;
  readonly #maxRetryAfterSeconds: number;
  readonly #timeoutMs: number;

  /**
   * @throws {TypeError} when `url` is not an http(s) URL without credentials, or `token` is empty
   * or has characters a token cannot have (neither is echoed in the message).
   */
  constructor(options: LockboxClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new TypeError(
        "The Lockbox server URL is not a valid URL: use the form https://lockbox.example.com (check LOCKBOX_URL or run lockbox auth:login --url=…).",
      );
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new TypeError(
        `The Lockbox server URL must start with http:// or https://, not ${parsed.protocol}//: check LOCKBOX_URL or run lockbox auth:login --url=….`,
      );
    }
    if (parsed.username !== "" || parsed.password !== "") {
      throw new TypeError(
        "The Lockbox server URL must not contain a user name or password (the token authenticates): remove them from LOCKBOX_URL or the --url of lockbox auth:login.",
      );
    }
    if (!/^[\x21-\x7e]+$/.test(options.token)) {
      throw new TypeError(
        "The Lockbox token is empty or contains spaces or other characters a token cannot have: check LOCKBOX_TOKEN or run lockbox auth:login.",
      );
    }
    parsed.search = "";
    parsed.hash = "";
    this.url = parsed.href.replace(/\/+$/, "");
    this.#token = options.token;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#userAgent = options.userAgent ?? "lockbox-sdk";
    this.#onRateLimited = options.onRateLimited;
    this.#maxRateLimitRetries = options.maxRateLimitRetries ?? DEFAULT_MAX_RATE_LIMIT_RETRIES;
    this.#maxRetryAfterSeconds = options.maxRetryAfterSeconds ?? DEFAULT_MAX_RETRY_AFTER_SECONDS;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  // ── Identity and users ─────────────────────────────────────────────────────────────────────

  /** `GET /v1/whoami`: the caller and its token. A bad, expired or revoked token: 401. */
  whoami(): Promise<WhoAmI> {
    return this.#send("GET", "/v1/whoami");
  }

  /** `POST /v1/users` (platform admin): creates a user. 409 when the email is taken. */
  createUser(input: CreateUserBody): Promise<User> {
    return this.#send("POST", "/v1/users", { body: input });
  }

  /** `GET /v1/users` (platform admin): every user. */
  listUsers(): Promise<User[]> {
    return this.#listAll("/v1/users");
  }

  // ── Organizations and members ──────────────────────────────────────────────────────────────

  /** `POST /v1/orgs` (platform admin): creates an organization. 409 when the name is taken. */
  createOrg(name: string): Promise<Org> {
    return this.#send("POST", "/v1/orgs", { body: { name } });
  }

  /** `GET /v1/orgs`: the organizations the caller belongs to (all of them for the admin). */
  listOrgs(): Promise<Org[]> {
    return this.#listAll("/v1/orgs");
  }

  /** `GET /v1/orgs/:org`: one organization with the caller's role. 404 when not visible. */
  getOrg(org: string): Promise<Org> {
    return this.#send("GET", `/v1/orgs/${segment(org)}`);
  }

  /** `DELETE /v1/orgs/:org` (platform admin). 409 while the organization owns sites. */
  deleteOrg(org: string): Promise<void> {
    return this.#send("DELETE", `/v1/orgs/${segment(org)}`);
  }

  /** `GET /v1/orgs/:org/members`. */
  listMembers(org: string): Promise<Member[]> {
    return this.#listAll(`/v1/orgs/${segment(org)}/members`);
  }

  /** `PUT /v1/orgs/:org/members/:user` (org admin): adds `user` (email or UUID) or changes its role. */
  setMember(org: string, user: string, role: OrgRole): Promise<Member> {
    return this.#send("PUT", `/v1/orgs/${segment(org)}/members/${segment(user)}`, { body: { role } });
  }

  /**
   * `DELETE /v1/orgs/:org/members/:user` (org admin). Answers the runtime and build tokens the
   * person minted for the org's sites that still work.
   */
  removeMember(org: string, user: string): Promise<RemovalResult> {
    return this.#send("DELETE", `/v1/orgs/${segment(org)}/members/${segment(user)}`);
  }

  // ── Organization secrets ───────────────────────────────────────────────────────────────────

  /** `GET /v1/orgs/:org/secrets`: the organization's secrets by name, values redacted by scope. */
  listOrgSecrets(org: string): Promise<OrgSecretRow[]> {
    return this.#listAll(`/v1/orgs/${segment(org)}/secrets`);
  }

  /** `PUT /v1/orgs/:org/secrets/:name`: creates or updates the base value (SPEC §2.1). */
  setOrgSecret(org: string, name: string, input: SecretInput): Promise<SetSecretResult> {
    return this.#send("PUT", `/v1/orgs/${segment(org)}/secrets/${segment(name)}`, {
      body: secretBody(input),
    });
  }

  /** `POST /v1/orgs/:org/secrets/import`: sets many secrets (or overrides) in one transaction, or none. */
  importOrgSecrets(org: string, input: ImportInput): Promise<ImportResult> {
    return this.#send("POST", `/v1/orgs/${segment(org)}/secrets/import`, { body: input });
  }

  /** `PUT /v1/orgs/:org/secrets/:name/envs/:env`: sets an override; the base secret must exist (404). */
  setOrgSecretOverride(org: string, name: string, env: string, input: SecretInput): Promise<SetSecretResult> {
    return this.#send("PUT", `/v1/orgs/${segment(org)}/secrets/${segment(name)}/envs/${segment(env)}`, {
      body: secretBody(input),
    });
  }

  /** `DELETE /v1/orgs/:org/secrets/:name`: deletes the secret and all its overrides. */
  deleteOrgSecret(org: string, name: string): Promise<MessageResult> {
    return this.#send("DELETE", `/v1/orgs/${segment(org)}/secrets/${segment(name)}`);
  }

  /** `DELETE /v1/orgs/:org/secrets/:name/envs/:env`: deletes one override (idempotent). */
  deleteOrgSecretOverride(org: string, name: string, env: string): Promise<MessageResult> {
    return this.#send("DELETE", `/v1/orgs/${segment(org)}/secrets/${segment(name)}/envs/${segment(env)}`);
  }

  // ── Sites ──────────────────────────────────────────────────────────────────────────────────

  /** `POST /v1/sites`: creates a site owned by `org` or, with `owner`, a personal site. */
  createSite(input: CreateSiteInput): Promise<Site> {
    return this.#send("POST", "/v1/sites", { body: input });
  }

  /** `GET /v1/sites`: the sites the caller can see, optionally only those of `org`. */
  listSites(filter: { readonly org?: string | undefined } = {}): Promise<Site[]> {
    return this.#listAll("/v1/sites", { org: filter.org });
  }

  /** `GET /v1/sites/:site`: the site with its owner, supporting orgs, environments and team. */
  getSite(site: string): Promise<SiteInfo> {
    return this.#send("GET", `/v1/sites/${segment(site)}`);
  }

  /** `DELETE /v1/sites/:site`: deletes the site, its secrets, environments and tokens. */
  deleteSite(site: string): Promise<void> {
    return this.#send("DELETE", `/v1/sites/${segment(site)}`);
  }

  /** `POST /v1/sites/:site/transfer`: moves the site to another org or to a personal owner. */
  transferSite(site: string, to: SiteOwnerInput): Promise<Site> {
    return this.#send("POST", `/v1/sites/${segment(site)}/transfer`, { body: to });
  }

  /** `PUT /v1/sites/:site/supporting-orgs/:org`. 409 when `org` owns the site. */
  addSupportingOrg(site: string, org: string): Promise<void> {
    return this.#send("PUT", `/v1/sites/${segment(site)}/supporting-orgs/${segment(org)}`);
  }

  /**
   * `DELETE /v1/sites/:site/supporting-orgs/:org`. Answers the people on the site's team who belong
   * to the org (they stay on the team); undefined from a server older than that answer (a `204`).
   */
  removeSupportingOrg(site: string, org: string): Promise<SupportEndedResult | undefined> {
    return this.#send("DELETE", `/v1/sites/${segment(site)}/supporting-orgs/${segment(org)}`);
  }

  /** `PUT /v1/sites/:site/team/:user`: adds a user (email or UUID) to the site's team. */
  addTeamMember(site: string, user: string): Promise<void> {
    return this.#send("PUT", `/v1/sites/${segment(site)}/team/${segment(user)}`);
  }

  /**
   * `DELETE /v1/sites/:site/team/:user`. Answers the runtime and build tokens the person minted for
   * the site that still work.
   */
  removeTeamMember(site: string, user: string): Promise<RemovalResult> {
    return this.#send("DELETE", `/v1/sites/${segment(site)}/team/${segment(user)}`);
  }

  // ── Environments ───────────────────────────────────────────────────────────────────────────

  /** `GET /v1/sites/:site/environments`: `dev`, `test`, `live` and the multidevs. */
  listEnvironments(site: string): Promise<Environment[]> {
    return this.#listAll(`/v1/sites/${segment(site)}/environments`);
  }

  /** `POST /v1/sites/:site/environments`: creates a multidev. */
  createMultidev(site: string, env: string): Promise<Environment> {
    return this.#send("POST", `/v1/sites/${segment(site)}/environments`, { body: { name: env } });
  }

  /** `DELETE /v1/sites/:site/environments/:env`: deletes a multidev, its overrides and its tokens. */
  deleteMultidev(site: string, env: string): Promise<void> {
    return this.#send("DELETE", `/v1/sites/${segment(site)}/environments/${segment(env)}`);
  }

  // ── Site secrets ───────────────────────────────────────────────────────────────────────────

  /**
   * `GET /v1/sites/:site/secrets`: the site's rows and the inherited org rows by name (SPEC §2.3);
   * with `env`, only the site secrets overridden there, the override in `value`.
   */
  listSiteSecrets(
    site: string,
    options: { readonly env?: string | undefined } = {},
  ): Promise<SiteSecretRow[]> {
    return this.#listAll(`/v1/sites/${segment(site)}/secrets`, { env: options.env });
  }

  /**
   * `GET /v1/sites/:site/local-secrets`: the file `secret:site:local-generate` writes (SPEC §3),
   * redacted like the listing. Audited by the server.
   */
  localSecrets(site: string): Promise<LocalSecretsFile> {
    return this.#send<LocalSecretsFile>("GET", `/v1/sites/${segment(site)}/local-secrets`);
  }

  /** `PUT /v1/sites/:site/secrets/:name`: creates or updates the base value (SPEC §2.1). */
  setSiteSecret(site: string, name: string, input: SecretInput): Promise<SetSecretResult> {
    return this.#send("PUT", `/v1/sites/${segment(site)}/secrets/${segment(name)}`, {
      body: secretBody(input),
    });
  }

  /** `POST /v1/sites/:site/secrets/import`: sets many secrets (or overrides) in one transaction, or none. */
  importSiteSecrets(site: string, input: ImportInput): Promise<ImportResult> {
    return this.#send("POST", `/v1/sites/${segment(site)}/secrets/import`, { body: input });
  }

  /** `PUT /v1/sites/:site/secrets/:name/envs/:env`: the base secret and the environment must exist (404). */
  setSiteSecretOverride(
    site: string,
    name: string,
    env: string,
    input: SecretInput,
  ): Promise<SetSecretResult> {
    return this.#send("PUT", `/v1/sites/${segment(site)}/secrets/${segment(name)}/envs/${segment(env)}`, {
      body: secretBody(input),
    });
  }

  /** `DELETE /v1/sites/:site/secrets/:name`: deletes the secret and all its overrides. */
  deleteSiteSecret(site: string, name: string): Promise<MessageResult> {
    return this.#send("DELETE", `/v1/sites/${segment(site)}/secrets/${segment(name)}`);
  }

  /** `DELETE /v1/sites/:site/secrets/:name/envs/:env`: deletes one override (idempotent). */
  deleteSiteSecretOverride(site: string, name: string, env: string): Promise<MessageResult> {
    return this.#send("DELETE", `/v1/sites/${segment(site)}/secrets/${segment(name)}/envs/${segment(env)}`);
  }

  /**
   * `GET /v1/sites/:site/resolve`: what `scope` (default `web`, the server's choice) sees in `env`
   * (`undefined`: the base values), with each value's source; values redacted unless the winning secret has `user` scope. The
   * server answers this one resolution whole (it is not paginated).
   */
  async resolve(site: string, env: string | undefined, scope?: Scope | undefined): Promise<ResolvedSecret[]> {
    const page = await this.#send<Items<typeof resolvedRow>>("GET", `/v1/sites/${segment(site)}/resolve`, {
      query: { env, scope },
    });
    return [...page.items];
  }

  // ── Secret history ─────────────────────────────────────────────────────────────────────────

  /**
   * `GET …/secrets/:name/versions`: every version of the base value (or of the `env` override),
   * newest first, following each page's `next` as `before`; `values` asks for the values the caller
   * may read (the server audits it).
   */
  async secretVersions(
    owner: SecretOwner,
    name: string,
    options: { readonly env?: string | undefined; readonly values?: boolean | undefined } = {},
  ): Promise<SecretVersion[]> {
    const items: SecretVersion[] = [];
    let before: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await this.#send<Page<SecretVersion>>(
        "GET",
        `${ownerPath(owner)}/secrets/${segment(name)}/versions`,
        {
          query: { env: options.env, values: options.values ? "true" : undefined, limit: PAGE_LIMIT, before },
        },
      );
      items.push(...answer.items);
      if (answer.next === undefined || answer.next === null || answer.next === "") return items;
      before = answer.next;
    }
    return items;
  }

  /** `POST …/secrets/:name/rollback`: version `to` of the slot becomes current, as a new version. */
  rollbackSecret(
    owner: SecretOwner,
    name: string,
    input: { readonly to: number; readonly env?: string | undefined },
  ): Promise<RollbackResult> {
    return this.#send("POST", `${ownerPath(owner)}/secrets/${segment(name)}/rollback`, {
      body: input.env === undefined ? { to: input.to } : { env: input.env, to: input.to },
    });
  }

  /** `GET …/deleted-secrets`: the owner's deleted secrets that can still be restored, by name. */
  listDeletedSecrets(owner: SecretOwner): Promise<DeletedSecret[]> {
    return this.#listAll(`${ownerPath(owner)}/deleted-secrets`);
  }

  /**
   * `POST …/secrets/:name/restore`: brings back the newest deleted secret of that name (or the
   * deleted secret `id`) with its type, scopes, base value and overrides as at deletion.
   */
  restoreSecret(
    owner: SecretOwner,
    name: string,
    options: { readonly id?: string } = {},
  ): Promise<RestoreResult> {
    return this.#send("POST", `${ownerPath(owner)}/secrets/${segment(name)}/restore`, {
      query: { id: options.id },
    });
  }

  // ── Tokens ─────────────────────────────────────────────────────────────────────────────────

  /** `POST /v1/tokens`: mints a user, runtime or build token; the token is in the answer only. */
  createToken(input: CreateTokenInput): Promise<CreatedToken> {
    return this.#send("POST", "/v1/tokens", { body: input });
  }

  /** `GET /v1/tokens`: tokens of a user or a site (the caller's own by default); never the token. */
  listTokens(
    filter: { readonly user?: string | undefined; readonly site?: string | undefined } = {},
  ): Promise<TokenInfo[]> {
    return this.#listAll("/v1/tokens", { user: filter.user, site: filter.site });
  }

  /**
   * `POST /v1/ui/links`: a one-time sign-in link to the web dashboard for the caller (valid 5 minutes,
   * once): open `<server>/ui/#signin=<secret>`.
   */
  createSigninLink(): Promise<SigninLinkResponse> {
    return this.#send("POST", "/v1/ui/links");
  }

  /** `DELETE /v1/tokens/:id`: revokes a token at once. */
  revokeToken(id: string): Promise<void> {
    return this.#send("DELETE", `/v1/tokens/${segment(id)}`);
  }

  // ── Audit ──────────────────────────────────────────────────────────────────────────────────

  /** `GET /v1/audit`: one page of events, newest first. */
  async listAudit(query: AuditQuery = {}): Promise<AuditPage> {
    const page = await this.#send<Page<AuditEvent>>("GET", "/v1/audit", {
      query: {
        org: query.org,
        site: query.site,
        since: query.since,
        limit: query.limit,
        before: query.before,
      },
    });
    return { items: [...page.items], next: page.next ?? null };
  }

  /** `GET /v1/audit/verify` (platform admin): checks the hash chain; names the first bad event. */
  verifyAudit(): Promise<AuditVerification> {
    return this.#send("GET", "/v1/audit/verify");
  }

  // ── Transport ──────────────────────────────────────────────────────────────────────────────

  async #listAll<T>(path: string, query: Query = {}): Promise<T[]> {
    const items: T[] = [];
    let after: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await this.#send<Page<T>>("GET", path, {
        query: { ...query, after, limit: PAGE_LIMIT },
      });
      items.push(...answer.items);
      if (answer.next === undefined || answer.next === null || answer.next === "") return items;
      after = answer.next;
    }
    return items;
  }

  async #send<T>(
    method: string,
    path: string,
    options: { readonly query?: Query; readonly body?: unknown } = {},
  ): Promise<T> {
    const target = new URL(`${this.url}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) target.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = {
      accept: "application/json",
      authorization: `Bearer ${this.#token}`,
      "user-agent": this.#userAgent,
    };
    // No redirect is followed: the token and the body (a secret's value) go only to the configured server.
    const init: RequestInit = { method, headers, redirect: "manual" };
    if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    for (let attempt = 0; ; attempt++) {
      const response = await this.#fetchOnce(target, init);
      if (response.status === 429) {
        const waitSeconds = parseRetryAfter(response.headers.get("retry-after"));
        if (attempt < this.#maxRateLimitRetries && waitSeconds <= this.#maxRetryAfterSeconds) {
          await response.arrayBuffer().catch(() => undefined);
          this.#onRateLimited?.(waitSeconds);
          await sleep(waitSeconds * 1000);
          continue;
        }
      }
      return this.#read<T>(response);
    }
  }

  async #fetchOnce(target: URL, init: RequestInit): Promise<Response> {
    try {
      return await this.#fetch(target, { ...init, signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (error) {
      throw new LockboxConnectionError(this.url, describeNetworkFailure(error, this.#timeoutMs), {
        cause: error,
      });
    }
  }

  async #read<T>(response: Response): Promise<T> {
    if (isRedirect(response)) {
      await response.body?.cancel().catch(() => undefined);
      throw new LockboxApiError({
        status: response.status,
        code: "BAD_RESPONSE",
        message: `The server at ${this.url} answered HTTP ${response.status}, a redirect${describeLocation(response.headers.get("location"), this.url)}: Lockbox clients follow no redirect, so that a token and secret values go only where they were told. Point LOCKBOX_URL (or lockbox auth:login --url) at the Lockbox server itself.`,
      });
    }
    let text: string;
    try {
      text = await readAnswerText(response);
    } catch (error) {
      if (error instanceof AnswerTooLarge) {
        throw new LockboxApiError({
          status: response.status,
          code: "BAD_RESPONSE",
          message: `The server at ${this.url} did not answer as Lockbox does: ${error.message} (LOCKBOX_URL, or lockbox auth:login --url).`,
        });
      }
      throw new LockboxConnectionError(this.url, describeNetworkFailure(error, this.#timeoutMs), {
        cause: error,
      });
    }
    const json = parseJson(text);
    if (response.ok) {
      if (text === "") return undefined as T;
      if (json === undefined) {
        throw new LockboxApiError({
          status: response.status,
          code: "BAD_RESPONSE",
          message: `The server at ${this.url} answered HTTP ${response.status} with a body that is not JSON: check that LOCKBOX_URL points to a Lockbox server.`,
        });
      }
      return json as T;
    }
    const retryAfter = response.headers.get("retry-after");
    const error = errorBody(json);
    throw new LockboxApiError({
      status: response.status,
      code:
        error?.code ??
        CODE_BY_STATUS[response.status] ??
        (response.status >= 500 ? "INTERNAL" : "BAD_REQUEST"),
      message:
        error?.message ??
        `The server at ${this.url} answered HTTP ${response.status} without a Lockbox error: check that LOCKBOX_URL points to a Lockbox server, and look at the server's log.`,
      requestId: error?.requestId,
      retryAfterSeconds: retryAfter === null ? undefined : parseRetryAfter(retryAfter),
    });
  }
}

/** A path segment, URL-encoded. `.` and `..` would be resolved away by the URL parser, so they are refused. */
/** The path of a secret owner: `/v1/sites/:site` or `/v1/orgs/:org`. */
function ownerPath(owner: SecretOwner): string {
  return "site" in owner ? `/v1/sites/${segment(owner.site)}` : `/v1/orgs/${segment(owner.org)}`;
}

function segment(value: string): string {
  if (value === "" || value === "." || value === "..") {
    throw new TypeError(
      `Invalid name ${JSON.stringify(value)}: a name, environment or id cannot be empty, '.' or '..'.`,
    );
  }
  return encodeURIComponent(value);
}

function secretBody(input: SecretInput): Record<string, unknown> {
  const body: Record<string, unknown> = { value: input.value };
  if (input.type !== undefined) body.type = input.type;
  if (input.scopes !== undefined) body.scopes = input.scopes;
  return body;
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorBody(
  json: unknown,
): { code: string; message: string; requestId: string | undefined } | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const error = (json as { error?: unknown }).error;
  if (typeof error !== "object" || error === null) return undefined;
  const { code, message, requestId } = error as { code?: unknown; message?: unknown; requestId?: unknown };
  if (typeof code !== "string" || typeof message !== "string") return undefined;
  return {
    code: maskTokens(code),
    message: maskTokens(message),
    requestId: typeof requestId === "string" ? maskTokens(requestId) : undefined,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
