import { describe, expect, it } from "vitest";
import {
  buildEnvironmentError,
  buildOverrideWarning,
  decideOverride,
  decideSet,
  describeOwner,
  environmentNotFoundMessage,
  notFoundError,
  notFoundMessage,
  noWebScopeNote,
  OVERRIDE_DELETED_MESSAGE,
  overrideBaseNotFoundMessage,
  SECRET_DELETED_MESSAGE,
  SECRET_SET_MESSAGE,
  secretNotFoundMessage,
} from "./rules.js";

const site = { kind: "site", name: "my-site" } as const;
const org = { kind: "org", name: "my-org" } as const;

describe("decideSet()", () => {
  it("creates a new secret with the defaults runtime and user", () => {
    expect(decideSet(undefined, { name: "API" })).toEqual({
      action: "create",
      type: "runtime",
      scopes: ["user"],
    });
  });

  it("creates a new secret with the given type and scopes in canonical order", () => {
    expect(decideSet(undefined, { name: "API", type: "env", scopes: ["user", "ic"] })).toEqual({
      action: "create",
      type: "env",
      scopes: ["ic", "user"],
    });
  });

  it("treats explicitly undefined type and scopes as not given", () => {
    expect(decideSet(undefined, { name: "API", type: undefined, scopes: undefined })).toEqual({
      action: "create",
      type: "runtime",
      scopes: ["user"],
    });
  });

  it("refuses to create a composer secret without ic", () => {
    const decision = decideSet(undefined, { name: "github-oauth.github.com", type: "composer" });
    expect(decision.action).toBe("reject");
    if (decision.action !== "reject") return;
    expect(decision.error.code).toBe("VALIDATION_FAILED");
    expect(decision.error.message).toBe(
      "Composer secrets are only read by Integrated Composer builds: add the ic scope (for example --scope=ic,user).",
    );
  });

  it("updates an existing secret when neither type nor scopes are given", () => {
    expect(decideSet({ type: "env", scopes: ["ic", "web"] }, { name: "API" })).toEqual({
      action: "update",
      type: "env",
      scopes: ["ic", "web"],
    });
  });

  it("updates when the same type and scopes are given, whatever their order", () => {
    expect(
      decideSet(
        { type: "runtime", scopes: ["web", "user"] },
        { name: "API", type: "runtime", scopes: ["user", "web"] },
      ),
    ).toEqual({ action: "update", type: "runtime", scopes: ["web", "user"] });
  });

  it("refuses a different type with CONFLICT in the documented words", () => {
    const decision = decideSet({ type: "runtime", scopes: ["web", "user"] }, { name: "API", type: "env" });
    expect(decision.action).toBe("reject");
    if (decision.action !== "reject") return;
    expect(decision.error.code).toBe("CONFLICT");
    expect(decision.error.message).toBe(
      "Secret 'API' already exists with type 'runtime' and scopes 'web, user'. Type and scopes cannot be changed: delete the secret and create it again.",
    );
  });

  it("refuses different scopes with CONFLICT, showing the existing scopes in canonical order", () => {
    const decision = decideSet(
      { type: "runtime", scopes: ["user", "web"] },
      { name: "API", scopes: ["web"] },
    );
    expect(decision).toMatchObject({ action: "reject", error: { code: "CONFLICT" } });
    if (decision.action !== "reject") return;
    expect(decision.error.message).toContain("with type 'runtime' and scopes 'web, user'.");
  });

  it("refuses an empty scope list instead of reading it as 'not given'", () => {
    expect(decideSet(undefined, { name: "API", scopes: [] })).toMatchObject({
      action: "reject",
      error: { code: "VALIDATION_FAILED" },
    });
  });
});

describe("decideOverride()", () => {
  it("refuses an override without a base secret at the same site", () => {
    const decision = decideOverride(undefined, { name: "API" }, site);
    expect(decision.action).toBe("reject");
    if (decision.action !== "reject") return;
    expect(decision.error.code).toBe("SECRET_NOT_FOUND");
    expect(decision.error.message).toBe(
      "Secret 'API' does not exist on site 'my-site'. You should create the default secret value first.",
    );
  });

  it("names the organization when an org override has no base", () => {
    const decision = decideOverride(undefined, { name: "API" }, org);
    if (decision.action !== "reject") throw new Error("expected a rejection");
    expect(decision.error.message).toBe(
      "Secret 'API' does not exist on organization 'my-org'. You should create the default secret value first.",
    );
  });

  it("overrides with the base's type and scopes when none are given", () => {
    expect(decideOverride({ type: "env", scopes: ["ic"] }, { name: "API" }, site)).toEqual({
      action: "override",
      type: "env",
      scopes: ["ic"],
    });
  });

  it("accepts the same type and scopes with an override", () => {
    expect(
      decideOverride(
        { type: "env", scopes: ["ic", "web"] },
        { name: "API", type: "env", scopes: ["web", "ic"] },
        site,
      ),
    ).toMatchObject({ action: "override" });
  });

  it("refuses a different type or scopes with an override like a base set", () => {
    const decision = decideOverride({ type: "env", scopes: ["ic"] }, { name: "API", scopes: ["web"] }, org);
    expect(decision).toMatchObject({ action: "reject", error: { code: "CONFLICT" } });
    if (decision.action !== "reject") return;
    expect(decision.error.message).toBe(
      "Secret 'API' already exists with type 'env' and scopes 'ic'. Type and scopes cannot be changed: delete the secret and create it again.",
    );
  });
});

describe("messages", () => {
  it("name the owner of a missing secret", () => {
    expect(describeOwner(site)).toBe("site 'my-site'");
    expect(secretNotFoundMessage("API", site)).toBe("Secret 'API' does not exist on site 'my-site'.");
    expect(secretNotFoundMessage("API", org)).toBe("Secret 'API' does not exist on organization 'my-org'.");
    expect(overrideBaseNotFoundMessage("API", site)).toBe(
      "Secret 'API' does not exist on site 'my-site'. You should create the default secret value first.",
    );
  });

  it("name a missing site environment", () => {
    expect(environmentNotFoundMessage("feature", "my-site")).toBe(
      "Environment 'feature' does not exist on site 'my-site'.",
    );
  });

  it("read the same for a missing and a hidden entity", () => {
    expect(notFoundMessage("site", "x")).toBe("Site 'x' was not found, or you do not have access to it.");
    expect(notFoundMessage("org", "x")).toBe(
      "Organization 'x' was not found, or you do not have access to it.",
    );
    expect(notFoundMessage("user", "a@b.c")).toBe(
      "User 'a@b.c' was not found, or you do not have access to it.",
    );
    expect(notFoundMessage("token", "t1")).toBe("Token 't1' was not found, or you do not have access to it.");
  });

  it("turn a miss into an error with the refined code", () => {
    const error = notFoundError("org", "acme");
    expect(error.code).toBe("ORG_NOT_FOUND");
    expect(error.message).toBe(notFoundMessage("org", "acme"));
    expect(notFoundError("site", "s").code).toBe("SITE_NOT_FOUND");
    expect(notFoundError("user", "u").code).toBe("USER_NOT_FOUND");
    expect(notFoundError("token", "t").code).toBe("TOKEN_NOT_FOUND");
  });

  it("note a secret that applications will not see", () => {
    expect(noWebScopeNote("API")).toBe("Applications will not see 'API': it has no web scope.");
    expect(noWebScopeNote("API", { type: "env", scopes: ["ic"] })).toBe(
      "Applications will not see 'API': it has no web scope.",
    );
    expect(noWebScopeNote("API", { type: "runtime", scopes: ["user"] })).toBe(
      "Applications will not see 'API': it has no web scope.",
    );
    expect(noWebScopeNote("API", { type: "runtime", scopes: ["ic"] })).toBe(
      "Applications will not see 'API': it has no web scope. Builds will not either: they read only secrets of type env or composer.",
    );
  });

  it("warn about overrides of build secrets (composer, env) only in test and live, whatever their scopes", () => {
    const composer = { type: "composer", name: "github-oauth.github.com", scopes: ["ic"] } as const;
    expect(buildOverrideWarning(composer, "live")).toBe(
      "Integrated Composer builds never run in 'live', so builds will not use this override of 'github-oauth.github.com'.",
    );
    expect(buildOverrideWarning(composer, "test")).toBeDefined();
    expect(buildOverrideWarning(composer, "dev")).toBeUndefined();
    expect(buildOverrideWarning(composer, "feature")).toBeUndefined();
    expect(buildOverrideWarning({ type: "env", name: "NPM_TOKEN", scopes: ["ic"] }, "test")).toBe(
      "Integrated Composer builds never run in 'test', so builds will not use this override of 'NPM_TOKEN'.",
    );
    expect(buildOverrideWarning({ type: "env", name: "DB_URL", scopes: ["ic", "web"] }, "live")).toBe(
      "Integrated Composer builds never run in 'live', so builds will not use this override of 'DB_URL'. Applications in 'live' do read it (web scope).",
    );
    expect(
      buildOverrideWarning({ type: "env", name: "DB_URL", scopes: ["ic", "web"] }, "dev"),
    ).toBeUndefined();
    expect(buildOverrideWarning({ type: "runtime", name: "API", scopes: ["web"] }, "live")).toBeUndefined();
    // The defaults (scope user) and a web-only env secret warn too: the type is what says "build".
    expect(buildOverrideWarning({ type: "env", name: "NPM_TOKEN", scopes: ["user"] }, "live")).toBe(
      "Integrated Composer builds never run in 'live', so builds will not use this override of 'NPM_TOKEN'.",
    );
    expect(
      buildOverrideWarning({ type: "composer", name: "bearer.example.com", scopes: ["user"] }, "test"),
    ).toBeDefined();
    expect(buildOverrideWarning({ type: "env", name: "APP_ONLY", scopes: ["web"] }, "live")).toBe(
      "Integrated Composer builds never run in 'live', so builds will not use this override of 'APP_ONLY'. Applications in 'live' do read it (web scope).",
    );
  });

  it("refuse build tokens outside dev and multidevs", () => {
    const error = buildEnvironmentError("live");
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toBe(
      "Integrated Composer builds run only in dev or a multidev environment, never in 'live'.",
    );
  });

  it("report success in the seed product's words", () => {
    expect(SECRET_SET_MESSAGE).toBe("Secret successfully set.");
    expect(SECRET_DELETED_MESSAGE).toBe("Secret successfully deleted.");
    expect(OVERRIDE_DELETED_MESSAGE).toBe("Secret environment override deleted if it existed.");
  });
});
