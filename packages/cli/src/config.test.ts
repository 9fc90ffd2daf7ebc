import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configDirectory, resolveCredentials } from "./config.js";

describe("configDirectory", () => {
  it("prefers an explicit directory, then an absolute XDG_CONFIG_HOME, then ~/.config", () => {
    expect(configDirectory({ env: { XDG_CONFIG_HOME: "/x" }, configDir: "/explicit" })).toBe("/explicit");
    expect(configDirectory({ env: { XDG_CONFIG_HOME: "/x", HOME: "/home/a" } })).toBe(join("/x", "lockbox"));
    expect(configDirectory({ env: { XDG_CONFIG_HOME: "relative", HOME: "/home/a" } })).toBe(
      join("/home/a", ".config", "lockbox"),
    );
    expect(configDirectory({ env: { HOME: "/home/a" } })).toBe(join("/home/a", ".config", "lockbox"));
  });
});

describe("resolveCredentials", () => {
  const saved = { url: "http://saved:8200", token: "lbx_saved" };

  it("lets LOCKBOX_URL and LOCKBOX_TOKEN override the saved login, each on its own", () => {
    expect(resolveCredentials({}, saved)).toEqual({ ...saved, urlSource: "config", tokenSource: "config" });
    expect(resolveCredentials({ LOCKBOX_TOKEN: "lbx_env" }, saved)).toEqual({
      url: "http://saved:8200",
      token: "lbx_env",
      urlSource: "config",
      tokenSource: "LOCKBOX_TOKEN",
    });
    expect(
      resolveCredentials({ LOCKBOX_URL: "http://saved:8200/", LOCKBOX_TOKEN: " " }, saved),
    ).toMatchObject({
      url: "http://saved:8200/",
      token: "lbx_saved",
    });
    expect(resolveCredentials({ LOCKBOX_URL: "http://env", LOCKBOX_TOKEN: "lbx_env" }, saved)).toMatchObject({
      url: "http://env",
      token: "lbx_env",
    });
  });

  it("refuses a LOCKBOX_URL ending with the API's /v1", () => {
    expect(() =>
      resolveCredentials({ LOCKBOX_URL: "http://h:8200/v1", LOCKBOX_TOKEN: "lbx_env" }, saved),
    ).toThrow(
      "LOCKBOX_URL (http://h:8200/v1) ends with /v1: give the server's base URL, http://h:8200 (the CLI adds /v1).",
    );
  });

  it("never sends the saved token to a LOCKBOX_URL other than the saved server", () => {
    expect(() => resolveCredentials({ LOCKBOX_URL: "http://elsewhere:8200" }, saved)).toThrow(
      "LOCKBOX_URL (http://elsewhere:8200) is not the server of your login (http://saved:8200), and the saved token goes only to that server: set LOCKBOX_TOKEN for http://elsewhere:8200, run lockbox auth:login --url http://elsewhere:8200, or unset LOCKBOX_URL.",
    );
  });

  it("says to run lockbox auth:login when the server or token is missing", () => {
    expect(() => resolveCredentials({}, undefined)).toThrow(
      "No Lockbox server is configured: run lockbox auth:login (or set LOCKBOX_URL and LOCKBOX_TOKEN).",
    );
    expect(() => resolveCredentials({ LOCKBOX_URL: "http://env" }, undefined)).toThrow(
      "No Lockbox token is configured",
    );
  });
});
