import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeLockboxServer } from "../testing/fake-lockbox-server.js";
import { runCli, temporaryDirectory } from "../testing/test-io.js";

const RUNTIME_TOKEN = `lbr_${"r".repeat(43)}`;
const USER_TOKEN = `lbx_${"u".repeat(43)}`;

/** A `GET /site/secrets` answer holding API_KEY = `value`. */
function runtimeSet(value: string) {
  return {
    body: {
      SiteID: "00000000-0000-4000-8000-000000000001",
      Environment: "live",
      Secrets: { API_KEY: { Type: "runtime", Value: value, Scopes: ["web"] } },
      Count: 1,
      Version: "v1",
      Scopes: ["web"],
    },
  };
}

describe("runtime:get", () => {
  let saved: FakeLockboxServer;
  let explicit: FakeLockboxServer;
  let config: Awaited<ReturnType<typeof temporaryDirectory>>;
  beforeEach(async () => {
    saved = await FakeLockboxServer.start();
    explicit = await FakeLockboxServer.start();
    saved.on("GET", "/site/secrets", runtimeSet("from-saved-server"));
    explicit.on("GET", "/site/secrets", runtimeSet("from-LOCKBOX_URL"));
    config = await temporaryDirectory();
    // What auth:login saves.
    await writeFile(join(config.path, "config.json"), JSON.stringify({ url: saved.url, token: USER_TOKEN }), {
      mode: 0o600,
    });
  });
  afterEach(async () => {
    await Promise.all([saved.close(), explicit.close(), config.remove()]);
  });

  it("reads from the server saved by auth:login when LOCKBOX_URL is not set", async () => {
    const result = await runCli(["runtime:get", "API_KEY"], {
      env: { LOCKBOX_RUNTIME_TOKEN: RUNTIME_TOKEN },
      configDir: config.path,
    });
    expect(result).toEqual({ code: 0, stdout: "from-saved-server", stderr: "" });
    // With the runtime token, never the saved user token.
    expect(saved.requests[0]?.headers.authorization).toBe(`Bearer ${RUNTIME_TOKEN}`);
  });

  it("lets LOCKBOX_URL win over the saved server", async () => {
    const result = await runCli(["runtime:get", "API_KEY"], {
      env: { LOCKBOX_URL: explicit.url, LOCKBOX_RUNTIME_TOKEN: RUNTIME_TOKEN },
      configDir: config.path,
    });
    expect(result).toEqual({ code: 0, stdout: "from-LOCKBOX_URL", stderr: "" });
    expect(saved.requests).toHaveLength(0);
  });

  it("does not read the saved login in local mode (LOCKBOX_SECRETS_FILE)", async () => {
    await writeFile(join(config.path, "config.json"), "not json", { mode: 0o600 });
    const file = join(config.path, "secrets.json");
    await writeFile(
      file,
      JSON.stringify({
        EntityType: "sites",
        EntityId: "00000000-0000-4000-8000-000000000001",
        Secrets: {
          API_KEY: { Type: "runtime", Value: "from-file", Scopes: ["web"], EnvValues: {}, OrgValues: {} },
        },
      }),
    );
    const result = await runCli(["runtime:get", "API_KEY"], {
      env: { LOCKBOX_SECRETS_FILE: file },
      configDir: config.path,
    });
    expect(result).toEqual({ code: 0, stdout: "from-file", stderr: "" });
  });

  it("says what to set when there is neither LOCKBOX_URL nor a saved login (exit 2)", async () => {
    const result = await runCli(["runtime:get", "API_KEY"], {
      env: { LOCKBOX_RUNTIME_TOKEN: RUNTIME_TOKEN },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Lockbox is not configured: set LOCKBOX_URL.");
  });
});
