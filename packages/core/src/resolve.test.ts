import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LockboxError } from "./errors.js";
import { type ResolveInput, resolveSecrets } from "./resolve.js";
import type { Scope, SecretRecord, SecretType } from "./types.js";

let nextId = 0;
function secret(
  name: string,
  scopes: readonly Scope[],
  overrideEnvs: readonly string[] = [],
  type: SecretType = "runtime",
): SecretRecord {
  nextId += 1;
  return { id: `id-${nextId}`, name, type, scopes, overrideEnvs };
}

/** name → [source, valueEnv, secret id], for compact assertions. */
function summary(input: ResolveInput): Record<string, [string, string | null, string]> {
  const out: Record<string, [string, string | null, string]> = {};
  for (const [name, entry] of resolveSecrets(input))
    out[name] = [entry.source, entry.valueEnv, entry.secret.id];
  return out;
}

describe("resolveSecrets()", () => {
  describe("precedence: site override > site base > org override > org base", () => {
    const siteWithOverride = secret("API", ["web"], ["live"]);
    const siteBase = secret("API", ["web"], ["dev"]);
    const orgWithOverride = secret("API", ["web"], ["live"]);
    const orgBase = secret("API", ["web"]);

    it("resolveSecrets() picks the site override over everything", () => {
      const entry = resolveSecrets({
        env: "live",
        scope: "web",
        siteSecrets: [siteWithOverride],
        orgSecrets: [orgWithOverride],
      }).get("API");
      expect(entry).toEqual({
        name: "API",
        secret: siteWithOverride,
        owner: "site",
        source: "site-override",
        valueEnv: "live",
      });
    });

    it("resolveSecrets() picks the site base value when the site has no override for the environment", () => {
      const entry = resolveSecrets({
        env: "live",
        scope: "web",
        siteSecrets: [siteBase],
        orgSecrets: [orgWithOverride],
      }).get("API");
      expect(entry).toEqual({ name: "API", secret: siteBase, owner: "site", source: "site", valueEnv: null });
    });

    it("resolveSecrets() picks the org override when the site does not define the name", () => {
      const entry = resolveSecrets({
        env: "live",
        scope: "web",
        siteSecrets: [],
        orgSecrets: [orgWithOverride],
      }).get("API");
      expect(entry).toEqual({
        name: "API",
        secret: orgWithOverride,
        owner: "org",
        source: "org-override",
        valueEnv: "live",
      });
    });

    it("resolveSecrets() falls back to the org base value last", () => {
      const entry = resolveSecrets({ env: "live", scope: "web", siteSecrets: [], orgSecrets: [orgBase] }).get(
        "API",
      );
      expect(entry).toEqual({ name: "API", secret: orgBase, owner: "org", source: "org", valueEnv: null });
    });
  });

  it("resolveSecrets() lets a site base value hide an org override", () => {
    const siteBase = secret("API", ["web"]);
    const orgOverride = secret("API", ["web"], ["live"]);
    const entry = resolveSecrets({
      env: "live",
      scope: "web",
      siteSecrets: [siteBase],
      orgSecrets: [orgOverride],
    }).get("API");
    expect(entry?.secret).toBe(siteBase);
    expect(entry?.source).toBe("site");
    expect(entry?.valueEnv).toBeNull();
  });

  it("resolveSecrets() filters before merging: a site secret without the scope does not hide the org's", () => {
    const siteUserOnly = secret("API", ["user"], ["live"]);
    const orgWeb = secret("API", ["web"]);
    const result = resolveSecrets({
      env: "live",
      scope: "web",
      siteSecrets: [siteUserOnly],
      orgSecrets: [orgWeb],
    });
    expect(result.get("API")).toEqual({
      name: "API",
      secret: orgWeb,
      owner: "org",
      source: "org",
      valueEnv: null,
    });
    // And the other way round for a consumer with the site secret's scope.
    const forUser = resolveSecrets({
      env: "live",
      scope: "user",
      siteSecrets: [siteUserOnly],
      orgSecrets: [orgWeb],
    });
    expect(forUser.get("API")?.secret).toBe(siteUserOnly);
  });

  it("resolveSecrets() lets only the owner org's secrets it is given reach the site, never a supporting org's", () => {
    const ownerOrg = [secret("SHARED", ["ic"]), secret("OWNER_ONLY", ["ic"])];
    const supportingOrg = [secret("SHARED", ["ic"], ["dev"]), secret("SUPPORT_ONLY", ["ic"])];
    const result = resolveSecrets({ env: "dev", scope: "ic", siteSecrets: [], orgSecrets: ownerOrg });
    expect([...result.keys()]).toEqual(["OWNER_ONLY", "SHARED"]);
    const ids = [...result.values()].map((entry) => entry.secret.id);
    for (const foreign of supportingOrg) expect(ids).not.toContain(foreign.id);
  });

  it("resolveSecrets() gives a personal site no org secrets", () => {
    const own = secret("MINE", ["web"]);
    const result = resolveSecrets({ env: "dev", scope: "web", siteSecrets: [own], orgSecrets: [] });
    expect(summary({ env: "dev", scope: "web", siteSecrets: [own], orgSecrets: [] })).toEqual({
      MINE: ["site", null, own.id],
    });
    expect([...result.values()].every((entry) => entry.owner === "site")).toBe(true);
  });

  it("resolveSecrets() does not filter by type: web scope alone decides runtime visibility", () => {
    const envWeb = secret("ENV_WEB", ["web"], [], "env");
    const composerWeb = secret("github-oauth.github.com", ["ic", "web"], [], "composer");
    const runtimeWeb = secret("RUNTIME_WEB", ["web"], [], "runtime");
    const runtimeIc = secret("RUNTIME_IC", ["ic", "user"], [], "runtime");
    const result = resolveSecrets({
      env: "live",
      scope: "web",
      siteSecrets: [envWeb, composerWeb, runtimeWeb, runtimeIc],
      orgSecrets: [],
    });
    expect([...result.keys()]).toEqual(["ENV_WEB", "RUNTIME_WEB", "github-oauth.github.com"]);
  });

  it("resolveSecrets() returns the site to the org value when the site value is deleted", () => {
    const siteValue = secret("API", ["web"], ["live"]);
    const orgValue = secret("API", ["web"], ["live"]);
    const before = resolveSecrets({
      env: "live",
      scope: "web",
      siteSecrets: [siteValue],
      orgSecrets: [orgValue],
    });
    expect(before.get("API")?.source).toBe("site-override");
    const after = resolveSecrets({ env: "live", scope: "web", siteSecrets: [], orgSecrets: [orgValue] });
    expect(after.get("API")).toEqual({
      name: "API",
      secret: orgValue,
      owner: "org",
      source: "org-override",
      valueEnv: "live",
    });
  });

  it("resolveSecrets() ignores overrides for other environments", () => {
    const api = secret("API", ["web"], ["dev", "feature"]);
    expect(summary({ env: "live", scope: "web", siteSecrets: [api], orgSecrets: [] })).toEqual({
      API: ["site", null, api.id],
    });
  });

  it("resolveSecrets() orders the result by name in code-unit order", () => {
    const names = ["b", "B", "_x", "a.b", "é", "A", "a-b", "10", "9"];
    const result = resolveSecrets({
      env: "dev",
      scope: "web",
      siteSecrets: names.slice(0, 4).map((name) => secret(name, ["web"])),
      orgSecrets: names.slice(4).map((name) => secret(name, ["web"])),
    });
    expect([...result.keys()]).toEqual(["10", "9", "A", "B", "_x", "a-b", "a.b", "b", "é"]);
  });

  it("resolveSecrets() refuses two same-named secrets from one owner as a broken store", () => {
    expect(() =>
      resolveSecrets({
        env: "dev",
        scope: "web",
        siteSecrets: [secret("A", ["web"]), secret("A", ["user"])],
        orgSecrets: [],
      }),
    ).toThrow(
      new LockboxError("INTERNAL", "Two site secrets are named 'A'; secret names must be unique per owner."),
    );
  });

  describe("the seed's example", () => {
    // my-org owns my-org-site; other-org supports it; my-personal-site belongs to a user.
    const myOrg = [
      secret("foo", ["ic"]),
      secret("ORG_TOKEN", ["ic"], ["dev"]),
      secret("ORG_WEB_ONLY", ["web"]),
    ];
    const otherOrg = [secret("SUPPORTER", ["ic"])];
    const myOrgSite = [secret("foo", ["ic"], ["dev"]), secret("SITE_ONLY", ["ic"])];
    const myPersonalSite = [secret("PERSONAL", ["ic"], ["feature"]), secret("foo", ["ic"])];

    it("resolveSecrets() gives my-personal-site only its own ic secrets with overrides applied", () => {
      const byName = summary({ env: "feature", scope: "ic", siteSecrets: myPersonalSite, orgSecrets: [] });
      expect(byName).toEqual({
        PERSONAL: ["site-override", "feature", myPersonalSite[0]?.id],
        foo: ["site", null, myPersonalSite[1]?.id],
      });
    });

    it("resolveSecrets() merges my-org's ic secrets into my-org-site, the site's foo winning", () => {
      const byName = summary({ env: "dev", scope: "ic", siteSecrets: myOrgSite, orgSecrets: myOrg });
      expect(byName).toEqual({
        ORG_TOKEN: ["org-override", "dev", myOrg[1]?.id],
        SITE_ONLY: ["site", null, myOrgSite[1]?.id],
        foo: ["site-override", "dev", myOrgSite[0]?.id],
      });
      const ids = Object.values(byName).map(([, , id]) => id);
      expect(ids).not.toContain(otherOrg[0]?.id);
    });
  });
});

describe("resolveSecrets() properties", () => {
  const ENVS = ["dev", "test", "live", "feature"];
  const scopeArb = fc.constantFrom<Scope>("ic", "web", "user");
  const recordArb = fc.record({
    id: fc.uuid(),
    name: fc.constantFrom<string>("A", "B", "a", "foo", "é", "_x", "api.key"),
    type: fc.constantFrom<SecretType>("runtime", "env", "composer"),
    scopes: fc.subarray<Scope>(["ic", "web", "user"], { minLength: 1 }),
    overrideEnvs: fc.subarray(ENVS),
  });
  const sideArb = fc.uniqueArray(recordArb, { selector: (record) => record.name, maxLength: 7 });
  const inputArb = fc.record({
    env: fc.constantFrom(...ENVS),
    scope: scopeArb,
    siteSecrets: sideArb,
    orgSecrets: sideArb,
  });

  it("removing any org secret never changes a name the site defines with the consumer's scope", () => {
    fc.assert(
      fc.property(inputArb, fc.nat(), (input, pick) => {
        fc.pre(input.orgSecrets.length > 0);
        const removeAt = pick % input.orgSecrets.length;
        const fewer = { ...input, orgSecrets: input.orgSecrets.filter((_, index) => index !== removeAt) };
        const before = resolveSecrets(input);
        const after = resolveSecrets(fewer);
        for (const own of input.siteSecrets.filter((record) => record.scopes.includes(input.scope))) {
          expect(after.get(own.name)).toEqual(before.get(own.name));
        }
      }),
    );
  });

  it("resolution never returns a secret without the consumer's scope", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        for (const entry of resolveSecrets(input).values())
          expect(entry.secret.scopes).toContain(input.scope);
      }),
    );
  });

  it("every returned entry's valueEnv is either null or the requested env and is in that secret's overrideEnvs", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        for (const entry of resolveSecrets(input).values()) {
          const hasOverride = entry.secret.overrideEnvs.includes(input.env);
          expect(entry.valueEnv).toBe(hasOverride ? input.env : null);
          expect(entry.source).toBe(`${entry.owner}${hasOverride ? "-override" : ""}`);
        }
      }),
    );
  });

  it("a site secret with scope C always wins its name", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const result = resolveSecrets(input);
        for (const own of input.siteSecrets.filter((record) => record.scopes.includes(input.scope))) {
          const entry = result.get(own.name);
          expect(entry?.secret).toBe(own);
          expect(entry?.owner).toBe("site");
        }
      }),
    );
  });

  it("the result's names are exactly the union of scoped site and org names", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const scoped = [...input.siteSecrets, ...input.orgSecrets]
          .filter((record) => record.scopes.includes(input.scope))
          .map((record) => record.name);
        const expected = [...new Set(scoped)].sort();
        expect([...resolveSecrets(input).keys()]).toEqual(expected);
      }),
    );
  });

  it("an org secret wins exactly the names the site does not define with scope C", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const siteNames = new Set(
          input.siteSecrets
            .filter((record) => record.scopes.includes(input.scope))
            .map((record) => record.name),
        );
        for (const entry of resolveSecrets(input).values()) {
          expect(entry.owner).toBe(siteNames.has(entry.name) ? "site" : "org");
          if (entry.owner === "org") expect(input.orgSecrets).toContain(entry.secret);
        }
      }),
    );
  });
});
