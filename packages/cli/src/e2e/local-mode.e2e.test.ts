import { execFile, spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRuntimeClient, LockboxRuntimeError } from "@lockbox/sdk";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runCli as runCliInProcess } from "../testing/test-io.js";
import {
  cliAs,
  type E2eServer,
  e2eDatabases,
  expectSuccess,
  runtimeValues,
  startE2eServer,
} from "./e2e-fixtures.js";

/**
 * Local mode (SPEC §3) against the real thing: a real server process, the file the real CLI's
 * `secret:site:local-generate` writes, the SDK's local mode and the PHP drop-in's (the real `php`)
 * must answer what `GET /site/secrets` answers with a runtime token of that environment.
 */

const DROP_IN = fileURLToPath(new URL("../../../../clients/php/pantheon_get_secret.php", import.meta.url));
const hasPhp = spawnSync("php", ["--version"], { stdio: "ignore" }).status === 0;
const inCi = process.env.CI === "true" || process.env.CI === "1";
if (!hasPhp && inCi) {
  test("php is installed (CI requires it to compare the PHP drop-in's local mode)", () => {
    throw new Error("No `php` binary on PATH: CI must install php-cli.");
  });
}

/** The site's environments with overrides; `feature` is a multidev. */
const SITE_ENVS = ["dev", "test", "live", "feature"] as const;
/** Org overrides may name any environment, also one the site does not have. */
const ORG_ENVS = [...SITE_ENVS, "other"] as const;
/** A multidev nothing overrides: the server's answer for "no environment" (LOCKBOX_ENV unset). */
const PLAIN = "plain";
/** Each name with the types it can take (an `env` name has no dot; a `composer` one is `auth.host`). */
const NAMES = [
  { name: "API_KEY", types: ["runtime", "env"] },
  { name: "DB_PASSWORD", types: ["runtime", "env"] },
  { name: "SHARED", types: ["runtime", "env"] },
  { name: "feature.flag", types: ["runtime"] },
  { name: "github-oauth.example.com", types: ["runtime", "composer"] },
] as const;
const ASKED = [...NAMES.map((entry) => entry.name), "MISSING"];

type Scope = "ic" | "web" | "user";
interface ModelSecret {
  readonly type: string;
  readonly scopes: Scope[];
  readonly base: string;
  readonly overrides: Record<string, string>;
}
interface ModelName {
  readonly site: ModelSecret | null;
  readonly org: ModelSecret | null;
  /** A supporting org's same-named secret, which must never reach the site. */
  readonly supporting: boolean;
}
/** Answers by environment (`""` for none), then name → value (absent: missing). */
type Answers = Map<string, Record<string, string>>;
interface LocalFile {
  Secrets: Record<string, Record<string, unknown> & { Value: string | null; Owner: "site" | "org" }>;
}

// Empty strings, Unicode and JSON/PHP metacharacters; prefixed with their source when used, so that
// values of different secrets differ unless both are empty.
const valueArb = fc.oneof(
  { arbitrary: fc.constant(""), weight: 1 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 4 }), weight: 3 },
  { arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 6 }), weight: 3 },
);

function secretArb(types: readonly string[], envs: readonly string[]): fc.Arbitrary<ModelSecret> {
  return fc
    .record({
      type: fc.constantFrom(...types),
      scopes: fc.subarray<Scope>(["ic", "web", "user"], { minLength: 1 }),
      base: valueArb,
      overrides: fc.dictionary(fc.constantFrom(...envs), valueArb, { maxKeys: envs.length }),
    })
    .map((secret) => ({
      ...secret,
      // Composer secrets need the ic scope (SPEC §2.1).
      scopes:
        secret.type === "composer" && !secret.scopes.includes("ic")
          ? ["ic", ...secret.scopes]
          : secret.scopes,
    }));
}

const modelArb: fc.Arbitrary<ModelName[]> = fc.tuple(
  ...NAMES.map(({ types }) =>
    fc.record({
      site: fc.option(secretArb(types, SITE_ENVS)),
      org: fc.option(secretArb(types, ORG_ENVS)),
      supporting: fc.boolean(),
    }),
  ),
);

function labelled(model: ModelName[], run: number): ModelName[] {
  const label = (secret: ModelSecret | null, who: string): ModelSecret | null =>
    secret && {
      ...secret,
      base: secret.base && `${who}${run}:base:${secret.base}`,
      overrides: Object.fromEntries(
        Object.entries(secret.overrides).map(([env, value]) => [
          env,
          value && `${who}${run}:${env}:${value}`,
        ]),
      ),
    };
  return model.map((entry) => ({ ...entry, site: label(entry.site, "s"), org: label(entry.org, "o") }));
}

// SQLite, always first: the property compares clients, not stores.
const [sqlite] = await e2eDatabases();

describe.skipIf(!hasPhp)("local mode agrees with GET /site/secrets", () => {
  let e2e: E2eServer;
  let run = 0;

  async function api(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(e2e.server.url + path, {
      method,
      headers: {
        authorization: `Bearer ${e2e.adminToken}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${await response.text()}`);
    return response.status === 204 ? undefined : response.json();
  }

  async function put(owner: string, name: string, secret: ModelSecret): Promise<void> {
    const path = `${owner}/secrets/${encodeURIComponent(name)}`;
    await api("PUT", path, { value: secret.base, type: secret.type, scopes: secret.scopes });
    for (const [env, value] of Object.entries(secret.overrides)) {
      await api("PUT", `${path}/envs/${env}`, { value });
    }
  }

  /** What `GET /site/secrets` answers with a new runtime token of `site`.`env`: name → value. */
  async function runtime(site: string, env: string): Promise<Record<string, string>> {
    const { token } = (await api("POST", "/v1/tokens", { kind: "runtime", site, env })) as { token: string };
    return runtimeValues(e2e.server.url, token);
  }

  /**
   * `local-generate` by the CLI, as a site admin runs it: the real binary, or (`inProcess`, for the
   * property's many runs) the same command in this process, without a node start-up each time.
   */
  async function localGenerate(site: string, inProcess = false): Promise<string> {
    const path = join(e2e.dir, `${site}.json`);
    const args = ["secret:site:local-generate", site, `--filepath=${path}`];
    const env = { HOME: e2e.dir, LOCKBOX_URL: e2e.server.url, LOCKBOX_TOKEN: e2e.adminToken };
    expectSuccess(inProcess ? await runCliInProcess(args, { env }) : await cliAs(e2e, e2e.adminToken)(args));
    return path;
  }

  /** The SDK's local mode, configured as an application is: through its environment. */
  async function sdkLocal(file: string, env: string | undefined): Promise<Record<string, string>> {
    const client = createRuntimeClient({
      processEnv: { LOCKBOX_SECRETS_FILE: file, ...(env === undefined ? {} : { LOCKBOX_ENV: env }) },
    });
    return { ...(await client.getSecrets()) };
  }

  /** The PHP drop-in's local mode: one `php` process answers every (file, environment) query. */
  function phpLocal(
    queries: { file: string; env: string | undefined }[],
    names: readonly string[] = ASKED,
  ): Promise<Record<string, string>[]> {
    // LOCKBOX_SECRETS_FILE and LOCKBOX_ENV are read on every call, so putenv() switches between queries.
    const code = `require $argv[1];
$out = [];
foreach (json_decode($argv[2], true) as $query) {
    putenv('LOCKBOX_SECRETS_FILE=' . $query['file']);
    putenv($query['env'] === null ? 'LOCKBOX_ENV' : 'LOCKBOX_ENV=' . $query['env']);
    $values = new stdClass();
    foreach (json_decode($argv[3], true) as $name) {
        $value = pantheon_get_secret($name);
        if ($value !== null) { $values->{$name} = $value; }
    }
    $out[] = $values;
}
echo json_encode($out);`;
    const args = JSON.stringify(queries.map((query) => ({ file: query.file, env: query.env ?? null })));
    return new Promise((resolve, reject) => {
      execFile(
        "php",
        [
          "-d",
          "error_reporting=-1",
          "-d",
          "display_errors=stderr",
          "-r",
          code,
          DROP_IN,
          args,
          JSON.stringify(names),
        ],
        { env: { PATH: process.env.PATH ?? "" }, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error || stderr !== "") return reject(new Error(`php: ${error?.message}\n${stderr}`));
          resolve(JSON.parse(stdout) as Record<string, string>[]);
        },
      );
    });
  }

  /** The environments compared: none (LOCKBOX_ENV unset) and each of the site's. */
  const ENVS: (string | undefined)[] = [undefined, ...SITE_ENVS];
  const serverEnv = (env: string | undefined): string => env ?? PLAIN;

  /** Local answers by environment from the SDK and from PHP, for one file. */
  async function localAnswers(file: string): Promise<{ sdk: Answers; php: Answers }> {
    const php = await phpLocal(ENVS.map((env) => ({ file, env })));
    const sdk: Answers = new Map();
    const phpAnswers: Answers = new Map();
    for (const [i, env] of ENVS.entries()) {
      sdk.set(env ?? "", await sdkLocal(file, env));
      phpAnswers.set(env ?? "", php[i] ?? {});
    }
    return { sdk, php: phpAnswers };
  }

  /**
   * The file after the review local-generate asks for: each redacted (`null`) value filled in with
   * the value it stands for, as a developer with access to it would.
   */
  function reviewed(file: LocalFile, model: ModelName[]): LocalFile {
    const fill = (map: unknown, secret: ModelSecret | null, defaultKey?: string): Record<string, unknown> =>
      Object.fromEntries(
        Object.entries(map as Record<string, string | null>).map(([key, value]) => [
          key,
          value ?? (key === defaultKey ? secret?.base : secret?.overrides[key]) ?? null,
        ]),
      );
    const secrets: LocalFile["Secrets"] = {};
    for (const [name, row] of Object.entries(file.Secrets)) {
      const entry = model[NAMES.findIndex((candidate) => candidate.name === name)];
      if (!entry) throw new Error(`local-generate wrote a name nobody set: ${name}`);
      const own = row.Owner === "site" ? entry.site : entry.org;
      secrets[name] = {
        ...row,
        Value: row.Value ?? own?.base ?? null,
        EnvValues: fill(row.EnvValues, entry.site),
        OrgValues: fill(row.OrgValues, entry.org, "default"),
      };
    }
    return { ...file, Secrets: secrets };
  }

  beforeAll(async () => {
    if (!sqlite) throw new Error("no SQLite store");
    e2e = await startE2eServer(sqlite, ["--rate-limit", "0"]);
    await api("POST", "/v1/orgs", { name: "example-org" });
    await api("POST", "/v1/sites", { name: "example-site", org: "example-org" });
  });

  afterAll(async () => {
    await e2e?.close();
  });

  test("an org secret's live override is what the live application gets, from the server and from both local clients", async () => {
    await api("PUT", "/v1/orgs/example-org/secrets/SHARED_KEY", {
      value: "org-value",
      scopes: ["web", "user"],
    });
    await api("PUT", "/v1/orgs/example-org/secrets/SHARED_KEY/envs/live", { value: "org-live" });
    const file = await localGenerate("example-site");
    expect((await runtime("example-site", "live")).SHARED_KEY).toBe("org-live");
    expect((await sdkLocal(file, "live")).SHARED_KEY).toBe("org-live");
    expect((await phpLocal([{ file, env: "live" }], ["SHARED_KEY"]))[0]?.SHARED_KEY).toBe("org-live");
    expect((await sdkLocal(file, "dev")).SHARED_KEY).toBe("org-value");
  }, 120_000); // one real CLI start-up, slow on a loaded machine

  test("for every secret and environment, SDK and PHP local mode answer what the runtime endpoint answers", async () => {
    await fc.assert(
      fc.asyncProperty(modelArb, async (generated) => {
        run += 1;
        const model = labelled(generated, run);
        const [org, helper, site] = [`org-${run}`, `helper-${run}`, `site-${run}`];
        await Promise.all([
          api("POST", "/v1/orgs", { name: org }),
          api("POST", "/v1/orgs", { name: helper }),
        ]);
        await api("POST", "/v1/sites", { name: site, org, supportingOrgs: [helper] });
        // Independent writes go out together, to keep each run short.
        await Promise.all(
          ["feature", PLAIN].map((env) => api("POST", `/v1/sites/${site}/environments`, { name: env })),
        );
        await Promise.all(
          NAMES.map(async ({ name }, i) => {
            const entry = model[i] as ModelName;
            if (entry.org) await put(`/v1/orgs/${org}`, name, entry.org);
            if (entry.site) await put(`/v1/sites/${site}`, name, entry.site);
            if (entry.supporting) {
              await api("PUT", `/v1/orgs/${helper}/secrets/${encodeURIComponent(name)}`, {
                value: `supporting-${run}`,
                scopes: ["ic", "web", "user"],
              });
            }
          }),
        );

        const server: Answers = new Map();
        const shown = new Map<string, Set<string>>(); // names whose winning value people may see
        await Promise.all(
          ENVS.map(async (env) => {
            server.set(env ?? "", await runtime(site, serverEnv(env)));
            const resolved = (await api(
              "GET",
              `/v1/sites/${site}/resolve?env=${serverEnv(env)}&scope=web`,
            )) as {
              items: { name: string; value: string | null }[];
            };
            const visible = resolved.items.filter((row) => row.value !== null).map((row) => row.name);
            shown.set(env ?? "", new Set(visible));
          }),
        );

        const generatedPath = await localGenerate(site, true);
        const asGenerated = await localAnswers(generatedPath);
        const reviewedPath = join(e2e.dir, `${site}.reviewed.json`);
        const file = JSON.parse(await readFile(generatedPath, "utf8")) as LocalFile;
        await writeFile(reviewedPath, JSON.stringify(reviewed(file, model)), { mode: 0o600 });
        const afterReview = await localAnswers(reviewedPath);

        const disagreements: string[] = [];
        const show = (value: string | undefined) => (value === undefined ? "absent" : JSON.stringify(value));
        for (const env of ENVS) {
          const key = env ?? "";
          for (const name of ASKED) {
            const at = `${name} in ${env ?? "(no environment)"}`;
            const expected = server.get(key)?.[name];
            const sdk = asGenerated.sdk.get(key)?.[name];
            const php = asGenerated.php.get(key)?.[name];
            if (sdk !== php) disagreements.push(`${at}, as generated: SDK ${show(sdk)}, PHP ${show(php)}`);
            // Where the winning value is redacted in the file, local mode cannot know it.
            if ((expected === undefined || shown.get(key)?.has(name)) && sdk !== expected) {
              disagreements.push(`${at}, as generated: server ${show(expected)}, local ${show(sdk)}`);
            }
            const sdkReviewed = afterReview.sdk.get(key)?.[name];
            const phpReviewed = afterReview.php.get(key)?.[name];
            if (sdkReviewed !== expected || phpReviewed !== expected) {
              disagreements.push(
                `${at}, reviewed: server ${show(expected)}, SDK ${show(sdkReviewed)}, PHP ${show(phpReviewed)}`,
              );
            }
          }
        }
        expect(disagreements).toEqual([]);
      }),
      { numRuns: 20 },
    );
  }, 600_000);

  test("the SDK's answer to a revoked runtime token says once what is wrong and how to fix it", async () => {
    const { token, id } = (await api("POST", "/v1/tokens", {
      kind: "runtime",
      site: "example-site",
      env: "live",
    })) as { token: string; id: string };
    await api("DELETE", `/v1/tokens/${id}`);
    const client = createRuntimeClient({
      processEnv: { LOCKBOX_URL: e2e.server.url, LOCKBOX_RUNTIME_TOKEN: token },
    });
    const error = await client.getSecret("SHARED_KEY").then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(LockboxRuntimeError);
    const message = (error as LockboxRuntimeError).message;
    expect(message).toMatch(
      new RegExp(
        `^Lockbox at ${e2e.server.url.replaceAll(".", "\\.")} refused the runtime token \\(HTTP 401, request id [^)]+\\): it is unknown, expired or revoked\\. Set LOCKBOX_RUNTIME_TOKEN to a current runtime token of this site environment \\(create one with lockbox token:runtime:create <site>\\.<env>\\)\\.$`,
      ),
    );
    expect(message.match(/revoked/g)).toHaveLength(1);
    expect(message).not.toContain(token);
  });
});
