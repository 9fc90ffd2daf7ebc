import {
  auditEventResponse,
  auditVerifyResponse,
  buildSecretsResponse,
  createdTokenResponse,
  deletedSecretRow,
  environmentResponse,
  importSecretsResponse,
  itemsOf,
  listOf,
  localSecretsResponse,
  memberResponse,
  messageResponse,
  orgResponse,
  orgSecretRow,
  removalResponse,
  resolvedRow,
  restoreSecretResponse,
  rollbackSecretResponse,
  runtimeSecretsResponse,
  secretVersionRow,
  setSecretResponse,
  signinLinkResponse,
  siteInfoResponse,
  siteResponse,
  siteSecretRow,
  supportEndedResponse,
  tokenResponse,
  userResponse,
  whoamiResponse,
} from "@lockbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createTestApp, type TestApp } from "../testing/test-app.js";
import { contractDatabases } from "../testing/test-databases.js";

/**
 * What the server answers is exactly the shape `@lockbox/core` declares, the shape the SDK's types
 * are: every field present, none added, every enum value known. And each route documents (in
 * OpenAPI) the schema it answers. Requests run in order, each building on the ones before.
 */
interface AnswerCase {
  /** The route as OpenAPI names it. */
  readonly route: string;
  readonly url: string;
  /** The body, or how to get it from the app (for a body that depends on an earlier answer). */
  readonly body?: unknown;
  readonly bodyFrom?: (t: TestApp) => Promise<unknown>;
  readonly schema: z.ZodType;
  /** A machine endpoint's token kind, minted for `shop.dev`; the admin's token otherwise. */
  readonly token?: "runtime" | "build";
}

const CASES: readonly AnswerCase[] = [
  { route: "GET /v1/whoami", url: "/v1/whoami", schema: whoamiResponse },
  { route: "POST /v1/users", url: "/v1/users", body: { email: "wire@example.com" }, schema: userResponse },
  { route: "GET /v1/users", url: "/v1/users", schema: listOf(userResponse) },
  { route: "POST /v1/orgs", url: "/v1/orgs", body: { name: "acme" }, schema: orgResponse },
  { route: "GET /v1/orgs", url: "/v1/orgs", schema: listOf(orgResponse) },
  { route: "GET /v1/orgs/{org}", url: "/v1/orgs/acme", schema: orgResponse },
  {
    route: "PUT /v1/orgs/{org}/members/{user}",
    url: "/v1/orgs/acme/members/wire@example.com",
    body: { role: "member" },
    schema: memberResponse,
  },
  { route: "GET /v1/orgs/{org}/members", url: "/v1/orgs/acme/members", schema: listOf(memberResponse) },
  {
    route: "PUT /v1/orgs/{org}/secrets/{name}",
    url: "/v1/orgs/acme/secrets/SHARED",
    body: { value: "org", scopes: "web,user" },
    schema: setSecretResponse,
  },
  {
    route: "PUT /v1/orgs/{org}/secrets/{name}/envs/{env}",
    url: "/v1/orgs/acme/secrets/SHARED/envs/live",
    body: { value: "org-live" },
    schema: setSecretResponse,
  },
  {
    route: "POST /v1/orgs/{org}/secrets/import",
    url: "/v1/orgs/acme/secrets/import",
    body: { secrets: { SHARED: "org", IMPORTED: "i" }, scopes: "web,user" },
    schema: importSecretsResponse,
  },
  { route: "GET /v1/orgs/{org}/secrets", url: "/v1/orgs/acme/secrets", schema: listOf(orgSecretRow) },
  { route: "POST /v1/sites", url: "/v1/sites", body: { name: "shop", org: "acme" }, schema: siteResponse },
  {
    route: "POST /v1/sites",
    url: "/v1/sites",
    body: { name: "mine", owner: "wire@example.com" },
    schema: siteResponse,
  },
  { route: "GET /v1/sites", url: "/v1/sites", schema: listOf(siteResponse) },
  {
    route: "POST /v1/sites/{site}/environments",
    url: "/v1/sites/shop/environments",
    body: { name: "feature" },
    schema: environmentResponse,
  },
  {
    route: "GET /v1/sites/{site}/environments",
    url: "/v1/sites/shop/environments",
    schema: listOf(environmentResponse),
  },
  {
    route: "PUT /v1/sites/{site}/secrets/{name}",
    url: "/v1/sites/shop/secrets/API_KEY",
    body: { value: "site", type: "env", scopes: ["ic", "web"] },
    schema: setSecretResponse,
  },
  {
    route: "PUT /v1/sites/{site}/secrets/{name}/envs/{env}",
    url: "/v1/sites/shop/secrets/API_KEY/envs/dev",
    body: { value: "site-dev" },
    schema: setSecretResponse,
  },
  {
    route: "POST /v1/sites/{site}/secrets/import",
    url: "/v1/sites/shop/secrets/import",
    body: { env: "dev", secrets: { API_KEY: "site-dev-2", MISSING: "m" }, dryRun: true },
    schema: importSecretsResponse,
  },
  { route: "GET /v1/sites/{site}", url: "/v1/sites/shop", schema: siteInfoResponse },
  { route: "GET /v1/sites/{site}/secrets", url: "/v1/sites/shop/secrets", schema: listOf(siteSecretRow) },
  {
    route: "GET /v1/sites/{site}/secrets",
    url: "/v1/sites/shop/secrets?env=dev",
    schema: listOf(siteSecretRow),
  },
  {
    route: "GET /v1/sites/{site}/resolve",
    url: "/v1/sites/shop/resolve?env=dev&scope=user",
    schema: itemsOf(resolvedRow),
  },
  {
    route: "GET /v1/sites/{site}/local-secrets",
    url: "/v1/sites/shop/local-secrets",
    schema: localSecretsResponse,
  },
  {
    route: "POST /v1/sites/{site}/secrets/{name}/rollback",
    url: "/v1/sites/shop/secrets/API_KEY/rollback",
    body: { to: 1 },
    schema: rollbackSecretResponse,
  },
  {
    route: "GET /v1/sites/{site}/secrets/{name}/versions",
    url: "/v1/sites/shop/secrets/API_KEY/versions?values=true",
    schema: listOf(secretVersionRow),
  },
  {
    route: "POST /v1/orgs/{org}/secrets/{name}/rollback",
    url: "/v1/orgs/acme/secrets/SHARED/rollback",
    body: { env: "live", to: 1 },
    schema: rollbackSecretResponse,
  },
  {
    route: "GET /v1/orgs/{org}/secrets/{name}/versions",
    url: "/v1/orgs/acme/secrets/SHARED/versions?env=live",
    schema: listOf(secretVersionRow),
  },
  { route: "GET /site/secrets", url: "/site/secrets", schema: runtimeSecretsResponse, token: "runtime" },
  { route: "GET /v1/build/secrets", url: "/v1/build/secrets", schema: buildSecretsResponse, token: "build" },
  {
    route: "POST /v1/tokens",
    url: "/v1/tokens",
    body: { kind: "runtime", site: "shop", env: "dev" },
    schema: createdTokenResponse,
  },
  {
    route: "POST /v1/tokens",
    url: "/v1/tokens",
    body: { kind: "build", site: "shop", env: "dev", expiresIn: "7d" },
    schema: createdTokenResponse,
  },
  { route: "GET /v1/tokens", url: "/v1/tokens?site=shop", schema: listOf(tokenResponse) },
  { route: "POST /v1/ui/links", url: "/v1/ui/links", schema: signinLinkResponse },
  {
    route: "POST /v1/ui/sessions",
    url: "/v1/ui/sessions",
    bodyFrom: async (t) => ({
      secret: (await t.call("POST", "/v1/ui/links", { token: t.adminToken })).json.secret,
    }),
    schema: createdTokenResponse,
  },
  // `crew@example.com` (set up before the cases) minted a token for `crew-site`.
  {
    route: "DELETE /v1/sites/{site}/team/{user}",
    url: "/v1/sites/crew-site/team/crew@example.com",
    schema: removalResponse,
  },
  {
    route: "DELETE /v1/sites/{site}/supporting-orgs/{org}",
    url: "/v1/sites/crew-site/supporting-orgs/helpers",
    schema: supportEndedResponse,
  },
  {
    route: "DELETE /v1/orgs/{org}/members/{user}",
    url: "/v1/orgs/crew/members/crew@example.com",
    schema: removalResponse,
  },
  {
    route: "POST /v1/sites/{site}/transfer",
    url: "/v1/sites/mine/transfer",
    body: { org: "acme" },
    schema: siteResponse,
  },
  {
    route: "DELETE /v1/sites/{site}/secrets/{name}/envs/{env}",
    url: "/v1/sites/shop/secrets/API_KEY/envs/dev",
    schema: messageResponse,
  },
  {
    route: "DELETE /v1/sites/{site}/secrets/{name}",
    url: "/v1/sites/shop/secrets/API_KEY",
    schema: messageResponse,
  },
  {
    route: "GET /v1/sites/{site}/deleted-secrets",
    url: "/v1/sites/shop/deleted-secrets",
    schema: listOf(deletedSecretRow),
  },
  {
    route: "POST /v1/sites/{site}/secrets/{name}/restore",
    url: "/v1/sites/shop/secrets/API_KEY/restore",
    schema: restoreSecretResponse,
  },
  {
    route: "DELETE /v1/orgs/{org}/secrets/{name}/envs/{env}",
    url: "/v1/orgs/acme/secrets/SHARED/envs/live",
    schema: messageResponse,
  },
  {
    route: "DELETE /v1/orgs/{org}/secrets/{name}",
    url: "/v1/orgs/acme/secrets/SHARED",
    schema: messageResponse,
  },
  {
    route: "GET /v1/orgs/{org}/deleted-secrets",
    url: "/v1/orgs/acme/deleted-secrets",
    schema: listOf(deletedSecretRow),
  },
  {
    route: "POST /v1/orgs/{org}/secrets/{name}/restore",
    url: "/v1/orgs/acme/secrets/SHARED/restore",
    schema: restoreSecretResponse,
  },
  { route: "GET /v1/audit", url: "/v1/audit", schema: listOf(auditEventResponse) },
  { route: "GET /v1/audit/verify", url: "/v1/audit/verify", schema: auditVerifyResponse },
];

/** A schema as route.ts documents it in OpenAPI. */
function documented(schema: z.ZodType): unknown {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
  return rest;
}

describe.each(await contractDatabases())("management answers have core's shapes ($name)", ({ create }) => {
  let t: TestApp;
  let drop: () => Promise<void>;
  let openApi: { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };

  beforeAll(async () => {
    const database = await create();
    drop = () => database.drop();
    t = await createTestApp(database);
    openApi = (await t.call("GET", "/v1/openapi.json")).json;
    // Someone to remove, who minted a token that still works.
    const admin = { token: t.adminToken };
    const crew = await t.user("crew@example.com");
    await t.call("POST", "/v1/orgs", { ...admin, body: { name: "crew" } });
    await t.call("PUT", "/v1/orgs/crew/members/crew@example.com", { ...admin, body: { role: "member" } });
    await t.call("POST", "/v1/sites", { ...admin, body: { name: "crew-site", org: "crew" } });
    await t.call("PUT", "/v1/sites/crew-site/team/crew@example.com", admin);
    await t.call("POST", "/v1/orgs", { ...admin, body: { name: "helpers" } });
    await t.call("PUT", "/v1/sites/crew-site/supporting-orgs/helpers", admin);
    const minted = await t.call("POST", "/v1/tokens", {
      token: crew.token,
      body: { kind: "runtime", site: "crew-site", env: "live" },
    });
    expect(minted.status, minted.body).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it.each(CASES)(
    "$route ($url) answers exactly its core schema",
    async ({ route, url, body, bodyFrom, schema, token }) => {
      const method = route.split(" ", 1)[0] as string;
      const minted = token
        ? await t.call("POST", "/v1/tokens", {
            token: t.adminToken,
            body: { kind: token, site: "shop", env: "dev" },
          })
        : undefined;
      const response = await t.call(method, url, {
        token: minted?.json.token ?? t.adminToken,
        body: bodyFrom ? await bodyFrom(t) : body,
      });
      expect(response.status, `${method} ${url}: ${response.body}`).toBeLessThan(300);
      // Values, tokens and memberships: no cache or proxy may keep an answer of the API.
      if (url.startsWith("/v1/")) expect(response.headers["cache-control"]).toBe("no-store");
      const parsed = schema.safeParse(response.json);
      expect(parsed.error?.issues).toBeUndefined();
      // Objects drop fields they do not declare, so an extra field in the answer fails here.
      expect(parsed.data).toEqual(response.json);
    },
  );

  it("says no-store on the API's errors too (401, 404)", async () => {
    const missing = await t.call("GET", "/v1/sites/no-such-site", { token: t.adminToken });
    const anonymous = await t.call("GET", "/v1/whoami");
    expect([missing.status, anonymous.status]).toEqual([404, 401]);
    expect([missing.headers["cache-control"], anonymous.headers["cache-control"]]).toEqual([
      "no-store",
      "no-store",
    ]);
  });

  it.each(CASES)("$route documents the schema it answers", ({ route, schema }) => {
    const [method, path] = route.split(" ") as [string, string];
    const responses = openApi.paths[path]?.[method.toLowerCase()]?.responses ?? {};
    const success = Object.entries(responses).find(([status]) => status.startsWith("2"))?.[1] as
      | { content?: { "application/json"?: { schema?: unknown } } }
      | undefined;
    expect(success?.content?.["application/json"]?.schema).toEqual(documented(schema));
  });

  it("documents the machine endpoints' conditional GET and their error answers", () => {
    const runtime = openApi.paths["/site/secrets"]?.get as unknown as {
      parameters: Array<{ name: string; in: string }>;
      responses: Record<string, { headers?: Record<string, unknown>; content?: unknown }>;
    };
    expect(runtime.parameters).toContainEqual(
      expect.objectContaining({ name: "If-None-Match", in: "header" }),
    );
    expect(runtime.parameters).toContainEqual(
      expect.objectContaining({ name: "wait", in: "query", required: false }),
    );
    expect(Object.keys(runtime.responses).sort()).toEqual(["200", "304", "400", "401", "403", "default"]);
    expect(Object.keys(runtime.responses["200"]?.headers ?? {})).toEqual(["ETag", "Cache-Control"]);
    expect(runtime.responses["304"]?.content).toBeUndefined();
    expect(runtime.responses["401"]?.content).toEqual({
      "application/json": { schema: { $ref: "#/components/schemas/Error" } },
    });
    const build = openApi.paths["/v1/build/secrets"]?.get as unknown as typeof runtime;
    expect(Object.keys(build.responses).sort()).toEqual(["200", "401", "403", "default"]);
  });

  it("covers every route that documents an answer body", () => {
    const documentedRoutes = Object.entries(openApi.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([, operation]) =>
          Object.entries(operation.responses).some(
            ([status, answer]) => status.startsWith("2") && (answer as { content?: unknown }).content,
          ),
        )
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    expect(new Set(CASES.map((c) => c.route))).toEqual(new Set(documentedRoutes));
  });
});
