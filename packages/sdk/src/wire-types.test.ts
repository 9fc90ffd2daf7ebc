import type {
  auditEventResponse,
  auditQuery,
  auditVerifyResponse,
  createdTokenResponse,
  createEnvironmentBody,
  createOrgBody,
  createSiteBody,
  createTokenBody,
  createUserBody,
  environmentResponse,
  listOf,
  localSecretsResponse,
  memberBody,
  memberResponse,
  messageResponse,
  orgResponse,
  orgSecretRow,
  resolvedRow,
  setSecretBody,
  setSecretResponse,
  siteInfoResponse,
  siteResponse,
  siteSecretRow,
  tokenResponse,
  transferBody,
  userResponse,
  whoamiResponse,
} from "@lockbox/core";
import { describe, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import type { LockboxClient } from "./management-client.js";

/*
 * The client's types are the server's schemas' types: these assertions fail to compile (and so
 * `npm run typecheck` fails) when either side changes alone. The server's test `wire-shapes.test.ts`
 * checks the other half: that what it answers is exactly these schemas.
 */

type Method = {
  [M in keyof LockboxClient]: LockboxClient[M] extends (...args: never[]) => Promise<unknown> ? M : never;
}[keyof LockboxClient];
/** What a client method resolves with. */
type Answer<M extends Method> = Awaited<ReturnType<LockboxClient[M]>>;
/** The `index`-th argument of a client method. */
type Argument<M extends Method, Index extends number> = Parameters<LockboxClient[M]>[Index];
/** What the server answers with `Schema`. */
type Out<Schema extends z.ZodType> = z.output<Schema>;
/** Every item of a paginated list of `Item`, as the client collects them. */
type All<Item extends z.ZodType> = z.output<ReturnType<typeof listOf<Item>>>["items"];
/** What the server accepts for `Schema`. */
type In<Schema extends z.ZodType> = z.input<Schema>;

describe("LockboxClient's types", () => {
  it("are the core schemas' answers", () => {
    expectTypeOf<Answer<"whoami">>().toEqualTypeOf<Out<typeof whoamiResponse>>();
    expectTypeOf<Answer<"createUser">>().toEqualTypeOf<Out<typeof userResponse>>();
    expectTypeOf<Answer<"listUsers">>().toEqualTypeOf<All<typeof userResponse>>();

    expectTypeOf<Answer<"createOrg">>().toEqualTypeOf<Out<typeof orgResponse>>();
    expectTypeOf<Answer<"listOrgs">>().toEqualTypeOf<All<typeof orgResponse>>();
    expectTypeOf<Answer<"getOrg">>().toEqualTypeOf<Out<typeof orgResponse>>();
    expectTypeOf<Answer<"listMembers">>().toEqualTypeOf<All<typeof memberResponse>>();
    expectTypeOf<Answer<"setMember">>().toEqualTypeOf<Out<typeof memberResponse>>();

    expectTypeOf<Answer<"listOrgSecrets">>().toEqualTypeOf<All<typeof orgSecretRow>>();
    expectTypeOf<Answer<"setOrgSecret">>().toEqualTypeOf<Out<typeof setSecretResponse>>();
    expectTypeOf<Answer<"setOrgSecretOverride">>().toEqualTypeOf<Out<typeof setSecretResponse>>();
    expectTypeOf<Answer<"deleteOrgSecret">>().toEqualTypeOf<Out<typeof messageResponse>>();
    expectTypeOf<Answer<"deleteOrgSecretOverride">>().toEqualTypeOf<Out<typeof messageResponse>>();

    expectTypeOf<Answer<"createSite">>().toEqualTypeOf<Out<typeof siteResponse>>();
    expectTypeOf<Answer<"listSites">>().toEqualTypeOf<All<typeof siteResponse>>();
    expectTypeOf<Answer<"getSite">>().toEqualTypeOf<Out<typeof siteInfoResponse>>();
    expectTypeOf<Answer<"transferSite">>().toEqualTypeOf<Out<typeof siteResponse>>();
    expectTypeOf<Answer<"listEnvironments">>().toEqualTypeOf<All<typeof environmentResponse>>();
    expectTypeOf<Answer<"createMultidev">>().toEqualTypeOf<Out<typeof environmentResponse>>();

    expectTypeOf<Answer<"listSiteSecrets">>().toEqualTypeOf<All<typeof siteSecretRow>>();
    expectTypeOf<Answer<"localSecrets">>().toEqualTypeOf<Out<typeof localSecretsResponse>>();
    expectTypeOf<Answer<"setSiteSecret">>().toEqualTypeOf<Out<typeof setSecretResponse>>();
    expectTypeOf<Answer<"setSiteSecretOverride">>().toEqualTypeOf<Out<typeof setSecretResponse>>();
    expectTypeOf<Answer<"deleteSiteSecret">>().toEqualTypeOf<Out<typeof messageResponse>>();
    expectTypeOf<Answer<"deleteSiteSecretOverride">>().toEqualTypeOf<Out<typeof messageResponse>>();
    expectTypeOf<Answer<"resolve">>().toEqualTypeOf<Out<typeof resolvedRow>[]>();

    expectTypeOf<Answer<"createToken">>().toEqualTypeOf<Out<typeof createdTokenResponse>>();
    expectTypeOf<Answer<"listTokens">>().toEqualTypeOf<All<typeof tokenResponse>>();

    expectTypeOf<Answer<"listAudit">>().toEqualTypeOf<
      Out<ReturnType<typeof listOf<typeof auditEventResponse>>>
    >();
    expectTypeOf<Answer<"verifyAudit">>().toEqualTypeOf<Out<typeof auditVerifyResponse>>();
  });

  it("send only what the core schemas accept", () => {
    expectTypeOf<Argument<"createUser", 0>>().toExtend<In<typeof createUserBody>>();
    expectTypeOf<{ name: Argument<"createOrg", 0> }>().toExtend<In<typeof createOrgBody>>();
    expectTypeOf<{ role: Argument<"setMember", 2> }>().toExtend<In<typeof memberBody>>();
    expectTypeOf<Argument<"setSiteSecret", 2>>().toExtend<In<typeof setSecretBody>>();
    expectTypeOf<Argument<"setOrgSecretOverride", 3>>().toExtend<In<typeof setSecretBody>>();
    expectTypeOf<Argument<"createSite", 0>>().toExtend<In<typeof createSiteBody>>();
    expectTypeOf<Argument<"transferSite", 1>>().toExtend<In<typeof transferBody>>();
    expectTypeOf<{ name: Argument<"createMultidev", 1> }>().toExtend<In<typeof createEnvironmentBody>>();
    expectTypeOf<Argument<"createToken", 0>>().toExtend<In<typeof createTokenBody>>();
    expectTypeOf<NonNullable<Argument<"listAudit", 0>>>().toEqualTypeOf<z.output<typeof auditQuery>>();
  });
});
