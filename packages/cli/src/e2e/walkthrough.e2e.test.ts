import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type E2eServer,
  e2eDatabases,
  expectNoSecretsIn,
  expectSuccess,
  json,
  lastLine,
  startE2eServer,
  tableRows,
} from "./e2e-fixtures.js";
import { runCli, startServerProcess } from "./harness.js";

const REPO_ROOT = new URL("../../../../", import.meta.url);
const README = readFileSync(new URL("README.md", REPO_ROOT), "utf8");

/** The `sh` code blocks of the README's section `heading`. */
function readmeBlocks(heading: string): string[] {
  const start = README.indexOf(`\n${heading}\n`);
  expect(start, `README section ${heading}`).toBeGreaterThan(-1);
  const section = README.slice(start + heading.length + 2).split(/\n#{1,3} /)[0] ?? "";
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] ?? "");
}

/** Runs shell `script` as a build would (`sh`), from the checkout, where `npx lockbox` is found. */
function runShell(script: string, env: Record<string, string>): ReturnType<typeof runCli> {
  return runCli([], {
    command: ["sh", "-c", script],
    cwd: fileURLToPath(REPO_ROOT),
    env: { npm_config_update_notifier: "false", ...env },
  });
}

/** A TCP port free right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

/** The values this suite stores: none may ever reach the server's request log. */
const VALUES = ["s3cr3t", "org-value", "live-value", "hunter22", "npm-s3cr3t"];

/**
 * A newcomer's first run, as the README's walk-through and the server's banner tell it: a fresh
 * folder, the admin token taken from the server's stdout, `auth:login` with the token on stdin,
 * then the first organization, site and secrets — and the server's life cycle around it.
 *
 * SQLite and PostgreSQL run side by side, each with its own server; the tests of each run in order.
 */
describe.concurrent.each(await e2eDatabases())("on $name", (database) => {
  describe.sequential("a newcomer's first run", () => {
    let e2e: E2eServer;
    /** The CLI as the newcomer runs it: logged in through the config file, no LOCKBOX_* variables. */
    let lockbox: (args: string[], input?: string) => ReturnType<typeof runCli>;
    let configHome: string;

    beforeAll(async () => {
      e2e = await startE2eServer(database);
      configHome = join(e2e.dir, "config");
      lockbox = (args, input) =>
        runCli(args, {
          cwd: e2e.dir,
          env: { HOME: e2e.dir, XDG_CONFIG_HOME: configHome },
          ...(input === undefined ? {} : { input }),
        });
    });
    afterAll(async () => {
      await e2e?.close();
    });

    it("prints the admin token once and the next commands to type, which npm start runs", () => {
      const banner = e2e.server.stdout();
      expect(banner).toContain(`Lockbox is listening on ${e2e.server.url}`);
      expect(banner.split(e2e.adminToken)).toHaveLength(2);
      expect(banner).toContain(`npx lockbox auth:login --url ${e2e.server.url}`);
      for (const command of ["org:create", "site:create", "secret:site:set", "secret:site:list"]) {
        expect(banner).toContain(`npx lockbox ${command} `);
      }
      if (database.name === "sqlite") {
        expect(banner).toContain("(SQLite: ./data/lockbox.db)");
        expect(banner).toMatch(/Created the master key .*master\.key \(mode 0600\)/);
        expect(statSync(join(e2e.dir, "data", "master.key")).mode & 0o777).toBe(0o600);
      }
      // `npm start` is this same entry point.
      const rootPackage = JSON.parse(readFileSync(new URL("package.json", REPO_ROOT), "utf8")) as {
        scripts: Record<string, string>;
      };
      expect(rootPackage.scripts.start).toContain("node packages/cli/bin/lockbox.js server:start");
    });

    it("runs the banner's next commands as printed, logging in with the token on stdin (config file 0600)", async () => {
      const commands = e2e.server
        .stdout()
        .split("\n")
        .map((line) => /^\s+npx lockbox (\S.*?)(?:\s{2,}\(.*\))?$/.exec(line)?.[1])
        .filter((command) => command !== undefined);
      expect(commands.map((command) => command.split(" ")[0])).toEqual([
        "auth:login",
        "org:create",
        "site:create",
        "secret:site:set",
        "secret:site:list",
      ]);
      const results = [];
      for (const command of commands) {
        const args = command.split(/\s+/);
        results.push(
          expectSuccess(await lockbox(args, args[0] === "auth:login" ? `${e2e.adminToken}\n` : "")),
        );
      }
      const [login, org, site, set, list] = results;
      const configFile = join(configHome, "lockbox", "config.json");
      expect(login?.stderr).toBe(
        `Logged in to ${e2e.server.url} as admin@localhost. Saved to ${configFile}.\n`,
      );
      expect(statSync(configFile).mode & 0o777).toBe(0o600);
      expect(statSync(join(configHome, "lockbox")).mode & 0o777).toBe(0o700);
      expect(JSON.parse(readFileSync(configFile, "utf8"))).toEqual({
        url: e2e.server.url,
        token: e2e.adminToken,
      });
      expect(org?.stderr).toContain("Organization 'my-org' created.");
      expect(site?.stderr).toBe("Site 'my-org-site' created with environments dev, test and live.\n");
      expect(set?.stderr).toBe("Secret successfully set.\n");
      expect(tableRows(list?.stdout ?? "")).toEqual([
        ["name", "type", "value", "scopes"],
        ["API_KEY", "runtime", "s3cr3t", "web, user"],
      ]);
    });

    it("follows the README: an org secret, a live override and a secret without user scope shown [REDACTED]", async () => {
      for (const args of [
        ["secret:org:set", "my-org", "SHARED_KEY", "org-value", "--scope=web,user"],
        ["secret:site:set", "my-org-site.live", "API_KEY", "live-value"],
        ["secret:site:set", "my-org-site", "DB_PASSWORD", "hunter22", "--scope=web"],
      ]) {
        expect(expectSuccess(await lockbox(args)).stderr).toBe("Secret successfully set.\n");
      }
      const list = expectSuccess(await lockbox(["secret:site:list", "my-org-site"]));
      // Exactly the table the README shows.
      expect(list.stdout.replace(/[ ]+\n/g, "\n")).toBe(
        [
          " ------------- --------- ------------ -----------",
          "  name          type      value        scopes",
          " ------------- --------- ------------ -----------",
          "  API_KEY       runtime   s3cr3t       web, user",
          "  DB_PASSWORD   runtime   [REDACTED]   web",
          "  SHARED_KEY    runtime   org-value    web, user",
          " ------------- --------- ------------ -----------",
          "",
        ].join("\n"),
      );
      expect(list.stderr).toBe("");

      const all = expectSuccess(await lockbox(["secret:site:list", "my-org-site", "--fields=*"]));
      expect(tableRows(all.stdout)).toEqual([
        ["name", "type", "value", "scopes", "env-values", "org-values", "owner"],
        ["API_KEY", "runtime", "s3cr3t", "web, user", "live=live-value", "", "site"],
        ["DB_PASSWORD", "runtime", "[REDACTED]", "web", "", "", "site"],
        ["SHARED_KEY", "runtime", "org-value", "web, user", "", "default=org-value", "org"],
      ]);
      const live = expectSuccess(await lockbox(["secret:site:list", "my-org-site.live"]));
      expect(tableRows(live.stdout)).toEqual([
        ["name", "type", "value", "scopes"],
        ["API_KEY", "runtime", "live-value", "web, user"],
      ]);
      const resolved = json(await lockbox(["secret:site:resolve", "my-org-site.live", "--format=json"]));
      expect(resolved).toEqual({
        API_KEY: {
          name: "API_KEY",
          type: "runtime",
          scopes: ["web", "user"],
          value: "live-value",
          source: "site-override",
        },
        DB_PASSWORD: { name: "DB_PASSWORD", type: "runtime", scopes: ["web"], value: null, source: "site" },
        SHARED_KEY: {
          name: "SHARED_KEY",
          type: "runtime",
          scopes: ["web", "user"],
          value: "org-value",
          source: "org",
        },
      });
    });

    // One database is enough: the build forms and npm start do not depend on the store.
    if (database.name === "sqlite") {
      it("runs the README's build forms: the build gets its secrets, and neither runs it when Lockbox cannot read them", async () => {
        const [setup, ...forms] = readmeBlocks("### Builds");
        let token = "";
        for (const line of (setup ?? "").split("\n").filter((line) => line.trim() !== "")) {
          const command = line.replace(/\s+#.*$/, "");
          expect(command.startsWith("npx lockbox ")).toBe(true);
          token = lastLine(expectSuccess(await lockbox(command.slice("npx lockbox ".length).split(/\s+/))));
        }
        expect(token).toMatch(/^lbb_/);
        expect(forms.map((form) => /npx lockbox (build:\S+)/.exec(form)?.[1])).toEqual([
          "build:run",
          "build:env",
        ]);
        // Composer's place is taken by a command that says what the build got.
        const probe = `sh -c 'echo "built with NPM_TOKEN=\${NPM_TOKEN:-none}"'`;
        const scripts = forms.map((form) => {
          expect(form).toContain("composer install --no-interaction");
          return form.replaceAll("composer install --no-interaction", probe);
        });
        // The build's own environment: no login (the walk-through's is in XDG_CONFIG_HOME), only what
        // a build is given.
        const build = { HOME: e2e.dir, LOCKBOX_URL: e2e.server.url };
        const wrongToken = `lbb_${randomBytes(32).toString("base64url")}`;
        for (const [index, script] of scripts.entries()) {
          const good = await runShell(script, { ...build, LOCKBOX_BUILD_TOKEN: token });
          expect(good.code, good.stderr).toBe(0);
          // build:run masks the value in the build's output; build:env leaves the shell to the build.
          expect(good.stdout).toContain(`built with NPM_TOKEN=${index === 0 ? "***" : "npm-s3cr3t"}`);
          const wrong = await runShell(script, { ...build, LOCKBOX_BUILD_TOKEN: wrongToken });
          expect(wrong.code, wrong.stderr).not.toBe(0);
          expect(wrong.stdout + wrong.stderr).not.toContain("built with");
        }
        // No token at all (the case `eval "$(…)"` hid): lockbox's usage error, and no build.
        const missing = await runShell(scripts[1] ?? "", build);
        expect(missing.code, missing.stderr).toBe(2);
        expect(missing.stderr).toContain("set LOCKBOX_BUILD_TOKEN");
        expect(missing.stdout + missing.stderr).not.toContain("built with");
      }, 180_000);

      it("starts with npm start on the port the README shows how to choose, and stops on SIGTERM", async () => {
        expect(/^npm start -- --port=\d+/m.test(README)).toBe(true);
        const port = await freePort();
        const dir = join(e2e.dir, "npm-start");
        mkdirSync(dir);
        const started = await startServerProcess({
          cwd: fileURLToPath(REPO_ROOT),
          command: ["npm", "start", "--"],
          args: [`--port=${port}`, `--db=${join(dir, "lockbox.db")}`],
          env: { HOME: dir, npm_config_update_notifier: "false" },
          startTimeoutMs: 60_000,
        });
        try {
          expect(started.url).toBe(`http://127.0.0.1:${port}`);
          expect((await fetch(`${started.url}/healthz`)).status).toBe(200);
        } finally {
          await started.stop("SIGTERM");
        }
        // npm passed the signal to the server itself (exec), which shut down rather than lingering.
        expect(started.stderr()).toContain("Received SIGTERM");
        await expect(fetch(`${started.url}/healthz`)).rejects.toThrow();
      }, 90_000);

      it("refuses a second server on the same SQLite file while the first runs, saying why", async () => {
        const second = startServerProcess({ cwd: e2e.dir, env: e2e.serverEnv });
        await expect(second).rejects.toThrow(
          /exited with 1 before listening[\s\S]*Another Lockbox server \(pid \d+\) is already using the SQLite database '\.\/data\/lockbox\.db'/,
        );
        // The first one still serves.
        expectSuccess(await lockbox(["auth:whoami"]));
      });
    }

    it("stops on SIGTERM with exit code 0, and a restarted server keeps every write and the login", async () => {
      expect(await e2e.server.stop("SIGTERM")).toBe(0);
      expect(e2e.server.stderr()).toContain("Received SIGTERM: finishing requests and closing the store");
      expectNoSecretsIn(e2e.server.stderr(), VALUES);
      expect(e2e.server.stderr()).toContain('"path":"/v1/sites/my-org-site/secrets"');

      const again = await startServerProcess({ cwd: e2e.dir, env: e2e.serverEnv });
      try {
        expect(again.adminToken).toBeUndefined();
        expect(again.stdout()).toContain(`Log in with: npx lockbox auth:login --url ${again.url}`);
        // Same folder, same saved login's token; only the port is new. The saved token is not sent
        // to another URL on its own: it is given as LOCKBOX_TOKEN.
        const savedEnv = { HOME: e2e.dir, XDG_CONFIG_HOME: configHome, LOCKBOX_URL: again.url };
        const refused = await runCli(["org:list"], { cwd: e2e.dir, env: savedEnv });
        expect([refused.code, refused.stderr]).toEqual([
          2,
          expect.stringContaining(
            `LOCKBOX_URL (${again.url}) is not the server of your login (${e2e.server.url})`,
          ),
        ]);
        const saved = JSON.parse(readFileSync(join(configHome, "lockbox", "config.json"), "utf8")) as {
          token: string;
        };
        const list = json(
          await runCli(["secret:site:list", "my-org-site", "--format=json", "--fields=name,value"], {
            cwd: e2e.dir,
            env: { ...savedEnv, LOCKBOX_TOKEN: saved.token },
          }),
        );
        expect(list).toEqual({
          API_KEY: { name: "API_KEY", value: "s3cr3t" },
          DB_PASSWORD: { name: "DB_PASSWORD", value: null },
          SHARED_KEY: { name: "SHARED_KEY", value: "org-value" },
          // The build secret of the README's build forms (no user scope).
          ...(database.name === "sqlite" ? { NPM_TOKEN: { name: "NPM_TOKEN", value: null } } : {}),
        });
      } finally {
        expect(await again.stop()).toBe(0);
      }
    });
  });
});
