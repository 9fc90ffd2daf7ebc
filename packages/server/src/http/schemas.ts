import { z } from "zod";

/**
 * Request and response shapes of the management API. Shapes only (types, required fields, no
 * unknown fields; a violation is 400): the rules of SPEC §1–2 (names, values, scopes) are checked by
 * the domain, which answers 422 with the rule's own message.
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

export const orgParams = z.object({ org: text() }).strict();
export const siteParams = z.object({ site: text() }).strict();
export const orgSecretParams = z.object({ org: text(), name: text(1024) }).strict();
export const orgSecretEnvParams = z.object({ org: text(), name: text(1024), env: text() }).strict();
export const siteSecretParams = z.object({ site: text(), name: text(1024) }).strict();
export const siteSecretEnvParams = z.object({ site: text(), name: text(1024), env: text() }).strict();
export const orgUserParams = z.object({ org: text(), user: text() }).strict();
export const siteUserParams = z.object({ site: text(), user: text() }).strict();
export const siteOrgParams = z.object({ site: text(), org: text() }).strict();
export const siteEnvParams = z.object({ site: text(), env: text() }).strict();
export const tokenParams = z.object({ id: text() }).strict();

export const createUserBody = z.object({ email: text(), admin: z.boolean().optional() }).strict();
export const createOrgBody = z.object({ name: text() }).strict();
export const memberBody = z.object({ role: z.enum(["admin", "member"]) }).strict();
export const setSecretBody = z
  .object({
    value: z.string(),
    type: text().optional(),
    scopes: z.union([text(), z.array(text()).max(16)]).optional(),
  })
  .strict();
export const createSiteBody = z
  .object({
    name: text(),
    org: text().optional(),
    owner: text().optional(),
    supportingOrgs: z.array(text()).max(100).optional(),
  })
  .strict();
export const transferBody = z.object({ org: text().optional(), owner: text().optional() }).strict();
export const createEnvironmentBody = z.object({ name: text() }).strict();
export const createTokenBody = z
  .object({
    kind: z.enum(["user", "runtime", "build"]),
    user: text().optional(),
    site: text().optional(),
    env: text().optional(),
  })
  .strict();

export const siteListQuery = pageQuery.extend({ org: text().optional() }).strict();
export const siteSecretsQuery = pageQuery.extend({ env: text().optional() }).strict();
export const resolveQuery = z.object({ env: text(), scope: text().optional() }).strict();
export const tokenListQuery = pageQuery.extend({ user: text().optional(), site: text().optional() }).strict();
export const auditQuery = z
  .object({
    org: text().optional(),
    site: text().optional(),
    since: text().optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    before: z.coerce.number().int().min(1).optional(),
  })
  .strict();

// --- responses (for the OpenAPI document) ------------------------------------------------------
const scopes = z.array(z.enum(["ic", "web", "user"]));
const secretType = z.enum(["runtime", "env", "composer"]);
const nullableValue = z.string().nullable();
export const userResponse = z.object({
  id: z.string(),
  email: z.string(),
  admin: z.boolean(),
  createdAt: z.string(),
});
export const orgResponse = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  role: z.string().optional(),
});
export const memberResponse = z.object({
  userId: z.string(),
  email: z.string(),
  role: z.enum(["admin", "member"]),
});
export const siteResponse = z.object({
  id: z.string(),
  name: z.string(),
  owner: z.object({ kind: z.enum(["org", "user"]), id: z.string(), name: z.string() }),
  createdAt: z.string(),
});
export const siteInfoResponse = siteResponse.extend({
  supportingOrgs: z.array(z.object({ id: z.string(), name: z.string() })),
  environments: z.array(z.object({ name: z.string(), kind: z.enum(["standard", "multidev"]) })),
  team: z.array(z.object({ id: z.string(), email: z.string() })),
});
export const environmentResponse = z.object({
  name: z.string(),
  kind: z.enum(["standard", "multidev"]),
  createdAt: z.string(),
});
export const setSecretResponse = z.object({
  message: z.string(),
  created: z.boolean(),
  secret: z.object({ name: z.string(), type: secretType, scopes }),
  notes: z.array(z.string()),
});
export const messageResponse = z.object({ message: z.string() });
export const siteSecretRow = z.object({
  name: z.string(),
  type: secretType,
  scopes,
  value: nullableValue,
  envValues: z.record(z.string(), nullableValue),
  orgValues: z.record(z.string(), nullableValue),
  owner: z.enum(["site", "org"]),
});
export const orgSecretRow = z.object({
  name: z.string(),
  type: secretType,
  scopes,
  value: nullableValue,
  envValues: z.record(z.string(), nullableValue),
});
export const resolvedRow = z.object({
  name: z.string(),
  type: secretType,
  scopes,
  value: nullableValue,
  source: z.enum(["site-override", "site", "org-override", "org"]),
});
export const tokenResponse = z.object({
  id: z.string(),
  kind: z.enum(["user", "runtime", "build"]),
  user: z.string().nullable(),
  site: z.string().nullable(),
  environment: z.string().nullable(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export const createdTokenResponse = tokenResponse.extend({ token: z.string() });
export const auditEventResponse = z.object({
  seq: z.number(),
  id: z.string(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  environment: z.string().nullable(),
  orgId: z.string().nullable(),
  siteId: z.string().nullable(),
  outcome: z.string(),
  requestId: z.string().nullable(),
  hash: z.string(),
});
export const auditVerifyResponse = z.object({
  ok: z.boolean(),
  checked: z.number(),
  seq: z.number().optional(),
  problem: z.string().optional(),
  message: z.string().optional(),
});
export const localSecretsResponse = z.object({
  EntityType: z.literal("sites"),
  EntityId: z.string(),
  Secrets: z.record(
    z.string(),
    z.object({
      Type: secretType,
      Value: nullableValue,
      Scopes: scopes,
      EnvValues: z.record(z.string(), nullableValue),
      OrgValues: z.record(z.string(), nullableValue),
    }),
  ),
});
/** One page of a paginated list: `next` is the `after` of the following page, `null` on the last. */
export const listOf = (item: z.ZodType) => z.object({ items: z.array(item), next: z.string().nullable() });
/** A list answered whole: the resolved set. */
export const itemsOf = (item: z.ZodType) => z.object({ items: z.array(item) });
