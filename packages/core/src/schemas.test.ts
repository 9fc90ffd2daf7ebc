import { describe, expect, it } from "vitest";
import { secretNameSchema, secretValueSchema, setSecretRequestSchema } from "./schemas.js";

describe("setSecretRequestSchema", () => {
  it("accepts a minimal body", () => {
    expect(setSecretRequestSchema.parse({ name: "API", value: "" })).toEqual({ name: "API", value: "" });
  });

  it("parses scopes given as a comma-separated string or an array into canonical order", () => {
    expect(setSecretRequestSchema.parse({ name: "A", value: "v", scopes: "user, web" }).scopes).toEqual([
      "web",
      "user",
    ]);
    expect(setSecretRequestSchema.parse({ name: "A", value: "v", scopes: ["user", "ic"] }).scopes).toEqual([
      "ic",
      "user",
    ]);
  });

  it("accepts a type and an environment", () => {
    expect(
      setSecretRequestSchema.parse({ name: "A", value: "v", type: "env", scopes: ["ic"], env: "feature-1" }),
    ).toEqual({ name: "A", value: "v", type: "env", scopes: ["ic"], env: "feature-1" });
  });

  it("refuses unknown fields, so a typo cannot fall back to the defaults", () => {
    const result = setSecretRequestSchema.safeParse({ name: "A", value: "v", scope: "web" });
    expect(result.error?.issues[0]?.message).toBe(
      "Unknown field 'scope': a secret set takes name, value, type, scopes and env.",
    );
  });

  it("refuses an invalid type, scope or environment with the rule's message", () => {
    const messages = (body: unknown) =>
      setSecretRequestSchema.safeParse(body).error?.issues.map((i) => i.message);
    expect(messages({ name: "A", value: "v", type: "file" })).toEqual([
      "Invalid secret type 'file': use runtime, env or composer.",
    ]);
    expect(messages({ name: "A", value: "v", scopes: "root" })).toEqual([
      "Invalid scope 'root': use ic, web or user, separated by commas (for example --scope=web,user).",
    ]);
    expect(messages({ name: "A", value: "v", env: "settings" })).toEqual([
      "'settings' is a reserved name and cannot be used for an environment.",
    ]);
  });

  it("refuses a missing value", () => {
    expect(setSecretRequestSchema.safeParse({ name: "A" }).success).toBe(false);
  });
});

describe("secretNameSchema", () => {
  it("bounds names to 1-255 UTF-8 bytes", () => {
    expect(secretNameSchema.safeParse("").error?.issues[0]?.message).toBe("Secret names cannot be empty.");
    expect(secretNameSchema.safeParse("é".repeat(128)).error?.issues[0]?.message).toBe(
      "Secret names can be at most 255 bytes; this name has 256 bytes.",
    );
    expect(secretNameSchema.parse("a".repeat(255))).toHaveLength(255);
  });
});

describe("secretValueSchema", () => {
  it("refuses 16385 bytes in the documented words", () => {
    expect(secretValueSchema.safeParse("a".repeat(16385)).error?.issues[0]?.message).toBe(
      "Secret values can be at most 16384 bytes; this value has 16385 bytes.",
    );
    expect(secretValueSchema.parse("a".repeat(16384))).toHaveLength(16384);
  });

  it("refuses a lone surrogate", () => {
    expect(secretValueSchema.safeParse("x\udfff").error?.issues[0]?.message).toBe(
      "Secret values must be valid Unicode text; this value contains a lone surrogate.",
    );
  });

  it("never echoes the value in an issue", () => {
    const value = `s3cr3t${"a".repeat(16384)}`;
    const result = secretValueSchema.safeParse(value);
    expect(JSON.stringify(result.error?.issues)).not.toContain("s3cr3t");
    expect(result.error?.message).not.toContain("s3cr3t");
  });
});
