import { execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, test } from "vitest";
import {
  type ComposerRepository,
  PRIVATE_CLASS,
  PRIVATE_PACKAGE,
  PRIVATE_PACKAGE_VERSION,
  startComposerRepository,
} from "./composer-repo.js";
import {
  CLI_BIN,
  type CliResult,
  newMasterKey,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from "./harness.js";

/**
 * Integrated Composer builds with the real clients (SPEC §4): Debian's `composer` runs
 * `composer install` under `lockbox build:run` against a private Composer repository on loopback,
 * with credentials that exist only as Lockbox `composer` secrets, delivered in `COMPOSER_AUTH`.
 */

const TOOLS = ["composer", "php", "unzip"] as const;
const missingTools = TOOLS.filter(
  (tool) => spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status !== 0,
);
const inCi = process.env.CI === "true" || process.env.CI === "1";
if (missingTools.length > 0 && inCi) {
  test("composer, php and unzip are installed (CI requires them for the Composer build tests)", () => {
    throw new Error(
      `Missing on PATH: ${missingTools.join(", ")}. CI must install them (apt-get install composer php-cli unzip).`,
    );
  });
} else if (missingTools.length > 0) {
  console.warn(
    `\n*** SKIPPING the Composer build tests: ${missingTools.join(", ")} not on PATH (apt-get install composer php-cli unzip). With CI=true they fail instead. ***\n`,
  );
}

const COMPOSER_INSTALL = ["composer", "install", "--no-progress", "-vvv"];

/** A composer run under `build:run`, with what it printed (both streams) and how long it took. */
interface BuildRun extends CliResult {
  readonly project: string;
  readonly output: string;
  readonly seconds: number;
}

describe.skipIf(missingTools.length > 0)("composer install under lockbox build:run (real composer)", () => {
  let dir: ReturnType<typeof tempDir>;
  let server: ServerProcess;
  let adminEnv: Record<string, string>;
  let basicRepo: ComposerRepository;
  let bearerRepo: ComposerRepository;
  const username = "acme-deploy";
  const password = `pa55word-${randomBytes(9).toString("hex")}`;
  const bearerToken = `tok3n-${randomBytes(12).toString("hex")}`;
  /** Build tokens by site: `shop` has both secrets, `bare` only the org's bearer, `stranger` none. */
  const buildTokens: Record<string, string> = {};
  let projectCount = 0;

  const cli = async (...args: string[]) => {
    const result = await runCli(args, { env: adminEnv });
    if (result.code !== 0) throw new Error(`lockbox ${args.join(" ")}: ${result.code}\n${result.stderr}`);
    return result;
  };

  /** A fresh project requiring {@link PRIVATE_PACKAGE} from `repo` only, with its own Composer home and cache. */
  const newProject = (repo: ComposerRepository) => {
    const project = join(dir.path, `project-${++projectCount}`);
    mkdirSync(project);
    writeFileSync(
      join(project, "composer.json"),
      JSON.stringify(
        {
          name: "acme/site",
          repositories: [{ type: "composer", url: repo.url }, { "packagist.org": false }],
          require: { [PRIVATE_PACKAGE]: PRIVATE_PACKAGE_VERSION },
          config: { "secure-http": false },
        },
        null,
        2,
      ),
    );
    return project;
  };

  /** Composer's environment in `project`: its own home and cache, no prompts, loopback only. */
  const composerEnv = (project: string): Record<string, string> => {
    const home = join(project, ".home");
    return {
      PATH: process.env.PATH ?? "",
      HOME: home,
      COMPOSER_HOME: join(home, "composer"),
      COMPOSER_CACHE_DIR: join(home, "cache"),
      COMPOSER_NO_INTERACTION: "1",
      COMPOSER_ALLOW_SUPERUSER: "1",
      // Anything but loopback goes to a closed port: the build must need no other network.
      http_proxy: "http://127.0.0.1:9",
      https_proxy: "http://127.0.0.1:9",
      no_proxy: "127.0.0.1",
    };
  };

  /** Runs `lockbox build:run <site>.dev -- composer install --no-progress -vvv` in a fresh project. */
  const composerInstall = async (site: string, repo: ComposerRepository): Promise<BuildRun> => {
    const project = newProject(repo);
    const started = performance.now();
    const result = await runCli(["build:run", `${site}.dev`, "--", ...COMPOSER_INSTALL], {
      cwd: project,
      env: {
        ...composerEnv(project),
        LOCKBOX_URL: server.url,
        LOCKBOX_BUILD_TOKEN: buildTokens[site] as string,
      },
    });
    return {
      ...result,
      project,
      output: `${result.stdout}\n${result.stderr}`,
      seconds: (performance.now() - started) / 1000,
    };
  };

  /** Every form in which a credential could leak: as is, URL-encoded, JSON-escaped, in base64. */
  const leakedForms = (secret: string) => [
    secret,
    encodeURIComponent(secret),
    JSON.stringify(secret).slice(1, -1),
    Buffer.from(secret).toString("base64"),
  ];
  const expectNoLeak = (text: string, ...secrets: string[]) => {
    for (const secret of secrets) for (const form of leakedForms(secret)) expect(text).not.toContain(form);
  };
  /** The contents of every file under `root`, concatenated. */
  const filesUnder = (root: string): string => {
    if (!existsSync(root)) return "";
    return readdirSync(root)
      .map((name) => {
        const path = join(root, name);
        return statSync(path).isDirectory() ? filesUnder(path) : readFileSync(path, "latin1");
      })
      .join("\n");
  };

  beforeAll(async () => {
    const composer = spawnSync("composer", ["--version", "--no-ansi"], {
      encoding: "utf8",
      env: { ...process.env, COMPOSER_ALLOW_SUPERUSER: "1" },
    });
    console.info(`[composer e2e] ${composer.stdout.trim()}`);

    dir = tempDir("lockbox-composer-e2e-");
    [basicRepo, bearerRepo, server] = await Promise.all([
      startComposerRepository({ kind: "basic", username, password }),
      startComposerRepository({ kind: "bearer", token: bearerToken }),
      startServerProcess({
        cwd: dir.path,
        env: { LOCKBOX_MASTER_KEY: newMasterKey() },
        args: ["--db", join(dir.path, "lockbox.db"), "--rate-limit", "0"],
      }),
    ]);
    if (!server.adminToken) throw new Error(`no admin token in the banner:\n${server.stdout()}`);
    adminEnv = { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: server.adminToken, HOME: dir.path };

    await cli("org:create", "acme");
    await cli("org:create", "other");
    await cli("site:create", "shop", "--org=acme");
    await cli("site:create", "bare", "--org=acme");
    await cli("site:create", "stranger", "--org=other");
    await cli(
      "secret:site:set",
      "shop",
      `http-basic.${basicRepo.hostPort}`,
      `${username}:${password}`,
      "--type=composer",
      "--scope=ic",
    );
    await cli(
      "secret:org:set",
      "acme",
      `bearer.${bearerRepo.hostPort}`,
      bearerToken,
      "--type=composer",
      "--scope=ic",
    );
    for (const site of ["shop", "bare", "stranger"]) {
      const { stdout } = await cli("token:build:create", `${site}.dev`);
      const token = stdout.trim().split("\n").at(-1)?.trim();
      if (!token?.startsWith("lbb_")) throw new Error(`no build token printed for ${site}:\n${stdout}`);
      buildTokens[site] = token;
    }
  });

  afterAll(async () => {
    await server?.stop();
    await basicRepo?.close();
    await bearerRepo?.close();
    dir?.cleanup();
  });

  it("build:env --format=shell, eval'ed by sh, sets COMPOSER_AUTH to the site's and the org's credentials", async () => {
    const script = `eval "$("${process.execPath}" "${CLI_BIN}" build:env shop.dev --format=shell)" && printf %s "$COMPOSER_AUTH"`;
    const result = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(
        "sh",
        ["-c", script],
        {
          env: {
            PATH: process.env.PATH ?? "",
            HOME: dir.path,
            LOCKBOX_URL: server.url,
            LOCKBOX_BUILD_TOKEN: buildTokens.shop as string,
          },
        },
        (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve({ stdout, stderr }),
      ),
    );
    expect(JSON.parse(result.stdout)).toEqual({
      "http-basic": { [basicRepo.hostPort]: { username, password } },
      bearer: { [bearerRepo.hostPort]: bearerToken },
    });
  });

  it("installs a package from an http-basic repository with the site's http-basic.HOST:PORT secret, never printing the password", async () => {
    basicRepo.reset();
    const run = await composerInstall("shop", basicRepo);
    console.info(`[composer e2e] http-basic install: exit ${run.code} in ${run.seconds.toFixed(1)} s`);
    expect(run.code, run.output).toBe(0);
    expect(existsSync(join(run.project, "vendor", PRIVATE_PACKAGE, "src", "Greeter.php"))).toBe(true);
    // The autoloader composer generated finds the installed class.
    const php = spawnSync("php", ["-r", `require 'vendor/autoload.php'; echo \\${PRIVATE_CLASS}::hello();`], {
      cwd: run.project,
      encoding: "utf8",
    });
    expect(php.stdout, php.stderr).toBe("hello from acme");
    expect(basicRepo.requests.filter((r) => r.authorized).map((r) => r.path)).toEqual(
      expect.arrayContaining(["/packages.json", `/dist/acme-private-lib-${PRIVATE_PACKAGE_VERSION}.zip`]),
    );
    // Composer's verbose output names the repository it read, so it really ran against this one…
    expect(run.output).toContain(basicRepo.url);
    // …but never the password, nor the credentials in any encoding (Authorization header included).
    expectNoLeak(run.output, password, `${username}:${password}`);
    // Nor did composer write them anywhere (auth.json, caches, installed.json).
    expectNoLeak(filesUnder(run.project), password, `${username}:${password}`);
  });

  it("fails without the http-basic secret, with the command's exit code, and the repository sees only unauthorized requests", async () => {
    basicRepo.reset();
    // `bare` belongs to acme, so COMPOSER_AUTH is set (the org's bearer secret), just not for this host.
    const run = await composerInstall("bare", basicRepo);
    console.info(
      `[composer e2e] http-basic install without the secret: exit ${run.code} in ${run.seconds.toFixed(1)} s`,
    );
    expect(run.code, run.output).not.toBe(0);
    // build:run exits with composer's own code, which composer alone gives in the same situation.
    const aloneProject = newProject(basicRepo);
    // Not spawnSync: the repository answering composer runs on this process's event loop.
    const aloneCode = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(COMPOSER_INSTALL[0] as string, COMPOSER_INSTALL.slice(1), {
        cwd: aloneProject,
        env: composerEnv(aloneProject),
        stdio: "ignore",
      });
      child.once("error", reject);
      child.once("close", resolve);
    });
    expect(aloneCode).not.toBe(0);
    expect(run.code).toBe(aloneCode);
    expect(run.output).toContain("URL required authentication");
    expect(existsSync(join(run.project, "vendor", PRIVATE_PACKAGE))).toBe(false);
    expect(basicRepo.unauthorizedCount()).toBeGreaterThan(0);
    expect(basicRepo.authorizedCount()).toBe(0);
    expectNoLeak(run.output, password, bearerToken);
  });

  it("installs from a bearer repository with the organization's bearer.HOST:PORT secret, never printing the token", async () => {
    bearerRepo.reset();
    const run = await composerInstall("shop", bearerRepo);
    console.info(`[composer e2e] bearer install: exit ${run.code} in ${run.seconds.toFixed(1)} s`);
    expect(run.code, run.output).toBe(0);
    expect(existsSync(join(run.project, "vendor", PRIVATE_PACKAGE, "src", "Greeter.php"))).toBe(true);
    expect(bearerRepo.authorizedCount()).toBeGreaterThanOrEqual(2);
    expect(run.output).toContain(bearerRepo.url);
    expectNoLeak(run.output, bearerToken);
    expectNoLeak(filesUnder(run.project), bearerToken);
  });

  it("masks the credentials when composer itself prints them (composer config --list)", async () => {
    const project = newProject(basicRepo);
    const result = await runCli(["build:run", "shop.dev", "--", "composer", "config", "--list"], {
      cwd: project,
      env: {
        ...composerEnv(project),
        LOCKBOX_URL: server.url,
        LOCKBOX_BUILD_TOKEN: buildTokens.shop as string,
      },
    });
    expect(result.code, result.stderr).toBe(0);
    // Composer lists the auth config it loaded from COMPOSER_AUTH, values and all…
    expect(result.stdout).toContain(`[http-basic.${basicRepo.hostPort}.password] ***`);
    expect(result.stdout).toContain(`[bearer.${bearerRepo.hostPort}] ***`);
    // …and build:run hides each of them, not only the whole COMPOSER_AUTH value.
    expectNoLeak(`${result.stdout}\n${result.stderr}`, password, bearerToken);
  });

  it("fails against the bearer repository for a site of another organization, which has no such secret", async () => {
    bearerRepo.reset();
    const run = await composerInstall("stranger", bearerRepo);
    expect(run.code, run.output).not.toBe(0);
    expect(run.code).not.toBeNull();
    expect(existsSync(join(run.project, "vendor", PRIVATE_PACKAGE))).toBe(false);
    expect(bearerRepo.unauthorizedCount()).toBeGreaterThan(0);
    expect(bearerRepo.authorizedCount()).toBe(0);
  });
});
