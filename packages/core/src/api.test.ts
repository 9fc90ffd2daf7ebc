import { describe, expect, it } from "vitest";
import {
  auditQuery,
  createSiteBody,
  createTokenBody,
  listOf,
  memberBody,
  pageQuery,
  setSecretBody,
  siteSecretParams,
  userResponse,
} from "./api.js";

describe("request schemas", () => {
  it("bound every identifier and refuse NUL in it", () => {
    expect(siteSecretParams.safeParse({ site: "shop", name: "A".repeat(1024) }).success).toBe(true);
    expect(siteSecretParams.safeParse({ site: "shop", name: "A".repeat(1025) }).success).toBe(false);
    expect(siteSecretParams.safeParse({ site: "s".repeat(513), name: "A" }).success).toBe(false);
    expect(siteSecretParams.safeParse({ site: "shop", name: "A\u0000" }).error?.issues[0]?.message).toBe(
      "must not contain the NUL character",
    );
  });

  it("refuse unknown fields, so a typo cannot fall back to a default", () => {
    const result = setSecretBody.safeParse({ value: "v", scope: "web" });
    expect(result.error?.issues[0]?.code).toBe("unrecognized_keys");
  });

  it("leave a secret's type and scopes to the domain, which answers with the rule's message", () => {
    expect(setSecretBody.parse({ value: "v", type: "file", scopes: "root" })).toEqual({
      value: "v",
      type: "file",
      scopes: "root",
    });
    expect(
      setSecretBody.safeParse({ value: "v", scopes: Array.from({ length: 17 }, () => "web") }).success,
    ).toBe(false);
  });

  it("coerce and bound a page's limit", () => {
    expect(pageQuery.parse({ limit: "50", after: "x" })).toEqual({ limit: 50, after: "x" });
    for (const limit of ["0", "1001", "2.5", "ten"])
      expect(pageQuery.safeParse({ limit }).success).toBe(false);
    expect(auditQuery.parse({ before: "7" })).toEqual({ before: 7 });
  });

  it("take roles and token kinds from core's lists", () => {
    expect(memberBody.safeParse({ role: "owner" }).success).toBe(false);
    expect(createTokenBody.parse({ kind: "build", site: "shop", env: "dev" }).kind).toBe("build");
    expect(createTokenBody.safeParse({ kind: "admin" }).success).toBe(false);
    expect(createSiteBody.safeParse({ name: "shop", supportingOrgs: Array(101).fill("o") }).success).toBe(
      false,
    );
  });
});

describe("listOf()", () => {
  it("describes a page of items and the cursor of the next one", () => {
    const page = { items: [{ id: "1", email: "a@example.com", admin: false, createdAt: "t" }], next: null };
    expect(listOf(userResponse).parse(page)).toEqual(page);
    expect(listOf(userResponse).safeParse({ items: [{ id: "1" }], next: null }).success).toBe(false);
  });
});
