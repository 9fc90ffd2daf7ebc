import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type RunningServer, startServer } from "@lockbox/server";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { type CountingProxy, startProxy, unusedPort } from "./php-test-helpers.js";

/**
 * customer_secrets_compat.php: the seed product's PHP SDK reading Lockbox through the class
 * `\Pantheon\Internal\CustomerSecrets\CustomerSecretsClient` that the drop-in defines. The real `php`
 * binary runs a stand-in for the SDK (the SDK itself is on no registry reachable here) against the
 * real server and against a local file written from the server's own `local-secrets` answer.
 */

const COMPAT = fileURLToPath(new URL("./customer_secrets_compat.php", import.meta.url));
const hasPhp = spawnSync("php", ["--version"], { stdio: "ignore" }).status === 0;
// pantheon-get-secret.test.ts fails in CI without php; here the suite is skipped like it is locally.

/**
 * A STAND-IN for `pantheon-systems/customer-secrets-php-sdk`, written from its contract (not copied
 * from it): `CustomerSecrets::create()` picks the real client when the internal class exists (else a
 * fake one that reads a local file); the real client calls `InternalClient::create(['version' => '1'])`,
 * keeps the result in a property typed with the internal interface, and builds its secrets from
 * `get()['Secrets'][name]['Value' | 'Type' | 'Scopes']`, the other keys being the list's metadata.
 * strict_types makes a wrong type in the answer (a null Value, a string Scopes) fail loudly.
 */
const SEED_SDK_STAND_IN = `<?php
declare(strict_types=1);

namespace PantheonSystems\\CustomerSecrets;

use Pantheon\\Internal\\CustomerSecrets\\CustomerSecretsClient as InternalClient;
use Pantheon\\Internal\\CustomerSecrets\\CustomerSecretsClientInterface as InternalClientInterface;

final class Secret
{
    public function __construct(
        private string $name,
        private string $value,
        private string $type,
        private array $scopes,
    ) {}
    public function getName(): string { return $this->name; }
    public function getValue(): string { return $this->value; }
    public function getType(): string { return $this->type; }
    public function getScopes(): array { return $this->scopes; }
}

interface CustomerSecretsClientInterface
{
    public function getSecrets(): array;
    public function getSecret(string $name): ?Secret;
}

final class CustomerSecretsClient implements CustomerSecretsClientInterface
{
    protected InternalClientInterface $internalClient;
    private ?array $secrets = null;
    private array $metadata = [];

    public function __construct()
    {
        $this->internalClient = InternalClient::create(['version' => '1']);
    }
    public function getSecrets(): array
    {
        if ($this->secrets === null) {
            $results = $this->internalClient->get();
            $this->secrets = [];
            foreach ($results['Secrets'] as $name => $result) {
                $this->secrets[$name] = new Secret((string) $name, $result['Value'], $result['Type'], $result['Scopes']);
            }
            unset($results['Secrets']);
            $this->metadata = $results;
        }
        return $this->secrets;
    }
    public function getSecret(string $name): ?Secret
    {
        return $this->getSecrets()[$name] ?? null;
    }
    public function getMetadata(): array
    {
        $this->getSecrets();
        return $this->metadata;
    }
    /** Not in the SDK: lets the test compare get() with the server's answer. */
    public function internal(): InternalClientInterface
    {
        return $this->internalClient;
    }
}

/** The SDK's fallback; reaching it means the drop-in did not provide the internal class. */
final class CustomerSecretsFakeClient implements CustomerSecretsClientInterface
{
    public function getSecrets(): array { throw new \\LogicException('the SDK fell back to its fake client'); }
    public function getSecret(string $name): ?Secret { return $this->getSecrets()[$name] ?? null; }
}

final class CustomerSecrets
{
    private function __construct(private CustomerSecretsClientInterface $client) {}
    public static function create(array $args = []): self
    {
        return new self(class_exists(InternalClient::class) ? new CustomerSecretsClient() : new CustomerSecretsFakeClient());
    }
    public function getClient(): CustomerSecretsClientInterface { return $this->client; }
}
`;

/** A platform that already defines the interface (and, with `both`, the class) before the drop-in. */
const PLATFORM = `<?php
namespace Pantheon\\Internal\\CustomerSecrets;

interface CustomerSecretsClientInterface
{
    public function get(): array;
}
if (getenv('PLATFORM_DEFINES') === 'both') {
    final class CustomerSecretsClient implements CustomerSecretsClientInterface
    {
        public static function create(array $args): CustomerSecretsClientInterface { return new self(); }
        public function get(): array
        {
            return ['Secrets' => ['API_KEY' => ['Value' => 'from-platform', 'Type' => 'runtime', 'Scopes' => ['web']]]];
        }
    }
}
`;

/** Loads the drop-in (twice, with plain `require`) and the stand-in, then reads through the SDK. */
const RUNNER = `<?php
declare(strict_types=1);
[, $compat, $names, $platform] = $argv + [3 => ''];
if ($platform !== '') {
    require $platform;
}
require $compat;
require $compat;
require __DIR__ . '/seed-sdk-stand-in.php';
use Pantheon\\Internal\\CustomerSecrets\\CustomerSecretsClient as InternalClient;
use PantheonSystems\\CustomerSecrets\\CustomerSecrets;
try {
    if ((string) getenv('PROBE_VERSION') !== '') {
        InternalClient::create(['version' => getenv('PROBE_VERSION')]);
    }
    $client = CustomerSecrets::create()->getClient();
    $values = [];
    $details = [];
    foreach (json_decode($names, true) as $name) {
        $secret = $client->getSecret($name);
        $values[] = $secret?->getValue();
        $details[$name] = $secret === null ? null : ['type' => $secret->getType(), 'scopes' => $secret->getScopes()];
    }
    echo json_encode([
        'values' => $values,
        'details' => $details,
        'metadata' => $client->getMetadata(),
        'raw' => $client->internal()->get(),
        'classFile' => basename((string) (new ReflectionClass(InternalClient::class))->getFileName()),
    ]);
} catch (Throwable $e) {
    echo json_encode(['error' => ['class' => get_class($e), 'message' => $e->getMessage()]]);
}
`;

interface SdkRun {
  readonly values?: (string | null)[];
  readonly details?: Record<string, { type: string; scopes: string[] } | null>;
  readonly metadata?: Record<string, unknown>;
  readonly raw?: { Secrets: Record<string, unknown> } & Record<string, unknown>;
  readonly classFile?: string;
  readonly error?: { class: string; message: string };
  readonly stderr: string;
}

describe.skipIf(!hasPhp)("the seed product's PHP SDK on customer_secrets_compat.php", () => {
  let work: string;
  let server: RunningServer;
  let proxy: CountingProxy;
  let adminToken: string;
  let liveToken: string;
  let devToken: string;
  let localFile: string;
  let cacheDir: string;

  async function api(method: string, path: string, body?: unknown, token = adminToken): Promise<unknown> {
    const response = await fetch(server.url + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${await response.text()}`);
    return response.json();
  }

  /** Runs the stand-in SDK in a fresh PHP process with exactly `env` (plus PATH) and asks for `names`. */
  function sdk(
    env: Record<string, string>,
    names: readonly string[],
    platform?: "interface" | "both",
  ): Promise<SdkRun> {
    const args = ["-d", "error_reporting=-1", "-d", "display_errors=stderr", join(work, "runner.php")];
    args.push(COMPAT, JSON.stringify(names), ...(platform ? [join(work, "platform.php")] : []));
    return new Promise((resolve, reject) => {
      execFile(
        "php",
        args,
        {
          env: {
            PATH: process.env.PATH ?? "/usr/bin:/bin",
            TMPDIR: work,
            PLATFORM_DEFINES: platform ?? "",
            ...env,
          },
          timeout: 20_000,
        },
        (error, stdout, stderr) => {
          if (error) return reject(new Error(`php failed: ${error.message}\n${stdout}\n${stderr}`));
          resolve({ ...(JSON.parse(stdout) as Omit<SdkRun, "stderr">), stderr });
        },
      );
    });
  }

  function remote(token: string, url = server.url): Record<string, string> {
    return { LOCKBOX_URL: url, LOCKBOX_RUNTIME_TOKEN: token, LOCKBOX_CACHE_DIR: cacheDir };
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "lockbox-php-sdk-"));
    await writeFile(join(work, "seed-sdk-stand-in.php"), SEED_SDK_STAND_IN);
    await writeFile(join(work, "platform.php"), PLATFORM);
    await writeFile(join(work, "runner.php"), RUNNER);
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

    // `user` scope as well, so the local file (redacted like the listing) holds every value.
    const scopes = ["web", "user"];
    await api("POST", "/v1/orgs", { name: "my-org" });
    await api("PUT", "/v1/orgs/my-org/secrets/ORG_ONLY", { value: "org-value", scopes });
    await api("POST", "/v1/sites", { name: "my-site", org: "my-org" });
    await api("PUT", "/v1/sites/my-site/secrets/API_KEY", { value: "site-base", scopes, type: "env" });
    await api("PUT", "/v1/sites/my-site/secrets/API_KEY/envs/live", { value: "site-live" });
    await api("PUT", "/v1/sites/my-site/secrets/NO_WEB", { value: "user-only", scopes: ["user"] });
    const token = async (env: string) =>
      ((await api("POST", "/v1/tokens", { kind: "runtime", site: "my-site", env })) as { token: string })
        .token;
    liveToken = await token("live");
    devToken = await token("dev");
    localFile = join(work, "secrets.json");
    await writeFile(localFile, JSON.stringify(await api("GET", "/v1/sites/my-site/local-secrets")), {
      mode: 0o600,
    });
  });

  afterAll(async () => {
    await proxy?.close();
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  beforeEach(async () => {
    cacheDir = await mkdtemp(join(work, "cache-"));
    proxy.requests.length = 0;
    proxy.down = false;
  });

  /** What `GET /site/secrets` answers for `token`. */
  async function served(token: string): Promise<unknown> {
    return api("GET", "/site/secrets", undefined, token);
  }

  const NAMES = ["API_KEY", "ORG_ONLY", "NO_WEB", "MISSING"];

  test("reads the live override and the inherited org value through the SDK, with a live runtime token", async () => {
    const run = await sdk(remote(liveToken), NAMES);
    expect(run.error).toBeUndefined();
    expect(run.values).toEqual(["site-live", "org-value", null, null]);
    expect(run.details?.API_KEY).toEqual({ type: "env", scopes: ["web", "user"] });
    expect(run.classFile).toBe("customer_secrets_compat.php");
    // get() is the server's answer, key for key.
    expect(run.raw).toEqual(await served(liveToken));
    expect(run.metadata).toEqual({
      SiteID: expect.stringMatching(/^[0-9a-f-]{36}$/),
      Environment: "live",
      Count: 2,
      Version: expect.stringMatching(/^[0-9a-f]{32}$/),
      Scopes: ["web"],
    });
    expect(run.stderr).toBe("");
  });

  test("reads the site base value with a dev runtime token", async () => {
    const run = await sdk(remote(devToken), NAMES);
    expect(run.values).toEqual(["site-base", "org-value", null, null]);
    expect(run.raw).toEqual(await served(devToken));
    expect(run.metadata?.Environment).toBe("dev");
  });

  test("serves the whole set, metadata included, from the cache file, and while the server is down", async () => {
    const expected = await served(liveToken);
    const first = await sdk(remote(liveToken, proxy.url), ["API_KEY"]);
    expect(first.raw).toEqual(expected);
    const cached = await sdk(remote(liveToken, proxy.url), ["API_KEY"]);
    expect(cached.raw).toEqual(expected);
    expect(proxy.requests).toHaveLength(1);
    // Past the TTL with the server unreachable: the cached set and one warning, not an error.
    const [file] = (await readdir(cacheDir)).filter((name) => name.endsWith(".json"));
    const then = Date.now() / 1000 - 301;
    await utimes(join(cacheDir, file as string), then, then);
    proxy.down = true;
    const down = await sdk(remote(liveToken, proxy.url), ["API_KEY"]);
    expect(down.values).toEqual(["site-live"]);
    expect(down.raw).toEqual(expected);
    expect(down.stderr).toContain("serving the cached copy");
    expect(down.stderr).not.toContain("site-live");
  });

  test.each([
    ["LOCKBOX_SECRETS_FILE", "live", "site-live"],
    ["LOCKBOX_SECRETS_FILE", "", "site-base"],
    ["CUSTOMER_SECRETS_FAKE_FILE", "live", "site-live"],
  ])("local mode (%s, LOCKBOX_ENV=%j) answers what the server answers", async (variable, env, apiKey) => {
    const run = await sdk({ [variable]: localFile, LOCKBOX_ENV: env }, NAMES);
    expect(run.error).toBeUndefined();
    expect(run.values).toEqual([apiKey, "org-value", null, null]);
    const server = (await served(env === "live" ? liveToken : devToken)) as {
      Secrets: unknown;
      SiteID: string;
    };
    expect(run.raw?.Secrets).toEqual(server.Secrets);
    expect(run.metadata).toEqual({
      SiteID: server.SiteID,
      Environment: env,
      Count: 2,
      Version: expect.stringMatching(/^[0-9a-f]{32}$/),
      Scopes: ["web"],
    });
    expect(run.stderr).toBe("");
  });

  test("an unreachable server without a cached set throws a RuntimeException naming the URL, never a value", async () => {
    const port = await unusedPort();
    const run = await sdk(remote(liveToken, `http://127.0.0.1:${port}`), ["API_KEY"]);
    expect(run.error?.class).toBe("RuntimeException");
    expect(run.error?.message).toContain(`Cannot fetch secrets from Lockbox at 'http://127.0.0.1:${port}'`);
    expect(run.error?.message).not.toContain(liveToken);
  });

  test("a token the server refuses throws a RuntimeException that says to check the token", async () => {
    const wrong = `lbr_${randomBytes(24).toString("hex")}`;
    const run = await sdk(remote(wrong), ["API_KEY"]);
    expect(run.error?.class).toBe("RuntimeException");
    expect(run.error?.message).toContain("refused the runtime token");
    expect(run.error?.message).toContain("Check LOCKBOX_RUNTIME_TOKEN");
    expect(run.error?.message).not.toContain(wrong);
  });

  test("create() refuses a version other than 1 and says which one to pass", async () => {
    const run = await sdk({ ...remote(liveToken), PROBE_VERSION: "2" }, ["API_KEY"]);
    expect(run.error).toEqual({
      class: "InvalidArgumentException",
      message:
        "Lockbox answers CustomerSecretsClient::create() with version 1 only, not '2'. Pass ['version' => '1'].",
    });
  });

  test("keeps a platform's own class and interface: nothing is redeclared", async () => {
    const run = await sdk(remote(liveToken), ["API_KEY"], "both");
    expect(run.error).toBeUndefined();
    expect(run.values).toEqual(["from-platform"]);
    expect(run.classFile).toBe("platform.php");
    expect(run.stderr).toBe("");
  });

  test("with only the platform's interface defined, the drop-in's class implements that interface", async () => {
    const run = await sdk(remote(liveToken), ["API_KEY"], "interface");
    expect(run.error).toBeUndefined();
    expect(run.values).toEqual(["site-live"]);
    expect(run.classFile).toBe("customer_secrets_compat.php");
    expect(run.stderr).toBe("");
  });
});
