import { describe, expect, it } from "vitest";
import { LockboxError } from "./errors.js";
import {
  COMPOSER_AUTH_TYPES,
  MAX_COMPOSER_AUTH_DEPTH,
  RESERVED_ENV_NAMES,
  secretTypeSchema,
  splitComposerSecretName,
  validateScopesForType,
  validateSecretInput,
  validateSecretName,
  validateSecretValue,
} from "./secrets.js";
import type { Scope } from "./types.js";

/** The LockboxError `fn` throws (fails the test when it throws nothing or something else). */
function thrown(fn: () => void): LockboxError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(LockboxError);
    return error as LockboxError;
  }
  throw new Error("expected a LockboxError");
}

describe("secretTypeSchema", () => {
  it("accepts the three types", () => {
    expect(secretTypeSchema.parse("runtime")).toBe("runtime");
    expect(secretTypeSchema.parse("env")).toBe("env");
    expect(secretTypeSchema.parse("composer")).toBe("composer");
  });

  it("refuses another type with the list of types", () => {
    expect(secretTypeSchema.safeParse("file").error?.issues[0]?.message).toBe(
      "Invalid secret type 'file': use runtime, env or composer.",
    );
    expect(secretTypeSchema.safeParse(1).error?.issues[0]?.message).toBe(
      "A secret type must be a string: use runtime, env or composer.",
    );
  });
});

describe("validateSecretName()", () => {
  it("refuses an env name starting with a digit in the seed product's words", () => {
    const error = thrown(() => validateSecretName("env", "1nvalid"));
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toBe(
      "Invalid key name '1nvalid': Environment variable names must start with a letter or underscore, and can only contain letters, numbers, and underscores.",
    );
  });

  it.each(["API_KEY", "_private", "a", "COMPOSER_AUTH", "path", "x1_2"])(
    "accepts the env name %s",
    (name) => {
      expect(() => validateSecretName("env", name)).not.toThrow();
    },
  );

  it.each(["API-KEY", "api.key", "ÄPI", "A B", ""])("refuses the env name %j", (name) => {
    expect(() => validateSecretName("env", name)).toThrow(LockboxError);
  });

  it.each(RESERVED_ENV_NAMES)(
    "refuses the reserved env name %s because it would hijack the build",
    (name) => {
      expect(thrown(() => validateSecretName("env", name)).message).toBe(
        `Invalid key name '${name}': this environment variable is reserved, because setting it would hijack the build. Choose another name.`,
      );
    },
  );

  it("allows reserved env names for runtime secrets, which never become variables", () => {
    expect(() => validateSecretName("runtime", "PATH")).not.toThrow();
  });

  it.each(["api.key", "my-token", "0day", "_x", "A.b-c_d"])("accepts the runtime name %s", (name) => {
    expect(() => validateSecretName("runtime", name)).not.toThrow();
  });

  it.each([".hidden", "-dash", "a b", "a/b", "a:b"])("refuses the runtime name %j", (name) => {
    expect(thrown(() => validateSecretName("runtime", name)).message).toBe(
      `Invalid key name '${name}': Runtime secret names must start with a letter, number, or underscore, and can only contain letters, numbers, underscores, periods, and hyphens.`,
    );
  });

  it("refuses an empty name", () => {
    expect(thrown(() => validateSecretName("runtime", "")).message).toBe("Secret names cannot be empty.");
  });

  it("counts the 255-byte limit in UTF-8 bytes", () => {
    expect(() => validateSecretName("runtime", "a".repeat(255))).not.toThrow();
    expect(thrown(() => validateSecretName("runtime", "a".repeat(256))).message).toBe(
      "Secret names can be at most 255 bytes; this name has 256 bytes.",
    );
    // 128 two-byte characters: 128 characters but 256 bytes.
    expect(thrown(() => validateSecretName("runtime", "é".repeat(128))).message).toBe(
      "Secret names can be at most 255 bytes; this name has 256 bytes.",
    );
  });

  it("is case-sensitive: names differing in case are distinct valid names", () => {
    expect(() => validateSecretName("env", "Token")).not.toThrow();
    expect(() => validateSecretName("env", "TOKEN")).not.toThrow();
  });

  describe("for composer secrets", () => {
    it.each(COMPOSER_AUTH_TYPES)("accepts the auth type %s", (authType) => {
      expect(() => validateSecretName("composer", `${authType}.example.com`)).not.toThrow();
    });

    it.each([
      "github-oauth.github.com",
      "gitlab-token.gitlab.example.com:8443",
      "http-basic.10.0.0.5",
      "http-basic.10.0.0.5:8080",
      "http-basic.[::1]",
      "bearer.[2001:db8::1]:443",
      "http-basic.localhost",
    ])("accepts %s", (name) => {
      expect(() => validateSecretName("composer", name)).not.toThrow();
    });

    it.each(["github.com", "ssh-key.github.com", "github-oauth", "GitHub-oauth.github.com"])(
      "refuses %s, which lacks a known auth type",
      (name) => {
        expect(thrown(() => validateSecretName("composer", name)).message).toBe(
          `Invalid key name '${name}': Composer secret names are <auth-type>.<host>[:<port>], where auth-type is one of github-oauth, gitlab-oauth, gitlab-token, bitbucket-oauth, http-basic, bearer (for example github-oauth.github.com).`,
        );
      },
    );

    it.each([
      "github-oauth.",
      "github-oauth.-github.com",
      "github-oauth.git_hub.com",
      "http-basic.1.2.3.999",
    ])("refuses %s, whose host is invalid", (name) => {
      expect(thrown(() => validateSecretName("composer", name)).message).toMatch(
        /is not a valid host name or IP address/,
      );
    });

    it.each(["0", "65536", "08080", "x"])("refuses the port %s", (port) => {
      expect(thrown(() => validateSecretName("composer", `http-basic.example.com:${port}`)).message).toBe(
        `Invalid key name 'http-basic.example.com:${port}': the port must be a number from 1 to 65535 without leading zeros.`,
      );
    });

    it("asks for brackets around an IPv6 address", () => {
      expect(thrown(() => validateSecretName("composer", "http-basic.::1")).message).toBe(
        "Invalid key name 'http-basic.::1': IPv6 addresses must be written in brackets, for example http-basic.[::1].",
      );
    });
  });
});

describe("splitComposerSecretName()", () => {
  it("splits at the first dot and keeps the port in the host key", () => {
    expect(splitComposerSecretName("http-basic.repo.example.com:8443")).toEqual({
      authType: "http-basic",
      host: "repo.example.com:8443",
    });
  });

  it("answers undefined without a known auth type", () => {
    expect(splitComposerSecretName("github.com")).toBeUndefined();
    expect(splitComposerSecretName("nope.github.com")).toBeUndefined();
  });
});

describe("validateSecretValue()", () => {
  it("accepts an empty value", () => {
    expect(() => validateSecretValue("runtime", "x", "")).not.toThrow();
  });

  it("accepts exactly 16384 bytes and refuses 16385 in the documented words", () => {
    expect(() => validateSecretValue("runtime", "x", "a".repeat(16384))).not.toThrow();
    const error = thrown(() => validateSecretValue("runtime", "x", "a".repeat(16385)));
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toBe("Secret values can be at most 16384 bytes; this value has 16385 bytes.");
  });

  it("counts UTF-8 bytes, not characters", () => {
    // 5462 three-byte characters: 16386 bytes in 5462 characters.
    expect(thrown(() => validateSecretValue("runtime", "x", "€".repeat(5462))).message).toBe(
      "Secret values can be at most 16384 bytes; this value has 16386 bytes.",
    );
    expect(() => validateSecretValue("runtime", "x", "😀".repeat(4096))).not.toThrow();
  });

  it("refuses a lone surrogate", () => {
    expect(thrown(() => validateSecretValue("runtime", "x", "abc\ud800")).message).toBe(
      "Secret values must be valid Unicode text; this value contains a lone surrogate.",
    );
  });

  it("refuses NUL in env values only", () => {
    expect(thrown(() => validateSecretValue("env", "API_KEY", "a\0b")).message).toBe(
      "Invalid value for 'API_KEY': environment variable values cannot contain the NUL character.",
    );
    expect(() => validateSecretValue("runtime", "api", "a\0b")).not.toThrow();
  });

  it("requires the env secret COMPOSER_AUTH to hold a JSON object", () => {
    expect(() =>
      validateSecretValue("env", "COMPOSER_AUTH", '{"github-oauth": {"github.com": "t"}}'),
    ).not.toThrow();
    expect(() => validateSecretValue("env", "COMPOSER_AUTH", "{}")).not.toThrow();
    for (const bad of ["[]", "null", '"text"', "3", "{nope", ""]) {
      expect(thrown(() => validateSecretValue("env", "COMPOSER_AUTH", bad)).message).toMatch(
        /^Invalid value for 'COMPOSER_AUTH': COMPOSER_AUTH must hold a JSON object/,
      );
    }
    expect(() => validateSecretValue("runtime", "COMPOSER_AUTH", "[]")).not.toThrow();
  });

  it("limits how deeply COMPOSER_AUTH nests, so no stored value can break a build's JSON answer", () => {
    const nested = (depth: number) => `{"a":${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`;
    expect(() => validateSecretValue("env", "COMPOSER_AUTH", nested(MAX_COMPOSER_AUTH_DEPTH))).not.toThrow();
    for (const depth of [MAX_COMPOSER_AUTH_DEPTH + 1, 8000]) {
      expect(thrown(() => validateSecretValue("env", "COMPOSER_AUTH", nested(depth))).message).toBe(
        "Invalid value for 'COMPOSER_AUTH': COMPOSER_AUTH can nest objects and arrays at most 32 levels deep (Composer's own auth.json uses 3).",
      );
    }
    // Brackets inside strings, escaped quotes included, are text, not nesting.
    const inStrings = JSON.stringify({
      "http-basic": { "a.com": { username: "[[[{{{", password: '\\"[[[[' } },
    });
    expect(() =>
      validateSecretValue("env", "COMPOSER_AUTH", inStrings.replace("[[[{{{", "[".repeat(100))),
    ).not.toThrow();
  });

  it("never puts the value in a message, even for invalid JSON", () => {
    const value = "{not-json-s3cr3t";
    expect(thrown(() => validateSecretValue("env", "COMPOSER_AUTH", value)).message).not.toContain("s3cr3t");
    expect(thrown(() => validateSecretValue("env", "X", `s3cr3t\0`)).message).not.toContain("s3cr3t");
    expect(thrown(() => validateSecretValue("composer", "http-basic.a.com", "s3cr3t")).message).not.toContain(
      "s3cr3t",
    );
  });

  it("requires 'KEY SECRET' for bitbucket-oauth, split at the first space", () => {
    expect(() =>
      validateSecretValue("composer", "bitbucket-oauth.bitbucket.org", "key secret"),
    ).not.toThrow();
    expect(() =>
      validateSecretValue("composer", "bitbucket-oauth.bitbucket.org", "key sec ret"),
    ).not.toThrow();
    for (const bad of ["keysecret", " secret", "key ", ""]) {
      expect(
        thrown(() => validateSecretValue("composer", "bitbucket-oauth.bitbucket.org", bad)).message,
      ).toBe(
        "Invalid value for 'bitbucket-oauth.bitbucket.org': bitbucket-oauth values are 'KEY SECRET': the consumer key, a space, and the consumer secret.",
      );
    }
  });

  it("requires 'USER:PASSWORD' for http-basic, split at the first colon, with a non-empty user", () => {
    expect(() => validateSecretValue("composer", "http-basic.a.com", "user:pa:ss")).not.toThrow();
    expect(() => validateSecretValue("composer", "http-basic.a.com", "user:")).not.toThrow();
    for (const bad of ["user", ":password", ""]) {
      expect(thrown(() => validateSecretValue("composer", "http-basic.a.com", bad)).message).toBe(
        "Invalid value for 'http-basic.a.com': http-basic values are 'USER:PASSWORD': a user name, a colon, and the password.",
      );
    }
  });

  it("takes any token for the token auth types", () => {
    expect(() => validateSecretValue("composer", "github-oauth.github.com", "ghp_x:y z")).not.toThrow();
  });
});

describe("validateScopesForType()", () => {
  it("refuses a composer secret without ic in the documented words", () => {
    const error = thrown(() => validateScopesForType("composer", ["web", "user"]));
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toBe(
      "Composer secrets are only read by Integrated Composer builds: add the ic scope (for example --scope=ic,user).",
    );
  });

  it("accepts a composer secret with ic, and any non-empty scopes for other types", () => {
    expect(() => validateScopesForType("composer", ["ic"])).not.toThrow();
    expect(() => validateScopesForType("runtime", ["user"])).not.toThrow();
    expect(() => validateScopesForType("env", ["ic"])).not.toThrow();
  });

  it("refuses empty or unknown scopes", () => {
    expect(() => validateScopesForType("runtime", [])).toThrow(/at least one scope/);
    expect(() => validateScopesForType("runtime", ["root" as Scope])).toThrow("Invalid scope 'root'");
  });
});

describe("validateSecretInput()", () => {
  it("accepts a valid secret", () => {
    expect(() =>
      validateSecretInput({
        name: "http-basic.a.com",
        type: "composer",
        scopes: ["ic", "user"],
        value: "u:p",
      }),
    ).not.toThrow();
  });

  it("checks the name first, then scopes, then the value", () => {
    expect(
      thrown(() => validateSecretInput({ name: "1x", type: "env", scopes: [], value: "\0" })).message,
    ).toMatch(/^Invalid key name '1x'/);
    expect(
      thrown(() =>
        validateSecretInput({ name: "http-basic.a.com", type: "composer", scopes: ["web"], value: "" }),
      ).message,
    ).toMatch(/^Composer secrets are only read/);
    expect(
      thrown(() =>
        validateSecretInput({ name: "http-basic.a.com", type: "composer", scopes: ["ic"], value: "" }),
      ).message,
    ).toMatch(/^Invalid value for 'http-basic.a.com'/);
  });
});
