import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../testing/test-app.js";
import { TestClock } from "../testing/test-clock.js";
import { contractDatabases } from "../testing/test-databases.js";

const DAY_MS = 86_400_000;
const FORMAT = "use a whole number of minutes, hours or days such as 30m, 12h, 7d or 90d, from 1m to 365d.";

describe.each(await contractDatabases())("token expiry over HTTP ($name)", ({ create }) => {
  let t: TestApp;
  let drop: () => Promise<void>;
  const clock = new TestClock();
  const admin = () => ({ token: t.adminToken });
  const mint = (body: Record<string, unknown>, token = t.adminToken) =>
    t.call("POST", "/v1/tokens", { token, body });

  beforeAll(async () => {
    const database = await create();
    drop = () => database.drop();
    t = await createTestApp(database, { now: clock.now });
    await t.call("POST", "/v1/orgs", { ...admin(), body: { name: "org-x" } });
    await t.call("POST", "/v1/orgs", { ...admin(), body: { name: "org-y" } });
    await t.call("POST", "/v1/sites", { ...admin(), body: { name: "site-x", org: "org-x" } });
    await t.call("POST", "/v1/sites", { ...admin(), body: { name: "site-y", org: "org-y" } });
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it("POST /v1/tokens takes expiresIn for user, runtime and build tokens; the answer and the listing show expiresAt", async () => {
    const at = (days: number) => new Date(clock.now().getTime() + days * DAY_MS).toISOString();
    const user = await mint({ kind: "user", expiresIn: "90d" });
    const runtime = await mint({ kind: "runtime", site: "site-x", env: "live", expiresIn: "7d" });
    const build = await mint({ kind: "build", site: "site-x", env: "dev", expiresIn: "365d" });
    const forever = await mint({ kind: "runtime", site: "site-x", env: "test" });
    expect([user.status, runtime.status, build.status, forever.status]).toEqual([201, 201, 201, 201]);
    expect([
      user.json.expiresAt,
      runtime.json.expiresAt,
      build.json.expiresAt,
      forever.json.expiresAt,
    ]).toEqual([at(90), at(7), at(365), null]);
    const listed = (await t.call("GET", "/v1/tokens?site=site-x", admin())).json.items as Array<{
      id: string;
      expiresAt: string | null;
    }>;
    expect(listed.find((row) => row.id === runtime.json.id)?.expiresAt).toBe(at(7));
    expect(listed.find((row) => row.id === forever.json.id)?.expiresAt).toBeNull();
  });

  it("a zero, negative, malformed or over-365-day expiresIn is 422 naming the format and the maximum, and mints nothing", async () => {
    const before = (await t.call("GET", "/v1/tokens?site=site-y", admin())).json.items.length;
    for (const expiresIn of ["0d", "-5m", "1.5h", "90", "90 d", "1y", "366d", "never", ""]) {
      for (const body of [
        { kind: "user", expiresIn },
        { kind: "runtime", site: "site-y", env: "live", expiresIn },
        { kind: "build", site: "site-y", env: "dev", expiresIn },
      ]) {
        const response = await mint(body);
        expect(
          [response.status, response.json.error.code, response.json.error.message],
          JSON.stringify(body),
        ).toEqual([422, "VALIDATION_FAILED", `Invalid expiresIn '${expiresIn}': ${FORMAT}`]);
      }
    }
    // Not a string at all is a malformed request.
    for (const expiresIn of [30, null, ["7d"]]) {
      expect((await mint({ kind: "user", expiresIn })).status, JSON.stringify(expiresIn)).toBe(400);
    }
    expect((await t.call("GET", "/v1/tokens?site=site-y", admin())).json.items).toHaveLength(before);
  });

  it("an expired token is 401 on the management API, the runtime endpoint (after a warm read) and the build endpoint", async () => {
    const user = await mint({ kind: "user", expiresIn: "30m" });
    const runtime = await mint({ kind: "runtime", site: "site-y", env: "live", expiresIn: "30m" });
    const build = await mint({ kind: "build", site: "site-y", env: "dev", expiresIn: "30m" });
    expect((await t.call("GET", "/v1/whoami", { token: user.json.token })).json.token.expiresAt).toBe(
      user.json.expiresAt,
    );
    expect((await t.call("GET", "/site/secrets", { token: runtime.json.token })).status).toBe(200);
    expect((await t.call("GET", "/v1/build/secrets", { token: build.json.token })).status).toBe(200);
    await clock.later(30 * 60_000, async () => {
      for (const [url, token] of [
        ["/v1/whoami", user.json.token],
        ["/site/secrets", runtime.json.token],
        ["/v1/build/secrets", build.json.token],
      ]) {
        const response = await t.call("GET", url, { token });
        expect([url, response.status, response.json?.error?.code]).toEqual([url, 401, "UNAUTHENTICATED"]);
      }
    });
  });

  it("a user token made with an expiring token expires no later than it; site tokens are not limited", async () => {
    const session = await mint({ kind: "user", expiresIn: "1h" });
    const limit = session.json.expiresAt as string;
    const token = session.json.token as string;
    // Without expiresIn: the maker's expiry, not "never".
    const inherited = await mint({ kind: "user" }, token);
    expect([inherited.status, inherited.json.expiresAt]).toEqual([201, limit]);
    const shorter = await mint({ kind: "user", expiresIn: "30m" }, token);
    expect([shorter.status, shorter.json.expiresAt]).toEqual([
      201,
      new Date(clock.now().getTime() + 30 * 60_000).toISOString(),
    ]);
    const before = (await t.call("GET", "/v1/tokens", { token })).json.items.length;
    const longer = await mint({ kind: "user", expiresIn: "2h" }, token);
    expect([longer.status, longer.json.error.code]).toEqual([422, "VALIDATION_FAILED"]);
    expect(longer.json.error.message).toContain(`expires at ${limit}`);
    expect(longer.json.error.message).toContain("Use a shorter expiresIn");
    expect((await t.call("GET", "/v1/tokens", { token })).json.items).toHaveLength(before);
    // A runtime token is bound to one site environment and outlives the session that deployed it.
    const runtime = await mint({ kind: "runtime", site: "site-x", env: "live" }, token);
    expect([runtime.status, runtime.json.expiresAt]).toEqual([201, null]);
  });

  /** Reads held now, from /metrics. */
  const held = async () =>
    Number(/^lockbox_held_requests (\d+)$/m.exec((await t.call("GET", "/metrics")).body)?.[1]);
  /** Starts a blocking read of `wait` seconds on a current set; resolves, once it is held, to its answer to come. */
  const holdRead = async (token: string, wait: number) => {
    const etag = (await t.call("GET", "/site/secrets", { token })).headers.etag as string;
    const holding = t.call("GET", `/site/secrets?wait=${wait}`, {
      token,
      headers: { "if-none-match": etag },
    });
    for (let tries = 0; (await held()) !== 1; tries++) {
      if (tries > 100) throw new Error("the read was never held");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return { holding };
  };

  it("a blocking read whose token expires while it is held ends with 401, not 304", async () => {
    const runtime = await mint({ kind: "runtime", site: "site-y", env: "test", expiresIn: "1m" });
    const { holding } = await holdRead(runtime.json.token as string, 1);
    // The wait (1 s) ends after the token's minute has passed.
    await clock.later(2 * 60_000, async () => {
      const answer = await holding;
      expect([answer.status, answer.json?.error?.code]).toEqual([401, "UNAUTHENTICATED"]);
    });
    // A token still valid when its wait ends gets the 304.
    const valid = await mint({ kind: "runtime", site: "site-y", env: "test" });
    const validEtag = (await t.call("GET", "/site/secrets", { token: valid.json.token })).headers.etag;
    const ended = await t.call("GET", "/site/secrets?wait=1", {
      token: valid.json.token,
      headers: { "if-none-match": String(validEtag) },
    });
    expect(ended.status).toBe(304);
  });

  it("a blocking read ends when its token expires, not when its longer wait does", async () => {
    const runtime = await mint({ kind: "runtime", site: "site-y", env: "test", expiresIn: "1m" });
    // Held with 2 s of the token's minute left, for a wait of 300 s.
    await clock.later(58_000, async () => {
      const started = Date.now();
      const { holding } = await holdRead(runtime.json.token as string, 300);
      await clock.later(5_000, async () => {
        const answer = await holding;
        expect([answer.status, answer.json?.error?.code]).toEqual([401, "UNAUTHENTICATED"]);
        expect(Date.now() - started).toBeLessThan(4_000);
        expect(await held()).toBe(0);
      });
    });
  });

  it("removing a member or a team member answers 200 with the message and the tokens they minted that still work", async () => {
    const bob = await t.user("bob@example.com");
    expect(
      (
        await t.call("PUT", "/v1/orgs/org-x/members/bob@example.com", {
          ...admin(),
          body: { role: "member" },
        })
      ).status,
    ).toBe(200);
    const minted = await mint({ kind: "runtime", site: "site-x", env: "live", expiresIn: "90d" }, bob.token);
    const revoked = await mint({ kind: "build", site: "site-x", env: "dev" }, bob.token);
    await t.call("DELETE", `/v1/tokens/${revoked.json.id}`, admin());
    const removed = await t.call("DELETE", "/v1/orgs/org-x/members/bob@example.com", admin());
    expect(removed.status).toBe(200);
    expect(removed.json).toEqual({
      message:
        "User 'bob@example.com' was removed from organization 'org-x'. 1 runtime or build token they created still works: revoke any that should stop.",
      tokensStillActive: [
        {
          id: minted.json.id,
          kind: "runtime",
          user: null,
          site: "site-x",
          environment: "live",
          createdAt: minted.json.createdAt,
          lastUsedAt: null,
          expiresAt: minted.json.expiresAt,
          revokedAt: null,
        },
      ],
    });
    expect(JSON.stringify(removed.json)).not.toContain(minted.json.token.slice(4));

    expect((await t.call("PUT", "/v1/sites/site-y/team/bob@example.com", admin())).status).toBe(204);
    const first = await mint({ kind: "runtime", site: "site-y", env: "test" }, bob.token);
    const second = await mint({ kind: "build", site: "site-y", env: "dev", expiresIn: "12h" }, bob.token);
    const team = await t.call("DELETE", "/v1/sites/site-y/team/bob@example.com", admin());
    expect(team.status).toBe(200);
    expect(team.json.message).toBe(
      "User 'bob@example.com' was removed from the team of site 'site-y'. 2 runtime or build tokens they created still work: revoke any that should stop.",
    );
    expect((team.json.tokensStillActive as Array<{ id: string }>).map((row) => row.id).sort()).toEqual(
      [first.json.id, second.json.id].sort(),
    );
    // Nobody left to list: an empty list and a plain message.
    await t.call("PUT", "/v1/sites/site-y/team/bob@example.com", admin());
    await t.call("DELETE", `/v1/tokens/${first.json.id}`, admin());
    await t.call("DELETE", `/v1/tokens/${second.json.id}`, admin());
    expect((await t.call("DELETE", "/v1/sites/site-y/team/bob@example.com", admin())).json).toEqual({
      message: "User 'bob@example.com' was removed from the team of site 'site-y'.",
      tokensStillActive: [],
    });
  });
});
