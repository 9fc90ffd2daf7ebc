import { describe, expect, it } from "vitest";
import { LockboxError } from "./errors.js";
import {
  emailSchema,
  environmentNameSchema,
  isBuildEnvironment,
  isStandardEnvironment,
  multidevNameSchema,
  orgNameSchema,
  parseSiteEnv,
  RESERVED_MULTIDEV_NAMES,
  STANDARD_ENVIRONMENTS,
  siteNameSchema,
  uuidSchema,
} from "./names.js";

function messageOf(result: {
  success: boolean;
  error?: { issues: { message: string }[] };
}): string | undefined {
  return result.error?.issues[0]?.message;
}

describe("siteNameSchema and orgNameSchema", () => {
  it.each(["a", "my-site", "0site", "site-", "a".repeat(63), "1234"])("accept %j", (name) => {
    expect(siteNameSchema.parse(name)).toBe(name);
    expect(orgNameSchema.parse(name)).toBe(name);
  });

  it("refuse an invalid site name with a message that names the rule and the fix", () => {
    expect(messageOf(siteNameSchema.safeParse("My Site"))).toBe(
      "Invalid site name 'My Site': use 1-63 lowercase letters, digits and hyphens, starting with a letter or digit.",
    );
    expect(messageOf(orgNameSchema.safeParse("My Org"))).toBe(
      "Invalid organization name 'My Org': use 1-63 lowercase letters, digits and hyphens, starting with a letter or digit.",
    );
  });

  it.each(["", "-site", "Site", "my_site", "my.site", "a".repeat(64), " site"])("refuse %j", (name) => {
    expect(siteNameSchema.safeParse(name).success).toBe(false);
    expect(orgNameSchema.safeParse(name).success).toBe(false);
  });

  it("refuse a name shaped like a UUID, because commands accept either", () => {
    const result = siteNameSchema.safeParse("123e4567-e89b-12d3-a456-426614174000");
    expect(messageOf(result)).toContain("cannot have the form of a UUID");
  });

  it("refuse a value that is not a string", () => {
    expect(messageOf(siteNameSchema.safeParse(42))).toBe("A site name must be a string.");
  });
});

describe("multidevNameSchema", () => {
  it.each(["a", "feature-1", "pr-12345678", "x".repeat(11)])("accepts %j", (name) => {
    expect(multidevNameSchema.parse(name)).toBe(name);
  });

  it("refuses a name longer than 11 characters", () => {
    expect(messageOf(multidevNameSchema.safeParse("x".repeat(12)))).toBe(
      `Invalid multidev name '${"x".repeat(12)}': use 1-11 lowercase letters, digits and hyphens, starting with a letter or digit.`,
    );
  });

  it.each(RESERVED_MULTIDEV_NAMES)("refuses the reserved name %s", (name) => {
    expect(messageOf(multidevNameSchema.safeParse(name))).toBe(
      `'${name}' is a reserved name and cannot be used for a multidev.`,
    );
  });

  it("says 'settings' is reserved in the documented words", () => {
    expect(messageOf(multidevNameSchema.safeParse("settings"))).toBe(
      "'settings' is a reserved name and cannot be used for a multidev.",
    );
  });
});

describe("environmentNameSchema", () => {
  it.each([...STANDARD_ENVIRONMENTS, "feature-1", "pr-1"])("accepts %s", (env) => {
    expect(environmentNameSchema.parse(env)).toBe(env);
  });

  it("refuses reserved names other than the standard environments", () => {
    expect(messageOf(environmentNameSchema.safeParse("default"))).toBe(
      "'default' is a reserved name and cannot be used for an environment.",
    );
  });

  it("refuses a malformed name with a message listing what is allowed", () => {
    expect(messageOf(environmentNameSchema.safeParse("Live"))).toBe(
      "Invalid environment name 'Live': use dev, test, live or a multidev name of 1-11 lowercase letters, digits and hyphens, starting with a letter or digit.",
    );
  });
});

describe("isStandardEnvironment() and isBuildEnvironment()", () => {
  it("know dev, test and live", () => {
    expect(isStandardEnvironment("dev")).toBe(true);
    expect(isStandardEnvironment("feature")).toBe(false);
  });

  it("let builds run in dev and multidevs only", () => {
    expect(isBuildEnvironment("dev")).toBe(true);
    expect(isBuildEnvironment("feature")).toBe(true);
    expect(isBuildEnvironment("test")).toBe(false);
    expect(isBuildEnvironment("live")).toBe(false);
  });
});

describe("emailSchema", () => {
  it("trims and lowercases an address", () => {
    expect(emailSchema.parse("  Alice@Example.COM ")).toBe("alice@example.com");
  });

  it("accepts the bootstrap admin's single-label domain", () => {
    expect(emailSchema.parse("admin@localhost")).toBe("admin@localhost");
  });

  it("accepts plus addressing and dots in the local part", () => {
    expect(emailSchema.parse("first.last+ci@example.org")).toBe("first.last+ci@example.org");
  });

  it.each([
    "",
    "alice",
    "@example.com",
    "alice@",
    "al ice@example.com",
    "alice@-x.com",
    "alice@exa_mple.com",
  ])("refuses %j", (email) => {
    expect(messageOf(emailSchema.safeParse(email))).toMatch(/^Invalid email address '.*': use the form/);
  });

  it("refuses an address longer than 254 characters", () => {
    const long = `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(62)}.com`;
    expect(long.length).toBe(259);
    expect(emailSchema.safeParse(long).success).toBe(false);
    expect(emailSchema.safeParse(`${"a".repeat(64)}@${"b".repeat(63)}.com`).success).toBe(true);
  });

  it("refuses a local part longer than 64 characters", () => {
    expect(emailSchema.safeParse(`${"a".repeat(65)}@example.com`).success).toBe(false);
  });
});

describe("uuidSchema", () => {
  it("accepts a UUID of any version and lowercases it", () => {
    expect(uuidSchema.parse("6F9619FF-8B86-D011-B42D-00CF4FC964FF")).toBe(
      "6f9619ff-8b86-d011-b42d-00cf4fc964ff",
    );
    expect(uuidSchema.parse("123e4567-e89b-12d3-a456-426614174000")).toBe(
      "123e4567-e89b-12d3-a456-426614174000",
    );
  });

  it.each(["", "123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g", "my-site"])(
    "refuses %j",
    (text) => {
      expect(messageOf(uuidSchema.safeParse(text))).toMatch(/^Invalid UUID /);
    },
  );
});

describe("parseSiteEnv()", () => {
  it("splits <site>.<env>", () => {
    expect(parseSiteEnv("my-site.live")).toEqual({ site: "my-site", env: "live" });
    expect(parseSiteEnv("my-site.feature-1")).toEqual({ site: "my-site", env: "feature-1" });
  });

  it("leaves env undefined for a bare site", () => {
    expect(parseSiteEnv("my-site")).toEqual({ site: "my-site", env: undefined });
  });

  it("accepts a site UUID and lowercases it", () => {
    expect(parseSiteEnv("6F9619FF-8B86-D011-B42D-00CF4FC964FF.dev")).toEqual({
      site: "6f9619ff-8b86-d011-b42d-00cf4fc964ff",
      env: "dev",
    });
  });

  it("refuses an invalid site with the site name rule", () => {
    expect(() => parseSiteEnv("My Site.dev")).toThrow(
      new LockboxError(
        "VALIDATION_FAILED",
        "Invalid site name 'My Site': use 1-63 lowercase letters, digits and hyphens, starting with a letter or digit.",
      ),
    );
  });

  it("refuses an invalid environment with the environment name rule", () => {
    expect(() => parseSiteEnv("my-site.settings")).toThrow(
      "'settings' is a reserved name and cannot be used for an environment.",
    );
    expect(() => parseSiteEnv("my-site.dev.extra")).toThrow(/Invalid environment name 'dev.extra'/);
  });

  it("refuses a trailing dot with the expected form", () => {
    expect(() => parseSiteEnv("my-site.")).toThrow(
      "Missing environment in 'my-site.': use <site>.<env>, for example my-site.dev, or just <site>.",
    );
  });

  it("throws VALIDATION_FAILED LockboxErrors", () => {
    try {
      parseSiteEnv(".dev");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(LockboxError);
      expect((error as LockboxError).code).toBe("VALIDATION_FAILED");
    }
  });
});
