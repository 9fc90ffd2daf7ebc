import { describe, expect, it } from "vitest";
import { buildVariables, composerCredentials } from "./build.js";

describe("build commands", () => {
  it("composerCredentials() lists every credential of COMPOSER_AUTH but user names, and basic-auth headers", () => {
    const auth = {
      "http-basic": { "repo.example.com": { username: "deploy", password: "pa55" } },
      bearer: { "api.example.com": "tok-123" },
      "bitbucket-oauth": { "bitbucket.org": { "consumer-key": "ck", "consumer-secret": "cs-999" } },
    };
    const credentials = composerCredentials(auth);
    expect(credentials).toEqual(
      expect.arrayContaining([
        "pa55",
        "tok-123",
        "ck",
        "cs-999",
        "deploy:pa55",
        Buffer.from("deploy:pa55").toString("base64"),
      ]),
    );
    expect(credentials).not.toContain("deploy");
  });

  it("buildVariables() adds COMPOSER_AUTH only when the build has Composer credentials", () => {
    const base = { site: "s", environment: "dev", version: "v", env: { A: "1" } };
    expect(buildVariables({ ...base, composerAuth: {} })).toEqual({ A: "1" });
    expect(buildVariables({ ...base, composerAuth: { bearer: { h: "t" } } })).toEqual({
      A: "1",
      COMPOSER_AUTH: '{"bearer":{"h":"t"}}',
    });
  });
});
