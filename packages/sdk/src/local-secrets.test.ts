import { describe, expect, it } from "vitest";
import {
  type ParsedLocalSecret,
  parseLocalSecrets,
  resolveLocalSecret,
  resolveLocalSecrets,
} from "./local-secrets.js";

function secret(
  value: string | null,
  envValues: Record<string, string | null> = {},
  orgValues: Record<string, string | null> = {},
): ParsedLocalSecret {
  return {
    value,
    envValues: new Map(Object.entries(envValues)),
    orgValues: new Map(Object.entries(orgValues)),
  };
}

function parse(json: unknown) {
  const result = parseLocalSecrets(JSON.stringify(json));
  if (!result.ok) throw new Error(result.problem);
  return result.file;
}

function problemOf(text: string): string {
  const result = parseLocalSecrets(text);
  if (result.ok) throw new Error("expected a problem");
  return result.problem;
}

describe("resolveLocalSecret", () => {
  const full = secret("site", { live: "site-live" }, { default: "org", live: "org-live" });

  it("takes the site override for the environment first", () => {
    expect(resolveLocalSecret(full, "live")).toBe("site-live");
  });

  it("takes the site base value when the environment has no site override", () => {
    expect(resolveLocalSecret(full, "dev")).toBe("site");
  });

  it("lets the site base value hide an org override", () => {
    expect(resolveLocalSecret(secret("site", {}, { default: "org", live: "org-live" }), "live")).toBe("site");
  });

  it("treats a null site override as absent and falls back to the site base value", () => {
    expect(resolveLocalSecret(secret("site", { live: null }, { live: "org-live" }), "live")).toBe("site");
  });

  it("takes the org override when the site value is null (redacted)", () => {
    expect(resolveLocalSecret(secret(null, {}, { default: "org", live: "org-live" }), "live")).toBe(
      "org-live",
    );
  });

  it("takes the org default when the org override is null or missing", () => {
    expect(resolveLocalSecret(secret(null, { live: null }, { default: "org", live: null }), "live")).toBe(
      "org",
    );
    expect(resolveLocalSecret(secret(null, {}, { default: "org" }), "test")).toBe("org");
  });

  it("answers undefined when every step is null or missing", () => {
    expect(
      resolveLocalSecret(secret(null, { live: null }, { default: null, live: null }), "live"),
    ).toBeUndefined();
    expect(resolveLocalSecret(secret(null), "live")).toBeUndefined();
  });

  it("keeps an empty string: it is a value, not an absence", () => {
    expect(resolveLocalSecret(secret("", {}, { default: "org" }), "live")).toBe("");
  });

  it("skips both environment steps without an environment", () => {
    expect(resolveLocalSecret(full, undefined)).toBe("site");
    expect(
      resolveLocalSecret(secret(null, { live: "site-live" }, { live: "org-live" }), undefined),
    ).toBeUndefined();
    expect(
      resolveLocalSecret(secret(null, { live: "site-live" }, { default: "org", live: "x" }), undefined),
    ).toBe("org");
  });
});

describe("resolveLocalSecret as the runtime endpoint (SPEC §3)", () => {
  it("answers an inherited org secret's live override for live, and its base elsewhere", () => {
    // The row local-generate writes for an org secret SHARED_KEY = org-value, live: org-live.
    const file = parse({
      EntityType: "sites",
      EntityId: "5b3c2d1e-0000-4000-8000-000000000000",
      Secrets: {
        SHARED_KEY: {
          Type: "runtime",
          Value: "org-value",
          Scopes: ["web", "user"],
          EnvValues: {},
          OrgValues: { default: "org-value", live: "org-live" },
          Owner: "org",
        },
      },
    });
    expect(resolveLocalSecrets(file, "live").get("SHARED_KEY")).toBe("org-live");
    expect(resolveLocalSecrets(file, "dev").get("SHARED_KEY")).toBe("org-value");
    expect(resolveLocalSecrets(file, undefined).get("SHARED_KEY")).toBe("org-value");
  });

  it("lets an edited Value of an inherited row stand in for a redacted org base", () => {
    const row = { ...secret("edited", {}, { default: null, live: "org-live" }), owner: "org" as const };
    expect(resolveLocalSecret(row, "dev")).toBe("edited");
    expect(resolveLocalSecret(row, "live")).toBe("org-live");
  });

  it("skips a site secret without web scope, so the org's same-named secret shows through", () => {
    const row = {
      ...secret("site", { live: "site-live" }, { default: "org", live: "org-live" }),
      scopes: ["user"],
    };
    expect(resolveLocalSecret(row, "live")).toBe("org-live");
    expect(resolveLocalSecret(row, "dev")).toBe("org");
    expect(resolveLocalSecret({ ...row, orgScopes: ["ic", "user"] }, "live")).toBeUndefined();
  });

  it("skips the org's values when the org secret lacks web scope, even under a redacted site value", () => {
    const row = { ...secret(null, {}, { default: "org" }), scopes: ["web"], orgScopes: ["user"] };
    expect(resolveLocalSecret(row, "dev")).toBeUndefined();
  });

  it("leaves out an inherited row without web scope", () => {
    const row = { ...secret("org", {}, { default: "org" }), owner: "org" as const, scopes: ["ic", "user"] };
    expect(resolveLocalSecret(row, "dev")).toBeUndefined();
  });

  it("reads a row without Scopes, as in the seed product's fake file", () => {
    expect(resolveLocalSecret(secret("v"), "live")).toBe("v");
  });
});

describe("resolveLocalSecrets", () => {
  it("resolves every secret and leaves out the ones that resolve to nothing", () => {
    const file = parse({
      EntityType: "sites",
      EntityId: "5b3c2d1e-0000-4000-8000-000000000000",
      Secrets: {
        A: {
          Type: "runtime",
          Value: "a",
          Scopes: ["web", "user"],
          EnvValues: { dev: "a-dev" },
          OrgValues: {},
        },
        B: { Type: "runtime", Value: null, Scopes: ["web"], EnvValues: {}, OrgValues: { default: null } },
        C: { Type: "runtime", Value: null, Scopes: ["web"], EnvValues: {}, OrgValues: { default: "c-org" } },
      },
    });
    expect(Object.fromEntries(resolveLocalSecrets(file, "dev"))).toEqual({ A: "a-dev", C: "c-org" });
  });
});

describe("parseLocalSecrets", () => {
  it("accepts the seed product's fake file, which has only Value", () => {
    const file = parse({ Secrets: { TOKEN: { Type: "runtime", Value: "t", Scopes: ["web"] } } });
    expect(resolveLocalSecrets(file, "dev").get("TOKEN")).toBe("t");
  });

  it("keeps a secret named __proto__ as an ordinary name", () => {
    const file = parseLocalSecrets(
      '{"Secrets": {"__proto__": {"Value": "p"}, "constructor": {"Value": "c"}}}',
    );
    expect(file.ok && Object.fromEntries(resolveLocalSecrets(file.file, undefined))).toEqual(
      Object.fromEntries([
        ["__proto__", "p"],
        ["constructor", "c"],
      ]),
    );
  });

  it("accepts a byte order mark before the JSON", () => {
    expect(parseLocalSecrets('\uFEFF{"Secrets": {}}').ok).toBe(true);
  });

  it("refuses text that is not JSON without quoting it", () => {
    const problem = problemOf('{\n  "Secrets": {"A": {"Value": "hunter2" oops}}\n}');
    expect(problem).toMatch(/^it is not valid JSON/);
    expect(problem).not.toContain("hunter2");
    expect(problem).not.toContain("oops");
  });

  it("says where invalid JSON stops when the parser does", () => {
    // Node 20 reports a position for this kind of error.
    const problem = problemOf('{\n  "Secrets": {,}\n}');
    expect(problem).toMatch(/line 2, column \d+/);
  });

  it.each([
    ["[]", 'it must hold a JSON object with a "Secrets" object, not an array'],
    ['"x"', 'it must hold a JSON object with a "Secrets" object, not a string'],
    ["{}", 'its "Secrets" field must be an object of secrets keyed by name, not missing'],
    ['{"Secrets": []}', 'its "Secrets" field must be an object of secrets keyed by name, not an array'],
    ['{"Secrets": {"A": "v"}}', 'Secrets["A"] must be an object, not a string'],
    ['{"Secrets": {"A": {"Value": 12}}}', 'Secrets["A"].Value must be a string or null, not a number'],
    [
      '{"Secrets": {"A": {"Value": "v", "EnvValues": ["x"]}}}',
      'Secrets["A"].EnvValues must be an object of values keyed by environment, not an array',
    ],
    [
      '{"Secrets": {"A": {"Value": "v", "EnvValues": {"live": 3}}}}',
      'Secrets["A"].EnvValues["live"] must be a string or null, not a number',
    ],
    [
      '{"Secrets": {"A": {"Value": "v", "OrgValues": {"default": true}}}}',
      'Secrets["A"].OrgValues["default"] must be a string or null, not a boolean',
    ],
    ['{"Secrets": {"A": {"Value": "v", "Owner": "team"}}}', 'Secrets["A"].Owner must be "site" or "org"'],
    [
      '{"Secrets": {"A": {"Value": "v", "Scopes": "web"}}}',
      'Secrets["A"].Scopes must be an array of scope names such as ["web", "user"], not a string',
    ],
    [
      '{"Secrets": {"A": {"Value": "v", "OrgScopes": ["web", 1]}}}',
      'Secrets["A"].OrgScopes must hold scope names (strings), not a number',
    ],
  ])("refuses %s with a problem naming the field", (text, problem) => {
    expect(problemOf(text)).toBe(problem);
  });

  it("cuts a huge secret name short in a problem", () => {
    const problem = problemOf(JSON.stringify({ Secrets: { ["N".repeat(10_000)]: 1 } }));
    expect(problem.length).toBeLessThan(200);
  });
});
