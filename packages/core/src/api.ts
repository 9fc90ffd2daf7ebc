import { z } from "zod";
import { secretTypeSchema } from "./secrets.js";
import {
  ENVIRONMENT_KINDS,
  ORG_ROLES,
  OWNER_KINDS,
  RESOLUTION_SOURCES,
  SCOPE_ORDER,
  SITE_OWNER_KINDS,
  TOKEN_KINDS,
} from "./types.js";

/*
 * The wire shapes of the management API (`/v1`, docs/api.md), each written once: the server parses
 * requests with these schemas and generates its OpenAPI document from them, and the SDK's types are
 * their inferred types.
 *
 * Requests are checked for shape only (types, required fields, no unknown fields; a violation is
 * 400). The rules of SPEC §1–2 (names, values, types, scopes) are the domain's, which answers 422
 * with the rule's own message once access is decided; so `setSecretBody.type` is any bounded string.
 *
 * Types: a request body's is its `z.input` (what a client sends); the others are `z.output` (what
 * a handler receives from params and queries, whose numbers are coerced from strings, and what a
 * client receives).
 */

/**
 * Every identifier, cursor and option is bounded, and never holds NUL: no name may contain it, and
 * PostgreSQL refuses it in text parameters (a lookup would fail with a 500 instead of a miss).
 */
const text = (max = 512) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes("\u0000"), "must not contain the NUL character");

/** A secret name in a path, bounded loosely: its 255-byte rule is the domain's (422). */
const secretName = () => text(1024);

// --- paths ---------------------------------------------------------------------------------------

/** `/v1/orgs/:org…`: an organization by name or UUID. */
export const orgParams = z.object({ org: text() }).strict();
/** Parsed {@link orgParams}. */
export type OrgParams = z.output<typeof orgParams>;

/** `/v1/sites/:site…`: a site by name or UUID. */
export const siteParams = z.object({ site: text() }).strict();
/** Parsed {@link siteParams}. */
export type SiteParams = z.output<typeof siteParams>;

/** `/v1/orgs/:org/secrets/:name`. */
export const orgSecretParams = z.object({ org: text(), name: secretName() }).strict();
/** Parsed {@link orgSecretParams}. */
export type OrgSecretParams = z.output<typeof orgSecretParams>;

/** `/v1/orgs/:org/secrets/:name/envs/:env`. */
export const orgSecretEnvParams = z.object({ org: text(), name: secretName(), env: text() }).strict();
/** Parsed {@link orgSecretEnvParams}. */
export type OrgSecretEnvParams = z.output<typeof orgSecretEnvParams>;

/** `/v1/sites/:site/secrets/:name`. */
export const siteSecretParams = z.object({ site: text(), name: secretName() }).strict();
/** Parsed {@link siteSecretParams}. */
export type SiteSecretParams = z.output<typeof siteSecretParams>;

/** `/v1/sites/:site/secrets/:name/envs/:env`. */
export const siteSecretEnvParams = z.object({ site: text(), name: secretName(), env: text() }).strict();
/** Parsed {@link siteSecretEnvParams}. */
export type SiteSecretEnvParams = z.output<typeof siteSecretEnvParams>;

/** `/v1/orgs/:org/members/:user`: a user by email or UUID. */
export const orgUserParams = z.object({ org: text(), user: text() }).strict();
/** Parsed {@link orgUserParams}. */
export type OrgUserParams = z.output<typeof orgUserParams>;

/** `/v1/sites/:site/team/:user`: a user by email or UUID. */
export const siteUserParams = z.object({ site: text(), user: text() }).strict();
/** Parsed {@link siteUserParams}. */
export type SiteUserParams = z.output<typeof siteUserParams>;

/** `/v1/sites/:site/supporting-orgs/:org`. */
export const siteOrgParams = z.object({ site: text(), org: text() }).strict();
/** Parsed {@link siteOrgParams}. */
export type SiteOrgParams = z.output<typeof siteOrgParams>;

/** `/v1/sites/:site/environments/:env`. */
export const siteEnvParams = z.object({ site: text(), env: text() }).strict();
/** Parsed {@link siteEnvParams}. */
export type SiteEnvParams = z.output<typeof siteEnvParams>;

/** `/v1/tokens/:id`: a token's id (never the token). */
export const tokenParams = z.object({ id: text() }).strict();
/** Parsed {@link tokenParams}. */
export type TokenParams = z.output<typeof tokenParams>;

// --- queries -------------------------------------------------------------------------------------

/**
 * `?limit=` (1-1000, default 100) and `?after=` (the `next` of the previous page) of every paginated
 * list; the list answers {@link listOf}.
 */
export const pageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    after: text().optional(),
  })
  .strict();
/** Parsed {@link pageQuery}. */
export type PageQuery = z.output<typeof pageQuery>;

/** `GET /v1/sites?org=`: only the sites of one organization. */
export const siteListQuery = pageQuery.extend({ org: text().optional() }).strict();
/** Parsed {@link siteListQuery}. */
export type SiteListQuery = z.output<typeof siteListQuery>;

/** `GET /v1/sites/:site/secrets?env=`: only the secrets overridden in `env`. */
export const siteSecretsQuery = pageQuery.extend({ env: text().optional() }).strict();
/** Parsed {@link siteSecretsQuery}. */
export type SiteSecretsQuery = z.output<typeof siteSecretsQuery>;

/** `GET /v1/sites/:site/resolve?env=&scope=`: `scope` defaults to `web`; without `env`, the base values. */
export const resolveQuery = z.object({ env: text().optional(), scope: text().optional() }).strict();
/** Parsed {@link resolveQuery}. */
export type ResolveQuery = z.output<typeof resolveQuery>;

/** `GET /v1/tokens?user=&site=`: the tokens of a user or of a site. */
export const tokenListQuery = pageQuery.extend({ user: text().optional(), site: text().optional() }).strict();
/** Parsed {@link tokenListQuery}. */
export type TokenListQuery = z.output<typeof tokenListQuery>;

/** `GET /v1/audit`: filters, and `before` (the `next` of the previous page) to page back in time. */
export const auditQuery = z
  .object({
    org: text().optional(),
    site: text().optional(),
    since: text().optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    before: z.coerce.number().int().min(1).optional(),
  })
  .strict();
/** Parsed {@link auditQuery}. */
export type AuditQuery = z.output<typeof auditQuery>;

// --- request bodies ------------------------------------------------------------------------------

/** `POST /v1/users`: `admin` makes a platform admin. */
export const createUserBody = z.object({ email: text(), admin: z.boolean().optional() }).strict();
/** A {@link createUserBody} as a client sends it. */
export type CreateUserBody = z.input<typeof createUserBody>;

/** `POST /v1/orgs`. */
export const createOrgBody = z.object({ name: text() }).strict();
/** A {@link createOrgBody} as a client sends it. */
export type CreateOrgBody = z.input<typeof createOrgBody>;

/** `PUT /v1/orgs/:org/members/:user`. */
export const memberBody = z.object({ role: z.enum(ORG_ROLES) }).strict();
/** A {@link memberBody} as a client sends it. */
export type MemberBody = z.input<typeof memberBody>;

/**
 * `PUT …/secrets/:name[/envs/:env]`: the value, and the type and scopes of a new secret (which must
 * match an existing one's). `scopes` is a comma-separated string or a list; `type`, `scopes` and the
 * value are checked by the domain.
 */
export const setSecretBody = z
  .object({
    value: z.string(),
    type: text().optional(),
    scopes: z.union([text(), z.array(text()).max(16)]).optional(),
  })
  .strict();
/** A {@link setSecretBody} as a client sends it. */
export type SetSecretBody = z.input<typeof setSecretBody>;

/** `POST /v1/sites`: exactly one of `org` (an org-owned site) and `owner` (a personal site). */
export const createSiteBody = z
  .object({
    name: text(),
    org: text().optional(),
    owner: text().optional(),
    supportingOrgs: z.array(text()).max(100).optional(),
  })
  .strict();
/** A {@link createSiteBody} as a client sends it. */
export type CreateSiteBody = z.input<typeof createSiteBody>;

/** `POST /v1/sites/:site/transfer`: exactly one of `org` and `owner`. */
export const transferBody = z.object({ org: text().optional(), owner: text().optional() }).strict();
/** A {@link transferBody} as a client sends it. */
export type TransferBody = z.input<typeof transferBody>;

/** `POST /v1/sites/:site/environments`: a multidev's name. */
export const createEnvironmentBody = z.object({ name: text() }).strict();
/** A {@link createEnvironmentBody} as a client sends it. */
export type CreateEnvironmentBody = z.input<typeof createEnvironmentBody>;

/** `POST /v1/tokens`: a user token (`user`, default the caller), or a runtime or build token for `site` and `env`. */
export const createTokenBody = z
  .object({
    kind: z.enum(TOKEN_KINDS),
    user: text().optional(),
    site: text().optional(),
    env: text().optional(),
    /** A lifetime such as `30m`, `12h` or `90d` (at most 365 days; checked by the domain, 422). */
    expiresIn: text(64).optional(),
  })
  .strict();
/** A {@link createTokenBody} as a client sends it. */
export type CreateTokenBody = z.input<typeof createTokenBody>;

// --- responses -----------------------------------------------------------------------------------

const scopes = z.array(z.enum(SCOPE_ORDER));
/** A value, or `null` where the secret's scopes redact it. */
const nullableValue = z.string().nullable();

/** A person; `admin` marks the platform admin. */
export const userResponse = z.object({
  id: z.string(),
  email: z.string(),
  admin: z.boolean(),
  createdAt: z.string(),
});
/** A {@link userResponse}. */
export type UserResponse = z.output<typeof userResponse>;

/** `GET /v1/whoami`: the caller and the token it used. */
export const whoamiResponse = z.object({
  user: userResponse,
  token: z.object({ id: z.string(), kind: z.enum(TOKEN_KINDS), expiresAt: z.string().nullable() }),
});
/** A {@link whoamiResponse}. */
export type WhoamiResponse = z.output<typeof whoamiResponse>;

/** An organization; `role` is the caller's (`platform-admin`, `admin`, `member`) where the route says it. */
export const orgResponse = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  role: z.string().optional(),
});
/** An {@link orgResponse}. */
export type OrgResponse = z.output<typeof orgResponse>;

/** A member of an organization. */
export const memberResponse = z.object({
  userId: z.string(),
  email: z.string(),
  role: z.enum(ORG_ROLES),
});
/** A {@link memberResponse}. */
export type MemberResponse = z.output<typeof memberResponse>;

/** A site and its owner: an organization by name, or a person by email. */
export const siteResponse = z.object({
  id: z.string(),
  name: z.string(),
  owner: z.object({ kind: z.enum(SITE_OWNER_KINDS), id: z.string(), name: z.string() }),
  createdAt: z.string(),
});
/** A {@link siteResponse}. */
export type SiteResponse = z.output<typeof siteResponse>;

/** `GET /v1/sites/:site`: the site with its supporting organizations, environments and team. */
export const siteInfoResponse = siteResponse.extend({
  supportingOrgs: z.array(z.object({ id: z.string(), name: z.string() })),
  environments: z.array(z.object({ name: z.string(), kind: z.enum(ENVIRONMENT_KINDS) })),
  team: z.array(z.object({ id: z.string(), email: z.string() })),
});
/** A {@link siteInfoResponse}. */
export type SiteInfoResponse = z.output<typeof siteInfoResponse>;

/** An environment of a site: `dev`, `test`, `live` (`standard`) or a multidev. */
export const environmentResponse = z.object({
  name: z.string(),
  kind: z.enum(ENVIRONMENT_KINDS),
  createdAt: z.string(),
});
/** An {@link environmentResponse}. */
export type EnvironmentResponse = z.output<typeof environmentResponse>;

/**
 * A set's answer (201 when it created the secret): the secret as stored, and notes worth telling
 * the person who set it (no web scope, an override builds never read). Never a value.
 */
export const setSecretResponse = z.object({
  message: z.string(),
  created: z.boolean(),
  secret: z.object({ name: z.string(), type: secretTypeSchema, scopes }),
  notes: z.array(z.string()),
});
/** A {@link setSecretResponse}. */
export type SetSecretResponse = z.output<typeof setSecretResponse>;

/** A delete's answer: the server's message. */
export const messageResponse = z.object({ message: z.string() });
/** A {@link messageResponse}. */
export type MessageResponse = z.output<typeof messageResponse>;

/** A secret as every listing shows it: `value` is `null` where its scopes redact it. */
const secretRow = z.object({
  name: z.string(),
  type: secretTypeSchema,
  scopes,
  value: nullableValue,
});

/** One row of an organization's secret listing, with its overrides by environment. */
export const orgSecretRow = secretRow.extend({ envValues: z.record(z.string(), nullableValue) });
/** An {@link orgSecretRow}. */
export type OrgSecretRow = z.output<typeof orgSecretRow>;

/**
 * One row of a site's secret listing (SPEC §2.3): its own secrets and those it inherits (`owner`),
 * with the overrides by environment and, for a site secret, the org values it hides.
 */
export const siteSecretRow = orgSecretRow.extend({
  orgValues: z.record(z.string(), nullableValue),
  owner: z.enum(OWNER_KINDS),
});
/** A {@link siteSecretRow}. */
export type SiteSecretRow = z.output<typeof siteSecretRow>;

/** One resolved secret (SPEC §2.4) and where its value came from; `null` without `user` scope. */
export const resolvedRow = secretRow.extend({ source: z.enum(RESOLUTION_SOURCES) });
/** A {@link resolvedRow}. */
export type ResolvedRow = z.output<typeof resolvedRow>;

/** An API token as listed: never the token or its hash. */
export const tokenResponse = z.object({
  id: z.string(),
  kind: z.enum(TOKEN_KINDS),
  user: z.string().nullable(),
  site: z.string().nullable(),
  environment: z.string().nullable(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
/** A {@link tokenResponse}. */
export type TokenResponse = z.output<typeof tokenResponse>;

/** A token just created: `token` is in this answer only, never again. */
export const createdTokenResponse = tokenResponse.extend({ token: z.string() });
/** A {@link createdTokenResponse}. */
export type CreatedTokenResponse = z.output<typeof createdTokenResponse>;

/**
 * The answer of a removal from an organization or a site team: the message, and the runtime and
 * build tokens the removed person minted for the sites concerned that still work (left active on
 * purpose: applications and builds may depend on them; revoke any that should stop).
 */
export const removalResponse = z.object({
  message: z.string(),
  tokensStillActive: z.array(tokenResponse),
});
/** A {@link removalResponse}. */
export type RemovalResponse = z.output<typeof removalResponse>;

/**
 * The answer when an organization stops supporting a site: the message, and the people on the site's
 * team who are members of that organization. The team is its own grant, so they keep managing the
 * site; the answer names them so that the one ending the support can remove any who should not.
 */
export const supportEndedResponse = z.object({
  message: z.string(),
  teamMembersFromOrg: z.array(z.object({ email: z.string() })),
});
/** A {@link supportEndedResponse}. */
export type SupportEndedResponse = z.output<typeof supportEndedResponse>;

/** An audit event: who did what to what, and its link in the hash chain. Never a value. */
export const auditEventResponse = z.object({
  seq: z.number(),
  id: z.string(),
  at: z.string(),
  /** `user:<uuid>`, `token:<id>` or `system`. */
  actor: z.string(),
  /** The email of the user in `actor`, when the server knows the user; else `null`. */
  actorEmail: z.string().nullable(),
  action: z.string(),
  target: z.string(),
  environment: z.string().nullable(),
  orgId: z.string().nullable(),
  siteId: z.string().nullable(),
  outcome: z.string(),
  requestId: z.string().nullable(),
  hash: z.string(),
});
/** An {@link auditEventResponse}. */
export type AuditEventResponse = z.output<typeof auditEventResponse>;

/** `GET /v1/audit/verify`: when `ok` is false, `seq`, `problem` and `message` name the first bad event. */
export const auditVerifyResponse = z.object({
  ok: z.boolean(),
  checked: z.number(),
  seq: z.number().optional(),
  problem: z.string().optional(),
  message: z.string().optional(),
});
/** An {@link auditVerifyResponse}. */
export type AuditVerifyResponse = z.output<typeof auditVerifyResponse>;

/**
 * The local development file of SPEC §3, redacted like the listing. Beyond the listing's fields,
 * `Owner` and (on a site row the org also defines) `OrgScopes` let local mode resolve exactly as
 * `GET /site/secrets` does: an inherited row puts the org's override first, and each side counts
 * only with the `web` scope.
 */
export const localSecretsResponse = z.object({
  EntityType: z.literal("sites"),
  EntityId: z.string(),
  Secrets: z.record(
    z.string(),
    z.object({
      Type: secretTypeSchema,
      Value: nullableValue,
      Scopes: scopes,
      EnvValues: z.record(z.string(), nullableValue),
      OrgValues: z.record(z.string(), nullableValue),
      Owner: z.enum(OWNER_KINDS),
      OrgScopes: scopes.optional(),
    }),
  ),
});
/** A {@link localSecretsResponse}. */
export type LocalSecretsResponse = z.output<typeof localSecretsResponse>;

// --- machine endpoints ---------------------------------------------------------------------------

/**
 * `GET /site/secrets` (SPEC §3), in the seed product's wire shape: the `web`-scoped resolution of
 * the runtime token's site and environment. `Version` is also the `ETag`.
 */
export const runtimeSecretsResponse = z.object({
  SiteID: z.string(),
  Environment: z.string(),
  Secrets: z.record(z.string(), z.object({ Type: secretTypeSchema, Value: z.string(), Scopes: scopes })),
  Count: z.number(),
  Version: z.string(),
  Scopes: z.array(z.literal("web")),
});
/** A {@link runtimeSecretsResponse}. */
export type RuntimeSecretsResponse = z.output<typeof runtimeSecretsResponse>;

/**
 * `GET /v1/build/secrets` (SPEC §4): the `ic`-scoped resolution of the build token's site and
 * environment, `env` secrets as variables and `composer` secrets as `COMPOSER_AUTH`.
 */
export const buildSecretsResponse = z.object({
  site: z.string(),
  environment: z.string(),
  version: z.string(),
  env: z.record(z.string(), z.string()),
  composerAuth: z.record(z.string(), z.unknown()),
});
/** A {@link buildSecretsResponse}. */
export type BuildSecretsResponse = z.output<typeof buildSecretsResponse>;

/**
 * One page of a paginated list: `next` is the cursor of the following page (its `after`, or for
 * the audit log its `before`), `null` on the last.
 */
export const listOf = <Item extends z.ZodType>(item: Item) =>
  z.object({ items: z.array(item), next: z.string().nullable() });
/** One page of a list of `Item` (a schema), as {@link listOf} describes it. */
export type ListPage<Item extends z.ZodType> = z.output<ReturnType<typeof listOf<Item>>>;

/** A list answered whole: the resolved set. */
export const itemsOf = <Item extends z.ZodType>(item: Item) => z.object({ items: z.array(item) });
/** A whole list of `Item` (a schema), as {@link itemsOf} describes it. */
export type Items<Item extends z.ZodType> = z.output<ReturnType<typeof itemsOf<Item>>>;

/** A page of `GET /v1/audit`, newest first; `next` is the `before` of the following page. */
export type AuditPage = ListPage<typeof auditEventResponse>;
