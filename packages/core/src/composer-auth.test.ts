import { describe, expect, it } from "vitest";
import { buildComposerAuth } from "./composer-auth.js";

/** A plain-prototype deep copy, so assertions compare data rather than prototypes. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

describe("buildComposerAuth()", () => {
  it.each(["github-oauth", "gitlab-oauth", "gitlab-token", "bearer"])(
    "maps a %s secret to {type: {HOST: token}}",
    (type) => {
      const auth = buildComposerAuth(undefined, [{ name: `${type}.git.example.com`, value: "tok3n" }]);
      expect(plain(auth)).toEqual({ [type]: { "git.example.com": "tok3n" } });
    },
  );

  it("maps a bitbucket-oauth secret to consumer key and secret, split at the first space", () => {
    const auth = buildComposerAuth(undefined, [
      { name: "bitbucket-oauth.bitbucket.org", value: "key sec ret" },
    ]);
    expect(plain(auth)).toEqual({
      "bitbucket-oauth": { "bitbucket.org": { "consumer-key": "key", "consumer-secret": "sec ret" } },
    });
  });

  it("maps an http-basic secret to username and password, split at the first colon", () => {
    const auth = buildComposerAuth(undefined, [
      { name: "http-basic.repo.example.com", value: "me:pa:ss word" },
    ]);
    expect(plain(auth)).toEqual({
      "http-basic": { "repo.example.com": { username: "me", password: "pa:ss word" } },
    });
  });

  it("keeps the port in the host key, as Composer keys credentials by host and non-default port", () => {
    const auth = buildComposerAuth(undefined, [
      { name: "http-basic.repo.example.com:8443", value: "a:b" },
      { name: "bearer.[::1]:8080", value: "t" },
    ]);
    expect(plain(auth)).toEqual({
      "http-basic": { "repo.example.com:8443": { username: "a", password: "b" } },
      bearer: { "[::1]:8080": "t" },
    });
  });

  it("groups several hosts under one auth type", () => {
    const auth = buildComposerAuth(undefined, [
      { name: "github-oauth.github.com", value: "one" },
      { name: "github-oauth.ghe.example.com", value: "two" },
    ]);
    expect(plain(auth)).toEqual({ "github-oauth": { "github.com": "one", "ghe.example.com": "two" } });
  });

  it("starts from the COMPOSER_AUTH base and replaces only the entries secrets set", () => {
    const base = {
      "http-basic": {
        "a.com": { username: "old", password: "old" },
        "b.com": { username: "b", password: "b" },
      },
      "github-oauth": { "github.com": "base-token" },
      "gitlab-domains": ["gitlab.example.com"],
    };
    const auth = buildComposerAuth(base, [{ name: "http-basic.a.com", value: "new:secret" }]);
    expect(plain(auth)).toEqual({
      "http-basic": {
        "a.com": { username: "new", password: "secret" },
        "b.com": { username: "b", password: "b" },
      },
      "github-oauth": { "github.com": "base-token" },
      "gitlab-domains": ["gitlab.example.com"],
    });
  });

  it("does not modify the base it is given", () => {
    const base = { "http-basic": { "a.com": { username: "old", password: "old" } } };
    const before = plain(base);
    buildComposerAuth(base, [
      { name: "http-basic.a.com", value: "new:x" },
      { name: "bearer.b.com", value: "t" },
    ]);
    expect(base).toEqual(before);
  });

  it("replaces a base entry that is not an object when a secret of that type is set", () => {
    const auth = buildComposerAuth({ bearer: "not-an-object" }, [{ name: "bearer.b.com", value: "t" }]);
    expect(plain(auth)).toEqual({ bearer: { "b.com": "t" } });
  });

  it.each([null, [], "text", 3])("ignores a base that is not a JSON object (%j)", (base) => {
    const auth = buildComposerAuth(base, [{ name: "bearer.b.com", value: "t" }]);
    expect(plain(auth)).toEqual({ bearer: { "b.com": "t" } });
  });

  it("returns an empty object with no base and no secrets", () => {
    expect(plain(buildComposerAuth(undefined, []))).toEqual({});
  });

  it("skips a secret whose name has no known auth type", () => {
    const auth = buildComposerAuth(undefined, [{ name: "ssh.github.com", value: "x" }]);
    expect(plain(auth)).toEqual({});
  });

  it("lets the later of two same-named secrets win", () => {
    const auth = buildComposerAuth(undefined, [
      { name: "bearer.b.com", value: "first" },
      { name: "bearer.b.com", value: "second" },
    ]);
    expect(plain(auth)).toEqual({ bearer: { "b.com": "second" } });
  });

  it("keeps __proto__ keys from an untrusted base as data, never as a prototype", () => {
    const base: unknown = JSON.parse(
      '{"__proto__": {"polluted": true}, "http-basic": {"__proto__": {"polluted": true}}}',
    );
    const auth = buildComposerAuth(base, [{ name: "http-basic.a.com", value: "u:p" }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(auth)).toBeNull();
    expect((auth as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.keys(auth)).toEqual(["__proto__", "http-basic"]);
    const hosts = auth["http-basic"] as Record<string, unknown>;
    expect(Object.getPrototypeOf(hosts)).toBeNull();
    expect(Object.keys(hosts)).toEqual(["__proto__", "a.com"]);
    expect(JSON.parse(JSON.stringify(auth))).toEqual(
      JSON.parse(
        '{"__proto__": {"polluted": true}, "http-basic": {"__proto__": {"polluted": true}, "a.com": {"username": "u", "password": "p"}}}',
      ),
    );
  });

  it("serializes to the JSON Composer reads", () => {
    const auth = buildComposerAuth({ "github-oauth": { "github.com": "a" } }, [
      { name: "http-basic.repo.example.com", value: "u:p" },
    ]);
    expect(JSON.stringify(auth)).toBe(
      '{"github-oauth":{"github.com":"a"},"http-basic":{"repo.example.com":{"username":"u","password":"p"}}}',
    );
  });
});
