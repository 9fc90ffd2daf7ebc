import { execFile } from "node:child_process";
import {
  copyFileSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectSuccess, lastLine } from "./e2e-fixtures.js";
import { runCli, type ServerProcess, startServerProcess, tempDir } from "./harness.js";

const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const PACKAGES = ["core", "server", "sdk", "cli"] as const;
/** The web dashboard: built static files, which the installed server serves at /ui/. */
const WEB = "@lockbox/web";

/** What `npm pack --json` says of one tarball. */
interface Packed {
  readonly name: string;
  readonly filename: string;
  readonly files: readonly { path: string }[];
}

/**
 * npm as a user runs it, without the `npm_*` variables of the `npm test` this may run under (they
 * would point the inner npm at this checkout).
 */
async function npm(args: string[], cwd: string): Promise<string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  const { stdout } = await promisify(execFile)("npm", args, {
    cwd,
    env: { ...env, npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" },
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

const manifest = (dir: string) =>
  JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    name: string;
    version: string;
    dependencies?: Record<string, string>;
  };

/**
 * Installing Lockbox outside the checkout, as the README says: `npm pack --workspaces`, then the SDK
 * tarball alone into an application, and the five tarballs as a global install (into a temporary
 * prefix) for the `lockbox` CLI with its server. Both run from there: the installed server on a
 * fresh folder, and the installed SDK reading a secret from it.
 */
describe("installing from packed tarballs, outside the checkout", () => {
  let tmp: ReturnType<typeof tempDir>;
  let packs: string;
  let app: string;
  let lockbox: string[];
  let packed: Packed[] = [];
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    tmp = tempDir("lockbox-install-");
    packs = join(tmp.path, "packs");
    app = join(tmp.path, "app");
    const prefix = join(tmp.path, "global");
    lockbox = [join(prefix, "bin", "lockbox")];
    mkdirSync(packs);
    packed = JSON.parse(
      await npm(["pack", "--workspaces", "--pack-destination", packs, "--json"], REPO_ROOT),
    );
    const tarball = (name: string) => join(packs, packed.find((p) => p.name === name)?.filename ?? name);

    mkdirSync(app);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "my-app", private: true, type: "module" }),
    );
    await npm(["install", "--prefer-offline", tarball("@lockbox/sdk")], app);

    // The documented global install, into a temporary prefix. Its one native addon is not compiled
    // here (a minute or more, and the same for any package): the checkout's build of that very
    // version is put in place, so the test checks Lockbox's packages, in seconds.
    await npm(
      ["install", "--global", "--prefix", prefix, "--prefer-offline", "--ignore-scripts"].concat(
        // In the order of the README's `*.tgz`.
        [...PACKAGES.map((name) => tarball(`@lockbox/${name}`)), tarball(WEB)].sort(),
      ),
      tmp.path,
    );
    const installedServer = join(prefix, "lib", "node_modules", "@lockbox", "server");
    const installed = dirname(
      createRequire(join(installedServer, "x.js")).resolve("better-sqlite3/package.json"),
    );
    const checkout = dirname(
      createRequire(join(REPO_ROOT, "packages", "server", "x.js")).resolve("better-sqlite3/package.json"),
    );
    expect(manifest(installed).version).toBe(manifest(checkout).version);
    mkdirSync(join(installed, "build", "Release"), { recursive: true });
    copyFileSync(
      join(checkout, "build", "Release", "better_sqlite3.node"),
      join(installed, "build", "Release", "better_sqlite3.node"),
    );
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
    tmp?.cleanup();
  });

  it("packs each package with what it runs and nothing else: no sources, tests, testing helpers or contracts", () => {
    expect(packed.map((p) => p.name).sort()).toEqual(
      [...PACKAGES.map((name) => `@lockbox/${name}`), WEB].sort(),
    );
    const web = packed.find((p) => p.name === WEB)?.files.map((file) => file.path) ?? [];
    expect(web).toContain("dist/index.html");
    expect(
      web.filter(
        (path) => !/^(dist\/(index\.html|favicon\.svg|assets\/[\w-]+\.(js|css))|package\.json)$/.test(path),
      ),
    ).toEqual([]);
    for (const { name, files } of packed.filter((p) => p.name !== WEB)) {
      const paths = files.map((file) => file.path);
      expect(paths, name).toContain("package.json");
      expect(paths, name).toContain("dist/index.js");
      expect(paths, name).toContain("dist/index.d.ts");
      expect(
        paths.filter(
          (path) => !/^(dist\/.+\.(js|d\.ts)(\.map)?|package\.json|README\.md|bin\/lockbox\.js)$/.test(path),
        ),
        name,
      ).toEqual([]);
      expect(
        paths.filter((path) => /\.test\.|\.contract\.|(^|\/)(testing|e2e)\//.test(path)),
        name,
      ).toEqual([]);
    }
    const cli = packed.find((p) => p.name === "@lockbox/cli")?.files.map((file) => file.path);
    expect(cli).toContain("bin/lockbox.js");
    expect(cli).toContain("dist/main.js");
    // The server's migrations are code, so they travel in dist.
    expect(packed.find((p) => p.name === "@lockbox/server")?.files.map((file) => file.path)).toContain(
      "dist/db/migrations.js",
    );
  });

  it("depends between packages on real versions, which the tarballs satisfy", () => {
    const versions = new Map(
      PACKAGES.map((name) => [`@lockbox/${name}`, manifest(join(REPO_ROOT, "packages", name)).version]),
    );
    for (const name of PACKAGES) {
      const { dependencies = {} } = manifest(join(REPO_ROOT, "packages", name));
      for (const [dependency, range] of Object.entries(dependencies)) {
        if (versions.has(dependency)) expect(range, `${name} → ${dependency}`).toBe(versions.get(dependency));
      }
    }
    expect(manifest(join(REPO_ROOT, "packages", "sdk")).dependencies ?? {}).toEqual({});
  });

  it("installs the SDK into an application as a copy of its own, with no other package", () => {
    const sdk = join(app, "node_modules", "@lockbox", "sdk");
    expect(lstatSync(sdk).isSymbolicLink()).toBe(false);
    expect(readdirSync(join(app, "node_modules")).filter((entry) => !entry.startsWith("."))).toEqual([
      "@lockbox",
    ]);
    expect(readdirSync(join(app, "node_modules", "@lockbox"))).toEqual(["sdk"]);
    expect(manifest(sdk).version).toBe(manifest(join(REPO_ROOT, "packages", "sdk")).version);
  });

  it("type-checks an application against @lockbox/sdk/runtime without @lockbox/core, library checks on", async () => {
    const check = (entry: string) => {
      const folder = join(app, `types-${entry.replaceAll("/", "-")}`);
      mkdirSync(folder);
      writeFileSync(
        join(folder, "check.ts"),
        [
          `import { createRuntimeClient, getSecret, watchSecrets } from "${entry}";`,
          'const key: string | null = await getSecret("API_KEY");',
          "const client = createRuntimeClient({ watch: true });",
          "const stop = watchSecrets((secrets) => console.log(Object.keys(secrets), key));",
          "client.close();",
          "stop.close();",
        ].join("\n"),
      );
      writeFileSync(
        join(folder, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            module: "nodenext",
            target: "es2022",
            noEmit: true,
            // TypeScript's default: every declaration file loaded is checked.
            skipLibCheck: false,
            types: ["node"],
            typeRoots: [join(REPO_ROOT, "node_modules", "@types")],
          },
          files: ["check.ts"],
        }),
      );
      const tsc = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
      return promisify(execFile)(process.execPath, [tsc, "-p", folder]).then(
        () => "",
        (error: { stdout?: string }) => error.stdout ?? String(error),
      );
    };
    expect(await check("@lockbox/sdk/runtime")).toBe("");
    // The package's main entry declares the management client too, whose wire types are core's.
    expect(await check("@lockbox/sdk")).toContain("Cannot find module '@lockbox/core'");
  }, 120_000);

  it("installs the CLI with its server globally: lockbox --version", async () => {
    const version = expectSuccess(await runCli(["--version"], { command: lockbox, cwd: tmp.path }));
    expect(version.stdout.trim()).toBe(manifest(join(REPO_ROOT, "packages", "cli")).version);
  });

  it("runs the installed server on a fresh folder, and the installed SDK reads a secret from it", async () => {
    const run = join(tmp.path, "run");
    mkdirSync(run);
    server = await startServerProcess({ cwd: run, command: [...lockbox, "server:start"] });
    expect(server.adminToken).toBeDefined();
    // The installed server finds the installed dashboard.
    const dashboard = await fetch(`${server.url}/ui/`);
    expect([dashboard.status, await dashboard.text()]).toEqual([200, expect.stringContaining("/ui/assets/")]);
    const cli = (args: string[], input?: string) =>
      runCli(args, {
        command: lockbox,
        cwd: run,
        env: { HOME: run, XDG_CONFIG_HOME: join(run, "config") },
        ...(input === undefined ? {} : { input }),
      });
    expectSuccess(await cli(["auth:login", "--url", server.url], `${server.adminToken}\n`));
    expectSuccess(await cli(["org:create", "my-org"]));
    expectSuccess(await cli(["site:create", "my-org-site", "--org=my-org"]));
    expectSuccess(await cli(["secret:site:set", "my-org-site", "API_KEY", "s3cr3t", "--scope=web,user"]));
    const token = lastLine(expectSuccess(await cli(["token:runtime:create", "my-org-site.live"])));

    writeFileSync(
      join(app, "read.mjs"),
      [
        'import { createRuntimeClient } from "@lockbox/sdk";',
        "const client = createRuntimeClient();",
        "console.log(JSON.stringify({",
        '  from: import.meta.resolve("@lockbox/sdk"),',
        '  API_KEY: await client.getSecret("API_KEY"),',
        '  MISSING: await client.getSecret("MISSING"),',
        "}));",
      ].join("\n"),
    );
    const { stdout } = await promisify(execFile)(process.execPath, ["read.mjs"], {
      cwd: app,
      env: { PATH: process.env.PATH ?? "", LOCKBOX_URL: server.url, LOCKBOX_RUNTIME_TOKEN: token },
    });
    const read = JSON.parse(stdout) as { from: string; API_KEY: string | null; MISSING: string | null };
    expect(read.from.startsWith(pathToFileURL(realpathSync(app)).href)).toBe(true);
    expect(read).toMatchObject({ API_KEY: "s3cr3t", MISSING: null });
  }, 120_000);
});
