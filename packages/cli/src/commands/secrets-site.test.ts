import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  errorBody,
  FakeLockboxServer,
  pagedList,
  type RecordedRequest,
} from "../testing/fake-lockbox-server.js";
import { FakeTerminal, runCli, temporaryDirectory } from "../testing/test-io.js";

const TOKEN = `lbx_${"t".repeat(43)}`;

/** A realistic `GET /v1/sites/my-site/secrets` answer: own rows, a redacted row, an inherited row. */
const SITE_ROWS = [
  {
    name: "API_KEY",
    type: "runtime",
    scopes: ["web", "user"],
    value: "site-key",
    envValues: { live: "live-key", test: "test-key" },
    orgValues: { default: "org-key", live: "org-live-key" },
    owner: "site",
  },
  {
    name: "DB_PASSWORD",
    type: "env",
    scopes: ["ic", "web"],
    value: null,
    envValues: { live: null },
    orgValues: {},
    owner: "site",
  },
  {
    name: "SMTP_PASSWORD",
    type: "runtime",
    scopes: ["web", "user"],
    value: "org-smtp",
    envValues: {},
    orgValues: { default: "org-smtp", live: "org-smtp-live" },
    owner: "org",
  },
];

const ALL_FIELDS_JSON = {
  API_KEY: {
    name: "API_KEY",
    type: "runtime",
    value: "site-key",
    scopes: ["web", "user"],
    "env-values": { live: "live-key", test: "test-key" },
    "org-values": { default: "org-key", live: "org-live-key" },
    owner: "site",
  },
  DB_PASSWORD: {
    name: "DB_PASSWORD",
    type: "env",
    value: null,
    scopes: ["ic", "web"],
    "env-values": { live: null },
    "org-values": {},
    owner: "site",
  },
  SMTP_PASSWORD: {
    name: "SMTP_PASSWORD",
    type: "runtime",
    value: "org-smtp",
    scopes: ["web", "user"],
    "env-values": {},
    "org-values": { default: "org-smtp", live: "org-smtp-live" },
    owner: "org",
  },
};

const SET_OK = {
  message: "Secret successfully set.",
  created: true,
  secret: { name: "API_KEY", type: "runtime", scopes: ["web", "user"] },
  notes: [],
};

let server: FakeLockboxServer;
let env: Record<string, string>;

beforeEach(async () => {
  server = await FakeLockboxServer.start();
  env = { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: TOKEN };
  server.on("GET", "/v1/sites/my-site/secrets", { body: { items: SITE_ROWS } });
  server.on("PUT", "/v1/sites/:site/secrets/:name", { body: SET_OK });
  server.on("PUT", "/v1/sites/:site/secrets/:name/envs/:env", { body: { ...SET_OK, created: false } });
});

afterEach(async () => {
  await server.close();
});

/** A PEM-shaped private key of exactly `total` bytes: 64-character lines, a final newline. */
function pemOfBytes(total: number): string {
  const header = "-----BEGIN PRIVATE KEY-----\n";
  const footer = "-----END PRIVATE KEY-----\n";
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const bodyBytes = total - header.length - footer.length;
  let body = "";
  let index = 0;
  while (body.length < bodyBytes) {
    const lineLength = Math.min(64, bodyBytes - body.length - 1);
    for (let i = 0; i < lineLength; i++) body += alphabet[index++ % alphabet.length];
    body += "\n";
  }
  return header + body + footer;
}

/** The value the server received in the one PUT of the test. */
function sentValue(): string {
  const puts = server.requests.filter((request) => request.method === "PUT");
  expect(puts).toHaveLength(1);
  return ((puts[0] as RecordedRequest).body as { value: string }).value;
}

describe("secret:site:list", () => {
  it("shows name, type, value and scopes in a table by default, redacted values as [REDACTED]", async () => {
    const result = await runCli(["secret:site:list", "my-site"], { env });
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines[1]?.trim().split(/\s{2,}/)).toEqual(["name", "type", "value", "scopes"]);
    expect(result.stdout).toMatch(/API_KEY\s+runtime\s+site-key\s+web, user/);
    expect(result.stdout).toMatch(/DB_PASSWORD\s+env\s+\[REDACTED\]\s+ic, web/);
    expect(result.stdout).toMatch(/SMTP_PASSWORD\s+runtime\s+org-smtp\s+web, user/);
    expect(result.stdout).not.toContain("live-key");
    expect(result.stdout).not.toContain("owner");
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("shows every field with --fields='*': maps as k=v, inherited rows with owner org", async () => {
    const result = await runCli(["secret:site:list", "my-site", "--fields=*"], { env });
    expect(result.code).toBe(0);
    expect(
      result.stdout
        .split("\n")[1]
        ?.trim()
        .split(/\s{2,}/),
    ).toEqual(["name", "type", "value", "scopes", "env-values", "org-values", "owner"]);
    expect(result.stdout).toMatch(
      /API_KEY\s+runtime\s+site-key\s+web, user\s+live=live-key, test=test-key\s+default=org-key, live=org-live-key\s+site/,
    );
    expect(result.stdout).toMatch(/DB_PASSWORD\s+env\s+\[REDACTED\]\s+ic, web\s+live=\[REDACTED\]\s+site/);
    expect(result.stdout).toMatch(/SMTP_PASSWORD\s+.*default=org-smtp, live=org-smtp-live\s+org/);
  });

  it("chooses and orders table columns with --fields", async () => {
    const result = await runCli(["secret:site:list", "my-site", "--fields= owner,name,,owner"], { env });
    expect(result.code).toBe(0);
    expect(
      result.stdout
        .split("\n")[1]
        ?.trim()
        .split(/\s{2,}/),
    ).toEqual(["owner", "name"]);
    expect(result.stdout).toMatch(/org\s+SMTP_PASSWORD/);
  });

  it("prints JSON keyed by name with every field, scopes as arrays and redacted values null", async () => {
    const result = await runCli(["secret:site:list", "my-site", "--format=json"], { env });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(ALL_FIELDS_JSON);
  });

  it("limits JSON rows to --fields", async () => {
    const result = await runCli(["secret:site:list", "my-site", "--format=json", "--fields=name,value"], {
      env,
    });
    expect(JSON.parse(result.stdout)).toEqual({
      API_KEY: { name: "API_KEY", value: "site-key" },
      DB_PASSWORD: { name: "DB_PASSWORD", value: null },
      SMTP_PASSWORD: { name: "SMTP_PASSWORD", value: "org-smtp" },
    });
  });

  it("prints the same data as YAML", async () => {
    const result = await runCli(["secret:site:list", "my-site", "--format=yaml"], { env });
    expect(result.code).toBe(0);
    expect(parseYaml(result.stdout)).toEqual(ALL_FIELDS_JSON);
  });

  it("prints YAML that a YAML 1.1 reader reads back as strings: on, yes, 0o17, a date", async () => {
    const rows = ["on", "yes", "0o17", "2026-11-01"].map((value, index) => ({
      ...SITE_ROWS[0],
      name: ["off", "no", "017", "y"][index],
      value,
      envValues: { live: "Off" },
    }));
    server.on("GET", "/v1/sites/tricky/secrets", { body: { items: rows } });
    const result = await runCli(
      ["secret:site:list", "tricky", "--format=yaml", "--fields=name,value,env-values"],
      {
        env,
      },
    );
    expect(result.code).toBe(0);
    const expected = Object.fromEntries(
      rows.map((row) => [row.name, { name: row.name, value: row.value, "env-values": { live: "Off" } }]),
    );
    expect(parseYaml(result.stdout, { version: "1.1" })).toEqual(expected);
    expect(parseYaml(result.stdout)).toEqual(expected);
  });

  it("prints CSV with a header row of field names and quoted cells", async () => {
    const result = await runCli(["secret:site:list", "my-site", "--format=csv"], { env });
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n")).toEqual([
      "name,type,value,scopes,env-values,org-values,owner",
      'API_KEY,runtime,site-key,"web, user","live=live-key, test=test-key","default=org-key, live=org-live-key",site',
      'DB_PASSWORD,env,[REDACTED],"ic, web",live=[REDACTED],,site',
      'SMTP_PASSWORD,runtime,org-smtp,"web, user",,"default=org-smtp, live=org-smtp-live",org',
      "",
    ]);
  });

  it("says 'You have no Secrets.' on stderr for an empty table, and prints {} as JSON", async () => {
    server.on("GET", "/v1/sites/empty/secrets", { body: { items: [] } });
    const table = await runCli(["secret:site:list", "empty"], { env });
    expect(table).toEqual({ code: 0, stdout: "", stderr: "You have no Secrets.\n" });
    const json = await runCli(["secret:site:list", "empty", "--format=json"], { env });
    expect(JSON.parse(json.stdout)).toEqual({});
    const csv = await runCli(["secret:site:list", "empty", "--format=csv", "--fields=name,owner"], { env });
    expect(csv.stdout).toBe("name,owner\n");
  });

  it("prints a listing longer than one page whole, in every format", async () => {
    const rows = Array.from({ length: 7 }, (_, i) => ({ ...SITE_ROWS[0], name: `KEY_${i}`, value: `v${i}` }));
    server.on(
      "GET",
      "/v1/sites/big/secrets",
      pagedList(rows, (row) => row.name, 3),
    );
    const table = await runCli(["secret:site:list", "big"], { env });
    expect(table.code).toBe(0);
    for (const row of rows)
      expect(table.stdout).toMatch(new RegExp(`${row.name}\\s+runtime\\s+${row.value}\\s`));
    expect(server.requests.map((request) => request.query.after)).toEqual([undefined, "KEY_2", "KEY_5"]);
    const json = await runCli(["secret:site:list", "big", "--format=json", "--fields=name"], { env });
    expect(Object.keys(JSON.parse(json.stdout))).toEqual(rows.map((row) => row.name));
    const csv = await runCli(["secret:site:list", "big", "--format=csv", "--fields=name"], { env });
    expect(csv.stdout.trim().split("\n")).toEqual(["name", ...rows.map((row) => row.name)]);
  });

  it("keeps <site>.<env> on every page of an environment's overrides", async () => {
    const rows = ["A", "B", "C"].map((name) => ({ ...SITE_ROWS[0], name, envValues: {}, orgValues: {} }));
    server.on(
      "GET",
      "/v1/sites/big/secrets",
      pagedList(rows, (row) => row.name, 2),
    );
    const result = await runCli(["secret:list", "big.live", "--format=json", "--fields=name"], { env });
    expect(Object.keys(JSON.parse(result.stdout))).toEqual(["A", "B", "C"]);
    expect(server.requests.map((request) => request.query)).toEqual([
      { env: "live", limit: "1000" },
      { env: "live", after: "B", limit: "1000" },
    ]);
  });

  it("lists one environment's overrides with <site>.<env>", async () => {
    server.on("GET", "/v1/sites/my-site/secrets", (request) => ({
      body: { items: request.query.env === "live" ? [{ ...SITE_ROWS[0], value: "live-key" }] : SITE_ROWS },
    }));
    const result = await runCli(["secret:list", "my-site.live", "--format=json", "--fields=name,value"], {
      env,
    });
    expect(server.requests[0]?.query).toEqual({ env: "live", limit: "1000" });
    expect(JSON.parse(result.stdout)).toEqual({ API_KEY: { name: "API_KEY", value: "live-key" } });
  });

  it("keeps a secret named __proto__ as a plain key in JSON", async () => {
    server.on("GET", "/v1/sites/odd/secrets", { body: { items: [{ ...SITE_ROWS[0], name: "__proto__" }] } });
    const result = await runCli(["secrets", "odd", "--format=json", "--fields=name"], { env });
    expect(result.stdout).toContain('"__proto__": {');
  });

  it("refuses an unknown field with exit code 2 before calling the server", async () => {
    const result = await runCli(["secret:site:list", "my-site", "--fields=name,colour"], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "Unknown field 'colour': choose from name, type, value, scopes, env-values, org-values, owner",
    );
    expect(server.requests).toHaveLength(0);
  });

  it("prints the server's not-found message and exits 1", async () => {
    const message = "Site 'nope' was not found, or you do not have access to it.";
    server.on("GET", "/v1/sites/nope/secrets", { status: 404, body: errorBody("SITE_NOT_FOUND", message) });
    const result = await runCli(["secret:site:list", "nope"], { env });
    expect(result).toEqual({ code: 1, stdout: "", stderr: `Error: ${message}\n` });
  });
});

describe("secret:site:set", () => {
  it("sets a value given as an argument and prints the server's message", async () => {
    const result = await runCli(["secret:site:set", "my-site", "API_KEY", "s3cr3t"], { env });
    expect(result).toEqual({ code: 0, stdout: "", stderr: "Secret successfully set.\n" });
    expect(server.requests[0]?.rawPath).toBe("/v1/sites/my-site/secrets/API_KEY");
    expect(server.requests[0]?.body).toEqual({ value: "s3cr3t" });
  });

  it("refuses NAME=VALUE in one argument with exit 2, before reading a value or calling the server, without echoing the value", async () => {
    for (const args of [
      ["secret:site:set", "my-site", "NEWK=topsecret"],
      ["secret:site:set", "my-site.live", "NEWK=topsecret", "more"],
      ["secret:org:set", "my-org", "NEWK=topsecret"],
    ]) {
      const result = await runCli(args, { env, stdin: "from-stdin\n" });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        "'NEWK=…' is not a secret name: give the name and the value as two arguments (NEWK <value>), or the value on stdin.",
      );
      expect(result.stderr).not.toContain("topsecret");
    }
    expect(server.requests).toEqual([]);
  });

  it("refuses a name its --type does not allow with exit 2 before calling the server", async () => {
    const result = await runCli(["secret:site:set", "my-site", "1nvalid", "x", "--type=env"], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Invalid key name '1nvalid'");
    expect(server.requests).toEqual([]);
  });

  it("reads a 16 KiB PEM key from stdin byte for byte but for the one final newline a pipe adds", async () => {
    const pem = pemOfBytes(16384);
    expect(Buffer.byteLength(pem)).toBe(16384);
    const result = await runCli(["secret:site:set", "my-site", "TLS_KEY", "--scope=web"], {
      env,
      stdin: `${pem}\n`,
    });
    expect(result.code).toBe(0);
    expect(Buffer.from(sentValue(), "utf8").equals(Buffer.from(pem, "utf8"))).toBe(true);
  });

  it("reads stdin for '-', keeping CRLF, a byte-order mark, non-ASCII text and a missing final newline", async () => {
    const value = "\uFEFFpäss\r\nwörd ✓  ";
    const result = await runCli(["secret:set", "my-site", "API_KEY", "-"], {
      env,
      stdin: Buffer.from(value, "utf8"),
    });
    expect(result.code).toBe(0);
    expect(sentValue()).toBe(value);
  });

  it("drops exactly one final newline (LF or CRLF) from stdin, as $(…) does", async () => {
    const sent: string[] = [];
    for (const stdin of ["line\n", "line\r\n", "line\n\n", "line\r\n\r\n", "a\nb\n", "line\r", "line"]) {
      expect((await runCli(["secret-set", "my-site", "API_KEY"], { env, stdin })).code).toBe(0);
      sent.push(((server.requests.at(-1) as RecordedRequest).body as { value: string }).value);
    }
    expect(sent).toEqual(["line", "line", "line\n", "line\r\n", "a\nb", "line\r", "line"]);
  });

  it("says in --help that one final newline is dropped from stdin and --value-file is byte for byte", async () => {
    for (const command of ["secret:site:set", "secret:org:set"]) {
      const help = (await runCli([command, "--help"])).stdout.replace(/\s+/g, " ");
      expect(help).toContain("'-' or omitted reads stdin, dropping one final newline (\\n or \\r\\n)");
      expect(help).toContain("Empty stdin is refused");
      expect(help).toContain("byte for byte (a final newline is kept");
    }
  });

  it("refuses a missing value with exit 2 without calling the server: empty stdin, a lone newline, '-'", async () => {
    const cases: [string[], string][] = [
      [["secret:site:set", "my-site", "API_KEY"], ""],
      [["secret:site:set", "my-site", "API_KEY"], "\n"],
      [["secret:site:set", "my-site", "API_KEY"], "\r\n"],
      [["secret:site:set", "my-site", "API_KEY", "-"], ""],
      [["secret:site:set", "my-site.live", "API_KEY"], ""],
      [["secret:org:set", "acme", "API_KEY"], ""],
      [["secret:org:set", "acme", "API_KEY", "--env=live"], "\n"],
    ];
    for (const [argv, stdin] of cases) {
      const result = await runCli(argv, { env, stdin });
      const why = stdin === "" ? "stdin is empty" : "stdin held only a newline";
      expect(result).toEqual({
        code: 2,
        stdout: "",
        stderr: `Error: No value given for 'API_KEY' (${why}): nothing was changed. Give the value as an argument, on stdin or with --value-file; an empty value only as an explicit '' argument.\n`,
      });
    }
    expect(server.requests).toHaveLength(0);
  });

  it("refuses an empty --value-file and an empty prompt (exit 2), and sets an empty value given as ''", async () => {
    const dir = await temporaryDirectory();
    try {
      const path = join(dir.path, "empty.txt");
      await writeFile(path, "");
      const file = await runCli(["secret:site:set", "my-site", "K", `--value-file=${path}`], { env });
      expect(file.code).toBe(2);
      expect(file.stderr).toContain(`No value given for 'K' (the value file ${path} is empty)`);
    } finally {
      await dir.remove();
    }
    const terminal = new FakeTerminal();
    terminal.type("\r");
    const prompt = await runCli(["secret:site:set", "my-site", "K"], { env, stdin: terminal });
    expect(prompt.code).toBe(2);
    expect(prompt.stderr).toContain("No value given for 'K' (nothing was typed)");
    expect(server.requests).toHaveLength(0);

    const empty = await runCli(["secret:site:set", "my-site", "K", ""], { env });
    expect(empty.code).toBe(0);
    expect(sentValue()).toBe("");
  });

  it("refuses a value both as an argument ('-' for stdin included) and with --value-file (exit 2)", async () => {
    const dir = await temporaryDirectory();
    try {
      const path = join(dir.path, "value.txt");
      await writeFile(path, "from-file");
      const stdin = await runCli(["secret:site:set", "my-site", "K", "-", `--value-file=${path}`], {
        env,
        stdin: "from-stdin\n",
      });
      expect([stdin.code, stdin.stderr]).toEqual([
        2,
        "Error: Give the value either on stdin ('-') or with --value-file, not both.\n",
      ]);
      const argument = await runCli(["secret:site:set", "my-site", "K", "v", `--value-file=${path}`], {
        env,
      });
      expect([argument.code, argument.stderr]).toEqual([
        2,
        "Error: Give the value either as an argument or with --value-file, not both.\n",
      ]);
      expect(server.requests).toHaveLength(0);
    } finally {
      await dir.remove();
    }
  });

  it("reads --value-file byte for byte", async () => {
    const dir = await temporaryDirectory();
    try {
      const path = join(dir.path, "auth.json");
      const value = '{"github-oauth": {"github.com": "ghp_x"}}\n\n';
      await writeFile(path, value);
      const result = await runCli(
        ["secret:site:set", "my-site", "COMPOSER_AUTH", "--type=env", "--scope=ic", `--value-file=${path}`],
        { env },
      );
      expect(result.code).toBe(0);
      expect(server.requests[0]?.body).toEqual({ value, type: "env", scopes: ["ic"] });
    } finally {
      await dir.remove();
    }
  });

  it("refuses stdin that is not UTF-8, and a value longer than 16384 bytes, without calling the server", async () => {
    const binary = await runCli(["secret:site:set", "my-site", "K"], {
      env,
      stdin: Buffer.from([0xff, 0xfe, 0x00]),
    });
    expect(binary.code).toBe(1);
    expect(binary.stderr).toContain("is not valid UTF-8");
    const long = await runCli(["secret:site:set", "my-site", "K", "x".repeat(16385)], { env });
    expect(long.code).toBe(1);
    expect(long.stderr).toContain("Secret values can be at most 16384 bytes; this value has 16385 bytes.");
    expect(server.requests).toHaveLength(0);
  });

  it("takes a value starting with '-' after '--'", async () => {
    const result = await runCli(["secret:site:set", "my-site", "FLAG", "--type=env", "--", "-abc --def"], {
      env,
    });
    expect(result.code).toBe(0);
    expect(server.requests[0]?.body).toEqual({ value: "-abc --def", type: "env" });
  });

  it("refuses a value starting with '-' without '--' (exit 2), without echoing it", async () => {
    const result = await runCli(["secret:site:set", "my-site", "FLAG", "-s3cretvalue"], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown option (not shown, in case it is a value)");
    expect(result.stderr).toContain("goes after '--'");
    expect(result.stderr).not.toContain("s3cretvalue");
    expect(server.requests).toHaveLength(0);
  });

  it("sends --scope parsed (blanks and duplicates ignored) and --type", async () => {
    await runCli(["secret:site:set", "my-site", "K", "v", "--type=env", "--scope= user, web,,web"], { env });
    expect(server.requests[0]?.body).toEqual({ value: "v", type: "env", scopes: ["web", "user"] });
  });

  it("adds up a repeated --scope, so that no scope is silently dropped (scopes cannot change later)", async () => {
    // secret:org:set takes the same option (command-helpers.ts#scopeOption).
    const result = await runCli(["secret:site:set", "my-site", "K", "v", "--scope=web", "--scope=user"], {
      env,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(server.requests[0]?.body).toEqual({ value: "v", scopes: ["web", "user"] });
  });

  it("refuses an unknown scope or type with exit code 2", async () => {
    const scope = await runCli(["secret:site:set", "my-site", "K", "v", "--scope=web,admin"], { env });
    expect(scope.code).toBe(2);
    expect(scope.stderr).toContain("Invalid scope 'admin'");
    const type = await runCli(["secret:site:set", "my-site", "K", "v", "--type=file"], { env });
    expect(type.code).toBe(2);
    expect(server.requests).toHaveLength(0);
  });

  it("sets an override for <site>.<env> and URL-encodes the name", async () => {
    const result = await runCli(["secret:site:set", "my-site.feat-1", "http-basic.example.com:8443", "u:p"], {
      env,
    });
    expect(result.code).toBe(0);
    expect(server.requests[0]?.rawPath).toBe(
      "/v1/sites/my-site/secrets/http-basic.example.com%3A8443/envs/feat-1",
    );
  });

  it("refuses a malformed <site>.<env> with exit code 2", async () => {
    for (const target of ["My_Site", "my-site.", "my-site.settings"]) {
      const result = await runCli(["secret:site:set", target, "K", "v"], { env });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^Error: /);
    }
    expect(server.requests).toHaveLength(0);
  });

  it("prints each note once: no web scope", async () => {
    const note = "Applications will not see 'K': it has no web scope.";
    server.on("PUT", "/v1/sites/my-site/secrets/K", {
      body: { ...SET_OK, secret: { name: "K", type: "runtime", scopes: ["user"] }, notes: [note, note] },
    });
    const result = await runCli(["secret:site:set", "my-site", "K", "v"], { env });
    expect(result.stderr).toBe(`Secret successfully set.\n${note}\n`);
  });

  it("warns about a composer override for live, also when the server sends no notes", async () => {
    server.on("PUT", "/v1/sites/my-site/secrets/:name/envs/live", {
      body: {
        message: "Secret successfully set.",
        created: false,
        secret: { name: "github-oauth.github.com", type: "composer", scopes: ["ic", "user"] },
      },
    });
    const result = await runCli(["secret:site:set", "my-site.live", "github-oauth.github.com", "ghp_x"], {
      env,
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      "Secret successfully set.\nIntegrated Composer builds never run in 'live', so builds will not use this override of 'github-oauth.github.com'.\n",
    );
  });

  it("warns about an env override for test, also when the server sends no notes", async () => {
    server.on("PUT", "/v1/sites/my-site/secrets/:name/envs/test", {
      body: {
        message: "Secret successfully set.",
        created: false,
        secret: { name: "NPM_TOKEN", type: "env", scopes: ["ic"] },
      },
    });
    const result = await runCli(["secret:site:set", "my-site.test", "NPM_TOKEN", "npm_x"], { env });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      "Secret successfully set.\nIntegrated Composer builds never run in 'test', so builds will not use this override of 'NPM_TOKEN'.\n",
    );
  });

  it("prompts without echo on a terminal", async () => {
    const terminal = new FakeTerminal();
    terminal.type("typed-secret\r");
    const result = await runCli(["secret:site:set", "my-site", "API_KEY"], { env, stdin: terminal });
    expect(result.code).toBe(0);
    expect(sentValue()).toBe("typed-secret");
    expect(result.stderr).toContain("Value of API_KEY (input is hidden): ");
    expect(result.stderr).not.toContain("typed-secret");
    expect(terminal.rawModeChanges).toEqual([true, false]);
  });

  it("prints the server's 409 message and exits 1", async () => {
    const message =
      "Secret 'K' already exists with type 'runtime' and scopes 'web, user'. Type and scopes cannot be changed: delete the secret and create it again.";
    server.on("PUT", "/v1/sites/my-site/secrets/K", { status: 409, body: errorBody("CONFLICT", message) });
    const result = await runCli(["secret:site:set", "my-site", "K", "v", "--type=env"], { env });
    expect(result).toEqual({ code: 1, stdout: "", stderr: `Error: ${message}\n` });
  });
});

describe("secret:site:delete", () => {
  it("deletes a secret, or one override with <site>.<env>", async () => {
    server.on("DELETE", "/v1/sites/my-site/secrets/K", { body: { message: "Secret successfully deleted." } });
    server.on("DELETE", "/v1/sites/my-site/secrets/K/envs/live", {
      body: { message: "Secret environment override deleted if it existed." },
    });
    const secret = await runCli(["secret:site:delete", "my-site", "K"], { env });
    expect(secret).toEqual({ code: 0, stdout: "", stderr: "Secret successfully deleted.\n" });
    const override = await runCli(["secret-delete", "my-site.live", "K"], { env });
    expect(override.stderr).toBe("Secret environment override deleted if it existed.\n");
  });

  it("says where an inherited organization secret is deleted, and keeps a plain 404 plain", async () => {
    for (const name of ["SMTP_PASSWORD", "NOPE"]) {
      server.on("DELETE", `/v1/sites/my-site/secrets/${name}`, {
        status: 404,
        body: errorBody("NOT_FOUND", `Secret '${name}' does not exist on site 'my-site'.`),
      });
    }
    const inherited = await runCli(["secret:site:delete", "my-site", "SMTP_PASSWORD"], { env });
    expect(inherited.code).toBe(1);
    expect(inherited.stderr).toBe(
      "Error: Secret 'SMTP_PASSWORD' does not exist on site 'my-site'.\nIt is the site's organization's secret, which the site inherits: delete it with lockbox secret:org:delete <org> SMTP_PASSWORD, or give the site its own value with lockbox secret:site:set my-site SMTP_PASSWORD.\n",
    );
    const missing = await runCli(["secret:site:delete", "my-site", "NOPE"], { env });
    expect(missing).toEqual({
      code: 1,
      stdout: "",
      stderr: "Error: Secret 'NOPE' does not exist on site 'my-site'.\n",
    });
  });
});

describe("secret:site:resolve", () => {
  const RESOLVED = [
    { name: "API_KEY", type: "runtime", scopes: ["web", "user"], value: "live-key", source: "site-override" },
    { name: "SMTP_PASSWORD", type: "runtime", scopes: ["web"], value: null, source: "org" },
  ];

  beforeEach(() => {
    server.on("GET", "/v1/sites/my-site/resolve", { body: { items: RESOLVED } });
  });

  it("asks for the web scope by default and prints JSON keyed by name with the source", async () => {
    const result = await runCli(["secret:site:resolve", "my-site.live", "--format=json"], { env });
    expect(result.code).toBe(0);
    expect(server.requests[0]?.query).toEqual({ env: "live", scope: "web" });
    expect(JSON.parse(result.stdout)).toEqual({
      API_KEY: {
        name: "API_KEY",
        type: "runtime",
        value: "live-key",
        scopes: ["web", "user"],
        source: "site-override",
      },
      SMTP_PASSWORD: { name: "SMTP_PASSWORD", type: "runtime", value: null, scopes: ["web"], source: "org" },
    });
  });

  it("shows the source column in a table and passes --scope", async () => {
    const result = await runCli(["secret:site:resolve", "my-site.dev", "--scope=ic"], { env });
    expect(server.requests[0]?.query).toEqual({ env: "dev", scope: "ic" });
    expect(result.stdout).toMatch(/SMTP_PASSWORD\s+runtime\s+\[REDACTED\]\s+web\s+org/);
  });

  it("needs an environment (exit 2)", async () => {
    const result = await runCli(["secret:site:resolve", "my-site"], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Missing environment in 'my-site': use <site>.<env>");
  });
});
