import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRuntimeClient } from "@lockbox/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { newMasterKey, type ServerProcess, spawnCollecting, startServerProcess, tempDir } from "./harness.js";

/** The SDK as an application imports it: its built entry point. */
const SDK = fileURLToPath(new URL("../../../sdk/dist/index.js", import.meta.url));

/** A real server process with one site, one secret and a runtime token for it. */
async function serverWithSite(dir: string, env: Record<string, string>, args: string[] = []) {
  const server = await startServerProcess({ cwd: dir, env, args: ["--rate-limit", "0", ...args] });
  const admin = server.adminToken as string;
  const api = async (method: string, path: string, body?: unknown, on: ServerProcess = server) => {
    const response = await fetch(`${on.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  await api("POST", "/v1/orgs", { name: "org-w" });
  await api("POST", "/v1/sites", { name: "site-w", org: "org-w" });
  await api("PUT", "/v1/sites/site-w/secrets/API_KEY", { value: "v0", scopes: "web" });
  const { token } = await api("POST", "/v1/tokens", { kind: "runtime", site: "site-w", env: "live" });
  return { server, api, runtimeToken: token as string };
}

describe("blocking reads and watching, against a real server process", () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("answers every held read 304 at once on SIGTERM, then exits", async () => {
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const { server, runtimeToken } = await serverWithSite(dir.path, { LOCKBOX_MASTER_KEY: newMasterKey() });
    cleanups.push(() => server.stop("SIGKILL"));
    const first = await fetch(`${server.url}/site/secrets`, {
      headers: { authorization: `Bearer ${runtimeToken}` },
    });
    const etag = first.headers.get("etag") as string;
    const holding = [1, 2, 3].map(() =>
      fetch(`${server.url}/site/secrets?wait=120`, {
        headers: { authorization: `Bearer ${runtimeToken}`, "if-none-match": etag },
      }).then((response) => ({ status: response.status, at: performance.now() })),
    );
    // Held, not answered: nothing comes back for a while.
    const early = await Promise.race([
      Promise.all(holding),
      new Promise((resolve) => setTimeout(() => resolve("held"), 500)),
    ]);
    expect(early).toBe("held");
    const termAt = performance.now();
    const exited = server.stop("SIGTERM");
    const answers = await Promise.all(holding);
    for (const answer of answers) {
      expect(answer.status).toBe(304);
      expect(answer.at - termAt).toBeLessThan(1000);
    }
    expect(await exited).toBe(0);
    expect(performance.now() - termAt).toBeLessThan(5000);
  });

  it("the SDK's watch sees a change within a second with a TTL of an hour, and through a server restart", async () => {
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const env = { LOCKBOX_MASTER_KEY: newMasterKey() };
    const first = await serverWithSite(dir.path, env);
    let server = first.server;
    cleanups.push(() => server.stop("SIGKILL"));
    const changes: string[] = [];
    const client = createRuntimeClient({
      url: server.url,
      token: first.runtimeToken,
      ttlSeconds: 3600,
      watch: true,
      onChange: (all) => changes.push(all.API_KEY as string),
    });
    cleanups.push(() => client.close());
    const until = async (value: string, ms: number) => {
      const start = performance.now();
      while (!changes.includes(value)) {
        if (performance.now() - start > ms)
          throw new Error(`the watch never saw ${value}: ${changes.join(", ")}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return performance.now() - start;
    };
    expect(await client.getSecret("API_KEY")).toBe("v0");
    await until("v0", 5000);
    // Give the watch's blocking read time to be held.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await first.api("PUT", "/v1/sites/site-w/secrets/API_KEY", { value: "v1", scopes: "web" });
    expect(await until("v1", 1000)).toBeLessThan(1000);
    expect(await client.getSecret("API_KEY")).toBe("v1");

    // A restart on the same port and data: the held read ends (304 at SIGTERM), the next ones fail
    // until the server is back; the set held is served meanwhile.
    const port = new URL(server.url).port;
    expect(await server.stop("SIGTERM")).toBe(0);
    expect(await client.getSecret("API_KEY")).toBe("v1");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    server = await startServerProcess({ cwd: dir.path, env, args: ["--rate-limit", "0", "--port", port] });
    await first.api("PUT", "/v1/sites/site-w/secrets/API_KEY", { value: "v2", scopes: "web" }, server);
    // The backoff after the failed reads is at most 4 s with jitter at this point.
    await until("v2", 8000);
    expect(await client.getSecret("API_KEY")).toBe("v2");
  }, 60_000);

  it("a script that only calls watchSecrets gets its first set, then exits by itself", async () => {
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const { server, runtimeToken } = await serverWithSite(dir.path, { LOCKBOX_MASTER_KEY: newMasterKey() });
    cleanups.push(() => server.stop("SIGKILL"));
    // Nothing else keeps this process alive: no timer, no server, no await.
    const script = join(dir.path, "watch-only.mjs");
    writeFileSync(
      script,
      `import { watchSecrets } from ${JSON.stringify(SDK)};\nwatchSecrets((all) => console.log("onChange", all.API_KEY));\n`,
    );
    const startedAt = performance.now();
    const { child, stdout, stderr } = spawnCollecting([process.execPath, script], dir.path, {
      LOCKBOX_URL: server.url,
      LOCKBOX_RUNTIME_TOKEN: runtimeToken,
    });
    cleanups.push(() => child.exitCode === null && child.kill("SIGKILL"));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect({ code, stdout: stdout(), stderr: stderr() }).toEqual({
      code: 0,
      stdout: "onChange v0\n",
      stderr: "",
    });
    // Exited once the first set was delivered, not after its 90 s blocking read.
    expect(performance.now() - startedAt).toBeLessThan(10_000);
  });
});
