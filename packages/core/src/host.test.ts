import { describe, expect, it } from "vitest";
import { isDnsHostname, isIPv4Address, isIPv6Address, parseHostPort } from "./host.js";

describe("isDnsHostname()", () => {
  it.each(["github.com", "localhost", "a", "my-host.example.co.uk", "A1.B2", "x".repeat(63)])(
    "accepts %s",
    (host) => {
      expect(isDnsHostname(host)).toBe(true);
    },
  );

  it.each([
    "",
    "-github.com",
    "github-.com",
    "git_hub.com",
    "github..com",
    ".github.com",
    "github.com.",
    "x".repeat(64),
    "héllo.com",
    "git hub.com",
  ])("refuses %j", (host) => {
    expect(isDnsHostname(host)).toBe(false);
  });

  it("refuses a name longer than 253 characters even with valid labels", () => {
    const label = "a".repeat(63);
    expect(isDnsHostname([label, label, label, "a".repeat(61)].join("."))).toBe(true);
    expect(isDnsHostname([label, label, label, "a".repeat(62)].join("."))).toBe(false);
  });
});

describe("isIPv4Address()", () => {
  it.each(["0.0.0.0", "127.0.0.1", "255.255.255.255", "10.1.20.199"])("accepts %s", (ip) => {
    expect(isIPv4Address(ip)).toBe(true);
  });

  it.each(["256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.-4", "1..2.3", "a.b.c.d", ""])(
    "refuses %j",
    (ip) => {
      expect(isIPv4Address(ip)).toBe(false);
    },
  );
});

describe("isIPv6Address()", () => {
  it.each([
    "::1",
    "::",
    "2001:db8::1",
    "2001:0db8:0000:0000:0000:ff00:0042:8329",
    "fe80::",
    "::ffff:192.0.2.128",
    "1:2:3:4:5:6:7::",
    "1:2:3:4:5:6:1.2.3.4",
    "ABCD:ef01::",
  ])("accepts %s", (ip) => {
    expect(isIPv6Address(ip)).toBe(true);
  });

  it.each([
    "",
    ":",
    ":::",
    "1::2::3",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "12345::",
    "g::1",
    "1.2.3.4::",
    "::1.2.3.256",
    ":1::",
    "1::2:",
    "fe80::1%eth0",
    "[::1]",
  ])("refuses %j", (ip) => {
    expect(isIPv6Address(ip)).toBe(false);
  });
});

describe("parseHostPort()", () => {
  it("reads a host name with and without a port", () => {
    expect(parseHostPort("github.com")).toEqual({ ok: true, host: "github.com", port: undefined });
    expect(parseHostPort("repo.example.com:8443")).toEqual({
      ok: true,
      host: "repo.example.com",
      port: 8443,
    });
  });

  it("reads IPv4 and bracketed IPv6 addresses, keeping the brackets in the host", () => {
    expect(parseHostPort("10.0.0.1:80")).toEqual({ ok: true, host: "10.0.0.1", port: 80 });
    expect(parseHostPort("[::1]")).toEqual({ ok: true, host: "[::1]", port: undefined });
    expect(parseHostPort("[2001:db8::1]:65535")).toEqual({ ok: true, host: "[2001:db8::1]", port: 65535 });
  });

  it.each(["0", "65536", "080", "", "8o", "-1"])("refuses the port %j", (port) => {
    expect(parseHostPort(`example.com:${port}`)).toEqual({ ok: false, problem: "port" });
  });

  it("says when an IPv6 address lacks its brackets", () => {
    expect(parseHostPort("::1")).toEqual({ ok: false, problem: "unbracketed-ipv6" });
    expect(parseHostPort("2001:db8::1")).toEqual({ ok: false, problem: "unbracketed-ipv6" });
  });

  it.each([
    "",
    "[::1",
    "[::1]x",
    "[1.2.3.4]",
    "-bad.com",
    "a:b:c",
    "1.2.3.999",
    "example.123",
    "example.0x1f",
  ])("refuses the host in %j", (text) => {
    expect(parseHostPort(text)).toEqual({ ok: false, problem: "host" });
  });
});
