import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeLockboxServer } from "../testing/fake-lockbox-server.js";
import { runCli } from "../testing/test-io.js";

const FILE = {
  EntityType: "sites",
  EntityId: "6f1c1c9e-8f4b-4a52-9d52-0c2c7a0c7d11",
  Secrets: {
    API_KEY: { Type: "runtime", Value: "s3cr3t", Scopes: ["web", "user"], EnvValues: {}, OrgValues: {} },
  },
};

describe("secret:site:local-generate", () => {
  let server: FakeLockboxServer;
  let env: Record<string, string>;
  let dir: string;
  beforeEach(async () => {
    server = await FakeLockboxServer.start();
    server.on("GET", "/v1/sites/my-site/local-secrets", { status: 200, body: FILE });
    env = { LOCKBOX_URL: server.url, LOCKBOX_TOKEN: `lbx_${"d".repeat(43)}` };
    dir = mkdtempSync(join(tmpdir(), "lockbox-local-"));
  });
  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes the file 0600, also over an existing file others could read", async () => {
    const path = join(dir, "secrets.json");
    writeFileSync(path, "x".repeat(10_000), { mode: 0o644 });
    const result = await runCli(["secret:site:local-generate", "my-site", `--filepath=${path}`], { env });
    expect(result).toEqual({
      code: 0,
      stdout: "",
      stderr:
        `Secrets file written to: ${path}. Please review this file and adjust accordingly for your local usage.\n` +
        `Warning: ${path} was there already: it was replaced, with any edits made to it.\n`,
    });
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    // A new file: no warning.
    const fresh = join(dir, "fresh.json");
    const first = await runCli(["secret:site:local-generate", "my-site", `--filepath=${fresh}`], { env });
    expect(first.stderr).not.toContain("Warning");
  });

  it("says which path it cannot write, and how to fix it (exit 1)", async () => {
    const path = join(dir, "missing", "secrets.json");
    const result = await runCli(["secret:local-generate", "my-site", `--filepath=${path}`], { env });
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr: `Error: Cannot write ${path} (ENOENT): check that its folder exists and is writable, or choose another --filepath.\n`,
    });
  });
});
