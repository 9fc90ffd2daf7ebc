import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { environmentNameSchema, RESERVED_MULTIDEV_NAMES } from "@lockbox/core";
import { type RunningServer, startServer } from "@lockbox/server";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { type CountingProxy, startProxy, unusedPort } from "./php-test-helpers.js";

/**
 * The PHP drop-in, run by the real `php` binary against the real server (through a counting
 * pass-through proxy, so "no request was made" is observed rather than inferred).
 */

const DROP_IN = fileURLToPath(new URL("./pantheon_get_secret.php", import.meta.url));
const TTL_SECONDS = 300;
const CACHE_FILE = /^lockbox-[0-9a-f]{64}\.json$/;

const hasPhp = spawnSync("php", ["--version"], { stdio: "ignore" }).status === 0;
const inCi = process.env.CI === "true" || process.env.CI === "1";
if (!hasPhp && inCi) {
  test("php is installed (CI requires it to test the PHP drop-in)", () => {
    throw new Error("No `php` binary on PATH: CI must install php-cli to test clients/php.");
  });
} else if (!hasPhp) {
  console.warn(
    "\n*** SKIPPING clients/php tests: no `php` binary on PATH (apt-get install php-cli). With CI=true they fail instead. ***\n",
  );
}

interface PhpRun {
  readonly values: readonly (string | null)[] | undefined;
  readonly error: { readonly runtime: boolean; readonly message: string } | undefined;
  readonly stderr: string;
}

describe.skipIf(!hasPhp)("pantheon_get_secret() (PHP drop-in)", () => {
  let work: string;
  let runner: string;
  let server: RunningServer;
  let proxy: CountingProxy;
  let adminToken: string;
  let liveToken: string;
  let devToken: string;
  let cacheDir: string;

  async function api(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(server.url + path, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${await response.text()}`);
    return response.status === 204 ? undefined : response.json();
  }

  async function runtimeToken(env: string): Promise<{ token: string; id: string }> {
    return (await api("POST", "/v1/tokens", { kind: "runtime", site: "my-site", env })) as {
      token: string;
      id: string;
    };
  }

  /** Runs the drop-in in a fresh PHP process with exactly `env` (plus PATH) and asks for `names`. */
  function php(env: Record<string, string>, names: readonly string[]): Promise<PhpRun> {
    return new Promise((resolve, reject) => {
      execFile(
        "php",
        // Every notice, warning and deprecation shows on stderr, where tests expect only Lockbox's own.
        ["-d", "error_reporting=-1", "-d", "display_errors=stderr", runner, DROP_IN, JSON.stringify(names)],
        { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", TMPDIR: work, ...env }, timeout: 20_000 },
        (error, stdout, stderr) => {
          if (error) return reject(new Error(`php failed: ${error.message}\n${stdout}\n${stderr}`));
          const out = JSON.parse(stdout) as { values?: (string | null)[]; error?: PhpRun["error"] };
          resolve({ values: out.values, error: out.error, stderr });
        },
      );
    });
  }

  function remote(token = liveToken, extra: Record<string, string> = {}): Record<string, string> {
    return { LOCKBOX_URL: proxy.url, LOCKBOX_RUNTIME_TOKEN: token, LOCKBOX_CACHE_DIR: cacheDir, ...extra };
  }

  async function cacheFiles(dir = cacheDir): Promise<string[]> {
    return (await readdir(dir)).filter((file) => CACHE_FILE.test(file)).map((file) => join(dir, file));
  }

  async function onlyCacheFile(): Promise<string> {
    const files = await cacheFiles();
    expect(files).toHaveLength(1);
    return files[0] as string;
  }

  /** Ages the cache file past the TTL, as if it had been written `seconds` ago. */
  async function age(file: string, seconds = TTL_SECONDS + 1): Promise<void> {
    const then = Date.now() / 1000 - seconds;
    await utimes(file, then, then);
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "lockbox-php-"));
    runner = join(work, "runner.php");
    await writeFile(
      runner,
      `<?php
require $argv[1];
try {
    $values = [];
    foreach (json_decode($argv[2], true) as $name) {
        $values[] = pantheon_get_secret($name);
    }
    echo json_encode(['values' => $values]);
} catch (Throwable $e) {
    echo json_encode(['error' => ['runtime' => $e instanceof RuntimeException, 'message' => $e->getMessage()]]);
}
`,
    );
    server = await startServer({
      db: join(work, "lockbox.db"),
      host: "127.0.0.1",
      port: 0,
      env: { LOCKBOX_MASTER_KEY: randomBytes(32).toString("base64") },
      rateLimit: "0",
    });
    if (!server.bootstrap.created || server.bootstrap.token === null) throw new Error("no bootstrap token");
    adminToken = server.bootstrap.token;
    proxy = await startProxy(server.url);

    await api("POST", "/v1/orgs", { name: "my-org" });
    await api("PUT", "/v1/orgs/my-org/secrets/ORG_KEY", { value: "org-value", scopes: ["web"] });
    await api("POST", "/v1/sites", { name: "my-site", org: "my-org" });
    await api("PUT", "/v1/sites/my-site/secrets/SITE_KEY", { value: "site-base", scopes: ["web"] });
    await api("PUT", "/v1/sites/my-site/secrets/SITE_KEY/envs/live", { value: "site-live" });
    await api("PUT", "/v1/sites/my-site/secrets/NO_WEB", { value: "user-only", scopes: ["user"] });
    await api("PUT", "/v1/sites/my-site/secrets/ROTATING", { value: "first", scopes: ["web"] });
    liveToken = (await runtimeToken("live")).token;
    devToken = (await runtimeToken("dev")).token;
  });

  afterAll(async () => {
    await proxy?.close();
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  beforeEach(async () => {
    cacheDir = await mkdtemp(join(work, "cache-"));
    proxy.requests.length = 0;
    proxy.refused = 0;
    proxy.down = false;
  });

  test("returns the live override, the inherited org value, and null for a user-only or missing name", async () => {
    const run = await php(remote(), ["SITE_KEY", "ORG_KEY", "NO_WEB", "MISSING"]);
    expect(run.error).toBeUndefined();
    expect(run.values).toEqual(["site-live", "org-value", null, null]);
    expect(run.stderr).toBe("");
    expect(proxy.requests).toHaveLength(1);
  });

  test("writes one cache file atomically, mode 0600, whose name and content hold neither URL nor token", async () => {
    await php(remote(), ["SITE_KEY"]);
    const file = await onlyCacheFile();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const content = await readFile(file, "utf8");
    expect(content).not.toContain(liveToken);
    expect(content).not.toContain("user-only");
    expect(JSON.parse(content)).toMatchObject({
      set: { Secrets: { SITE_KEY: { Value: "site-live" }, ORG_KEY: { Value: "org-value" } } },
    });
    expect(file).not.toContain(liveToken.slice(4, 20));
    expect(await readdir(cacheDir)).toHaveLength(1); // no temporary file left behind
  });

  test("answers from the cache within the TTL without any request, even with the server down", async () => {
    await php(remote(), ["SITE_KEY"]);
    expect(proxy.requests).toHaveLength(1);
    const up = await php(remote(), ["SITE_KEY", "ORG_KEY"]);
    expect(up.values).toEqual(["site-live", "org-value"]);
    proxy.down = true;
    const down = await php(remote(), ["SITE_KEY", "MISSING"]);
    expect(down.values).toEqual(["site-live", null]);
    expect(down.stderr).toBe("");
    expect(proxy.requests).toHaveLength(1);
    expect(proxy.refused).toBe(0);
  });

  test("asks the server once per process for many names", async () => {
    const run = await php(remote(), ["SITE_KEY", "ORG_KEY", "NO_WEB", "SITE_KEY", "ROTATING"]);
    expect(run.values).toEqual(["site-live", "org-value", null, "site-live", "first"]);
    expect(proxy.requests).toHaveLength(1);
  });

  test("revalidates after the TTL with If-None-Match: a 304 keeps the set and restarts the TTL", async () => {
    await php(remote(), ["SITE_KEY"]);
    const file = await onlyCacheFile();
    const etag = JSON.parse(await readFile(file, "utf8")).etag as string;
    expect(etag).toMatch(/^".+"$/);
    await age(file);

    const run = await php(remote(), ["SITE_KEY", "ORG_KEY"]);
    expect(run.values).toEqual(["site-live", "org-value"]);
    expect(proxy.requests).toEqual([
      { ifNoneMatch: undefined, status: 200 },
      { ifNoneMatch: etag, status: 304 },
    ]);
    expect(Date.now() / 1000 - (await stat(file)).mtimeMs / 1000).toBeLessThan(60);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await php(remote(), ["SITE_KEY"]);
    expect(proxy.requests).toHaveLength(2);
  });

  test("picks up a changed value at the first revalidation after the TTL, not before", async () => {
    await php(remote(), ["ROTATING"]);
    await api("PUT", "/v1/sites/my-site/secrets/ROTATING", { value: "second" });
    try {
      expect((await php(remote(), ["ROTATING"])).values).toEqual(["first"]);
      await age(await onlyCacheFile());
      expect((await php(remote(), ["ROTATING"])).values).toEqual(["second"]);
      expect(proxy.requests.map((r) => r.status)).toEqual([200, 200]);
      expect(proxy.requests[1]?.ifNoneMatch).toMatch(/^".+"$/);
      expect(JSON.parse(await readFile(await onlyCacheFile(), "utf8")).set.Secrets.ROTATING.Value).toBe(
        "second",
      );
    } finally {
      await api("PUT", "/v1/sites/my-site/secrets/ROTATING", { value: "first" });
    }
  });

  test("serves a stale cache with one warning when the server is unreachable, then waits 30 s to retry", async () => {
    await php(remote(), ["SITE_KEY"]);
    const file = await onlyCacheFile();
    await age(file, 3600);
    proxy.down = true;

    const run = await php(remote(), ["SITE_KEY", "ORG_KEY", "SITE_KEY"]);
    expect(run.error).toBeUndefined();
    expect(run.values).toEqual(["site-live", "org-value", "site-live"]);
    const warnings = run.stderr.trim().split("\n");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`Lockbox: cannot refresh secrets from '${proxy.url}': `);
    expect(warnings[0]).toContain("serving the cached copy and trying again in 30 seconds");
    expect(run.stderr).not.toContain(liveToken);
    expect(run.stderr).not.toContain("site-live");
    expect(proxy.refused).toBe(1);

    const again = await php(remote(), ["SITE_KEY"]);
    expect(again.values).toEqual(["site-live"]);
    expect(proxy.refused).toBe(1);
  });

  test("throws a RuntimeException naming the URL when the server is unreachable and nothing is cached", async () => {
    const closed = await unusedPort();
    const run = await php(remote(liveToken, { LOCKBOX_URL: `http://127.0.0.1:${closed}/` }), ["SITE_KEY"]);
    expect(run.values).toBeUndefined();
    expect(run.error?.runtime).toBe(true);
    expect(run.error?.message).toContain(`Cannot fetch secrets from Lockbox at 'http://127.0.0.1:${closed}'`);
    expect(run.error?.message).toContain("no cached copy is available");
    expect(run.error?.message).not.toContain(liveToken);
    expect(await cacheFiles()).toEqual([]);
  });

  test("keeps a separate cache per token", async () => {
    expect((await php(remote(liveToken), ["SITE_KEY"])).values).toEqual(["site-live"]);
    expect((await php(remote(devToken), ["SITE_KEY"])).values).toEqual(["site-base"]);
    expect(await cacheFiles()).toHaveLength(2);
    expect((await php(remote(liveToken), ["SITE_KEY"])).values).toEqual(["site-live"]);
    expect(proxy.requests).toHaveLength(2);
  });

  test("refuses a revoked token with a RuntimeException despite a cached copy, and deletes the cache", async () => {
    const { token, id } = await runtimeToken("live");
    await php(remote(token), ["SITE_KEY"]);
    const file = await onlyCacheFile();
    await api("DELETE", `/v1/tokens/${id}`);
    await age(file);

    const run = await php(remote(token), ["SITE_KEY"]);
    expect(run.values).toBeUndefined();
    expect(run.error?.runtime).toBe(true);
    expect(run.error?.message).toContain(`Lockbox at '${proxy.url}' refused the runtime token: HTTP 401 (`);
    expect(run.error?.message).not.toContain(token);
    expect(await cacheFiles()).toEqual([]);
  });

  test("ignores a cache file that other users could read, with a warning", async () => {
    await php(remote(), ["SITE_KEY"]);
    await chmod(await onlyCacheFile(), 0o644);
    proxy.down = true;
    const run = await php(remote(), ["SITE_KEY"]);
    expect(run.error?.message).toContain("no cached copy is available");
    expect(run.stderr).toContain("Lockbox: ignoring the cache file");
  });

  test("still answers, fetching once per process with one warning, when the cache directory is unusable", async () => {
    const blocker = join(cacheDir, "a-file");
    await writeFile(blocker, "");
    const run = await php(remote(liveToken, { LOCKBOX_CACHE_DIR: join(blocker, "cache") }), [
      "SITE_KEY",
      "ORG_KEY",
    ]);
    expect(run.values).toEqual(["site-live", "org-value"]);
    expect(run.stderr.trim().split("\n")).toEqual([
      expect.stringContaining(`Lockbox: cannot create LOCKBOX_CACHE_DIR '${join(blocker, "cache")}'`),
    ]);
    expect(proxy.requests).toHaveLength(1);
  });

  test("caches in sys_get_temp_dir() when LOCKBOX_CACHE_DIR is unset", async () => {
    const temp = await mkdtemp(join(work, "tmpdir-"));
    const env = { LOCKBOX_URL: proxy.url, LOCKBOX_RUNTIME_TOKEN: liveToken, TMPDIR: temp };
    expect((await php(env, ["ORG_KEY"])).values).toEqual(["org-value"]);
    expect(await cacheFiles(temp)).toHaveLength(1);
    expect(await cacheFiles()).toEqual([]);
  });

  test("throws a RuntimeException naming the missing variable when not configured", async () => {
    const run = await php({ LOCKBOX_URL: proxy.url }, ["SITE_KEY"]);
    expect(run.error?.runtime).toBe(true);
    expect(run.error?.message).toContain("LOCKBOX_RUNTIME_TOKEN is not set");
  });

  test("refuses a token with a final newline (as $(cat file)\\n gives) before sending it", async () => {
    for (const token of [`${liveToken}\n`, `${liveToken}\r\n`, `${liveToken} `]) {
      const run = await php(remote(token), ["SITE_KEY"]);
      expect(run.values).toBeUndefined();
      expect(run.error?.message).toContain("LOCKBOX_RUNTIME_TOKEN contains whitespace or control characters");
    }
    expect(proxy.requests).toEqual([]);
  });

  test("defines nothing when pantheon_get_secret() already exists, and survives being required twice", async () => {
    const code = `function pantheon_get_secret(string $name): ?string { return "platform:" . $name; }
require ${JSON.stringify(DROP_IN)};
require ${JSON.stringify(DROP_IN)};
echo pantheon_get_secret("X");`;
    const output = await new Promise<string>((resolve, reject) => {
      execFile("php", ["-r", code], { env: { PATH: process.env.PATH ?? "" } }, (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout + stderr),
      );
    });
    expect(output).toBe("platform:X");
  });

  describe("local mode", () => {
    let file: string;
    const secrets = {
      EntityType: "sites",
      EntityId: "00000000-0000-4000-8000-000000000000",
      Secrets: {
        SITE_OVERRIDE: {
          Type: "runtime",
          Value: "base",
          Scopes: ["web", "user"],
          EnvValues: { live: "live-override" },
          OrgValues: { default: "org-base", live: "org-live" },
        },
        ORG_OVERRIDE: {
          Type: "runtime",
          Value: null,
          Scopes: ["web"],
          EnvValues: {},
          OrgValues: { default: "org-base", live: "org-live" },
        },
        NULLS_ARE_ABSENT: {
          Type: "runtime",
          Value: null,
          Scopes: ["web"],
          EnvValues: { live: null },
          OrgValues: { default: "org-base", live: null },
        },
        EMPTY: { Type: "runtime", Value: "", Scopes: ["web"], EnvValues: {}, OrgValues: { default: "org" } },
        REDACTED: { Type: "runtime", Value: null, Scopes: ["web"], EnvValues: {}, OrgValues: {} },
        INHERITED: {
          Type: "runtime",
          Value: "org-base",
          Scopes: ["web", "user"],
          EnvValues: {},
          OrgValues: { default: "org-base", live: "org-live" },
          Owner: "org",
        },
        SITE_WITHOUT_WEB: {
          Type: "runtime",
          Value: "user-only",
          Scopes: ["user"],
          EnvValues: {},
          OrgValues: { default: "org-base" },
          Owner: "site",
          OrgScopes: ["web", "user"],
        },
        ORG_WITHOUT_WEB: {
          Type: "runtime",
          Value: "org-base",
          Scopes: ["user"],
          EnvValues: {},
          OrgValues: { default: "org-base" },
          Owner: "org",
        },
      },
    };
    const names = [
      "SITE_OVERRIDE",
      "ORG_OVERRIDE",
      "NULLS_ARE_ABSENT",
      "EMPTY",
      "REDACTED",
      "MISSING",
      "INHERITED",
      "SITE_WITHOUT_WEB",
      "ORG_WITHOUT_WEB",
    ];

    beforeAll(async () => {
      file = join(work, "secrets.json");
      await writeFile(file, JSON.stringify(secrets), { mode: 0o600 });
    });

    test("resolves as the server: the site's EnvValues[LOCKBOX_ENV] ?? Value, then the org's OrgValues[LOCKBOX_ENV] ?? OrgValues.default, each side only with web scope", async () => {
      const live = await php({ LOCKBOX_SECRETS_FILE: file, LOCKBOX_ENV: "live" }, names);
      expect(live.values).toEqual([
        "live-override",
        "org-live",
        "org-base",
        "",
        null,
        null,
        "org-live",
        "org-base",
        null,
      ]);
      const dev = await php({ LOCKBOX_SECRETS_FILE: file, LOCKBOX_ENV: "dev" }, names);
      expect(dev.values).toEqual([
        "base",
        "org-base",
        "org-base",
        "",
        null,
        null,
        "org-base",
        "org-base",
        null,
      ]);
      const noEnv = await php({ LOCKBOX_SECRETS_FILE: file }, names);
      expect(noEnv.values).toEqual([
        "base",
        "org-base",
        "org-base",
        "",
        null,
        null,
        "org-base",
        "org-base",
        null,
      ]);
    });

    test("refuses a LOCKBOX_ENV no environment can have, instead of answering the base values", async () => {
      const run = await php({ LOCKBOX_SECRETS_FILE: file, LOCKBOX_ENV: "Live" }, ["SITE_OVERRIDE"]);
      expect(run.values).toBeUndefined();
      expect(run.error?.message).toBe(
        "LOCKBOX_ENV 'Live' is not an environment name: use dev, test, live or a multidev name (1-11 lowercase letters, digits and hyphens), as the site has it.",
      );
    });

    test("accepts exactly the LOCKBOX_ENV names core accepts (reserved multidev names aside)", async () => {
      const candidates = [
        "dev",
        "live",
        "9",
        "feature-1",
        "abcdefghijk",
        "abcdefghijkl",
        "-dev",
        "Dev",
        "a_b",
        "é",
      ];
      for (const name of candidates) {
        if ((RESERVED_MULTIDEV_NAMES as readonly string[]).includes(name)) continue;
        const run = await php({ LOCKBOX_SECRETS_FILE: file, LOCKBOX_ENV: name }, ["SITE_OVERRIDE"]);
        const accepted = run.error === undefined;
        expect({ name, accepted }).toEqual({ name, accepted: environmentNameSchema.safeParse(name).success });
      }
    });

    test("answers an org secret's live override for LOCKBOX_ENV=live from the file local-generate writes, as the server does", async () => {
      await api("PUT", "/v1/orgs/my-org/secrets/SHARED_KEY", { value: "org-value", scopes: ["web", "user"] });
      await api("PUT", "/v1/orgs/my-org/secrets/SHARED_KEY/envs/live", { value: "org-live" });
      const generated = join(work, "generated.json");
      await writeFile(generated, JSON.stringify(await api("GET", "/v1/sites/my-site/local-secrets")));
      const server = await php(remote(), ["SHARED_KEY"]);
      const local = await php({ LOCKBOX_SECRETS_FILE: generated, LOCKBOX_ENV: "live" }, ["SHARED_KEY"]);
      expect(server.values).toEqual(["org-live"]);
      expect(local.values).toEqual(["org-live"]);
      const dev = await php({ LOCKBOX_SECRETS_FILE: generated, LOCKBOX_ENV: "dev" }, ["SHARED_KEY"]);
      expect(dev.values).toEqual(["org-value"]);
    });

    test("prefers LOCKBOX_SECRETS_FILE over CUSTOMER_SECRETS_FAKE_FILE and the server, and accepts the seed's variable alone", async () => {
      const other = join(work, "other.json");
      await writeFile(other, JSON.stringify({ Secrets: { SITE_OVERRIDE: { Value: "other" } } }));
      const both = await php(
        { ...remote(), LOCKBOX_SECRETS_FILE: file, CUSTOMER_SECRETS_FAKE_FILE: other, LOCKBOX_ENV: "live" },
        ["SITE_OVERRIDE", "SITE_KEY"],
      );
      expect(both.values).toEqual(["live-override", null]);
      const seed = await php({ ...remote(), CUSTOMER_SECRETS_FAKE_FILE: other }, ["SITE_OVERRIDE"]);
      expect(seed.values).toEqual(["other"]);
      expect(proxy.requests).toHaveLength(0);
      expect(await cacheFiles()).toEqual([]);
    });

    test("throws a RuntimeException naming the file when it is missing or not a secrets file", async () => {
      const missing = join(work, "nope.json");
      const run = await php({ LOCKBOX_SECRETS_FILE: missing }, ["A"]);
      expect(run.error?.runtime).toBe(true);
      expect(run.error?.message).toContain(`Cannot read the local secrets file '${missing}'`);
      const bad = join(work, "bad.json");
      await writeFile(bad, "[1, 2]");
      const malformed = await php({ CUSTOMER_SECRETS_FAKE_FILE: bad }, ["A"]);
      expect(malformed.error?.message).toContain(
        `'${bad}' named by CUSTOMER_SECRETS_FAKE_FILE is not a Lockbox secrets file`,
      );
    });

    test("says a file that is not JSON is not valid JSON, without quoting it", async () => {
      const broken = join(work, "broken.json");
      await writeFile(broken, '{"Secrets": {"A": {"Value": "hunter2" oops}}}');
      const run = await php({ LOCKBOX_SECRETS_FILE: broken }, ["A"]);
      expect(run.error?.runtime).toBe(true);
      expect(run.error?.message).toBe(
        `The local secrets file '${broken}' named by LOCKBOX_SECRETS_FILE is not valid JSON (Syntax error). Fix it, or write it again with \`lockbox secret:site:local-generate\`.`,
      );
      expect(run.error?.message).not.toContain("hunter2");
      const withBom = join(work, "bom.json");
      await writeFile(withBom, `\uFEFF${JSON.stringify({ Secrets: { A: { Value: "a" } } })}`);
      expect((await php({ LOCKBOX_SECRETS_FILE: withBom }, ["A"])).values).toEqual(["a"]);
    });
  });
});
