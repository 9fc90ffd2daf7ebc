import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../testing/test-app.js";
import { TestClock } from "../testing/test-clock.js";
import { contractDatabases } from "../testing/test-databases.js";
import { hashToken } from "../tokens/token-format.js";

const MINUTE_MS = 60_000;
const INVALID = /invalid, expired or already used: run 'lockbox ui'/;

describe.each(await contractDatabases())("dashboard sign-in links ($name)", ({ create }) => {
  let t: TestApp;
  let drop: () => Promise<void>;
  const clock = new TestClock();
  let alice: { email: string; token: string };
  let bob: { email: string; token: string };
  const link = async (token: string) => {
    const answer = await t.call("POST", "/v1/ui/links", { token });
    expect(answer.status).toBe(201);
    return answer.json.secret as string;
  };
  const exchange = (secret: unknown) => t.call("POST", "/v1/ui/sessions", { body: { secret } });
  const expectInvalid = (answer: { status: number; json: { error: { message: string } } }) => {
    expect(answer.status).toBe(401);
    expect(answer.json.error.message).toMatch(INVALID);
  };

  beforeAll(async () => {
    const database = await create();
    drop = () => database.drop();
    t = await createTestApp(database, { now: clock.now });
    alice = await t.user("alice@example.com");
    bob = await t.user("bob@example.com");
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it("a link is exchanged once for a 12-hour user token of its user, listed by token:list and audited", async () => {
    const secret = await link(alice.token);
    expect(secret).toMatch(/^lbs_[A-Za-z0-9_-]{43}$/);
    const session = await exchange(secret);
    expect(session.status).toBe(201);
    expect(session.headers["cache-control"]).toBe("no-store");
    expect(session.json).toMatchObject({ kind: "user", user: "alice@example.com" });
    expect(Date.parse(session.json.expiresAt) - clock.now().getTime()).toBe(12 * 60 * MINUTE_MS);
    const whoami = await t.call("GET", "/v1/whoami", { token: session.json.token });
    expect(whoami.json.user.email).toBe("alice@example.com");
    const listed = await t.call("GET", "/v1/tokens", { token: alice.token });
    expect(listed.json.items.map((row: { id: string }) => row.id)).toContain(session.json.id);

    const again = await exchange(secret);
    expect(again.status).toBe(401);
    expect(again.json.error.message).toMatch(INVALID);

    const audit = await t.call("GET", "/v1/audit?limit=100", { token: t.adminToken });
    const actions = audit.json.items.map((event: { action: string }) => event.action);
    expect(actions).toEqual(expect.arrayContaining(["ui.link.create", "ui.signin"]));
    expect(JSON.stringify(audit.json)).not.toContain(secret);
    expect(t.logs.join("")).not.toContain(secret);
  });

  it("a link stops working after 5 minutes", async () => {
    const secret = await link(alice.token);
    await clock.later(5 * MINUTE_MS + 1000, async () => expectInvalid(await exchange(secret)));
    const fresh = await link(alice.token);
    await clock.later(4 * MINUTE_MS, async () => {
      expect((await exchange(fresh)).status).toBe(201);
    });
  });

  it("a session ends no later than the token that made its link, so sessions cannot be chained", async () => {
    const minted = await t.call("POST", "/v1/tokens", {
      token: alice.token,
      body: { kind: "user", expiresIn: "1h" },
    });
    const hourToken = minted.json.token as string;
    const session = await exchange(await link(hourToken));
    expect(session.status).toBe(201);
    expect(session.json.expiresAt).toBe(minted.json.expiresAt);
    // …and a session's own link gives a session that ends with it, not 12 hours later.
    const chained = await exchange(await link(session.json.token));
    expect(chained.json.expiresAt).toBe(minted.json.expiresAt);

    // A link whose maker expired before the exchange gives nothing.
    const shortLived = await t.call("POST", "/v1/tokens", {
      token: alice.token,
      body: { kind: "user", expiresIn: "1m" },
    });
    const secret = await link(shortLived.json.token);
    await clock.later(2 * MINUTE_MS, async () => expectInvalid(await exchange(secret)));
  });

  it("a link stops working when the token that made it is revoked", async () => {
    const minted = await t.call("POST", "/v1/tokens", { token: alice.token, body: { kind: "user" } });
    const secret = await link(minted.json.token);
    const kept = await link(minted.json.token);
    expect((await t.call("DELETE", `/v1/tokens/${minted.json.id}`, { token: alice.token })).status).toBe(204);
    expectInvalid(await exchange(secret));
    // The same user's links made with another, live token still work.
    expect((await exchange(await link(alice.token))).status).toBe(201);
    expectInvalid(await exchange(kept));
  });

  it("only the hash of a link is stored", async () => {
    const secret = await link(alice.token);
    const rows = await t.db.context.db.selectFrom("signin_links").selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(rows.map((row) => row.hash)).toContain(hashToken(secret));
  });

  it("a new link removes its user's used and expired links, and keeps live ones and other users'", async () => {
    const userIds = async (email: string) =>
      (await t.db.context.db.selectFrom("users").select("id").where("email", "=", email).executeTakeFirst())
        ?.id;
    const linksOf = async (email: string) =>
      t.db.context.db
        .selectFrom("signin_links")
        .selectAll()
        .where("user_id", "=", (await userIds(email)) ?? "")
        .execute();
    const bobLive = await link(bob.token);
    const used = await link(alice.token);
    expect((await exchange(used)).status).toBe(201);
    const live = await link(alice.token);
    const expired = await link(alice.token);
    await clock.later(6 * MINUTE_MS, async () => {
      const newest = await link(alice.token);
      const hashes = (await linksOf("alice@example.com")).map((row) => row.hash);
      expect(hashes).toEqual([hashToken(newest)]);
      expect(hashes).not.toContain(hashToken(used));
      expect(hashes).not.toContain(hashToken(expired));
      expect(hashes).not.toContain(hashToken(live));
      expect((await linksOf("bob@example.com")).map((row) => row.hash)).toContain(hashToken(bobLive));
    });
    // A link still live when the next is made keeps working.
    const first = await link(alice.token);
    await link(alice.token);
    expect((await exchange(first)).status).toBe(201);
  });

  it("a link signs in its own user only: Bob's link gives Bob's session, which cannot see Alice's tokens", async () => {
    const bobSession = await exchange(await link(bob.token));
    expect(bobSession.json.user).toBe("bob@example.com");
    const aliceTokens = await t.call("GET", "/v1/tokens?user=alice@example.com", {
      token: bobSession.json.token,
    });
    expect(aliceTokens.status).toBe(403);
  });

  it("a revoked session stops working, and sign-out by another user is refused as not found", async () => {
    const session = await exchange(await link(alice.token));
    const byBob = await t.call("DELETE", `/v1/tokens/${session.json.id}`, { token: bob.token });
    expect(byBob.status).toBe(404);
    const out = await t.call("DELETE", `/v1/tokens/${session.json.id}`, { token: session.json.token });
    expect(out.status).toBe(204);
    expect((await t.call("GET", "/v1/whoami", { token: session.json.token })).status).toBe(401);
  });

  it("refuses a malformed or unknown secret, a missing one, and links without a user token", async () => {
    expect((await exchange("lbs_short")).status).toBe(401);
    expect((await exchange(`lbs_${"A".repeat(43)}`)).status).toBe(401);
    const missing = await t.call("POST", "/v1/ui/sessions", { body: {} });
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toMatch(/secret/);
    expect((await t.call("POST", "/v1/ui/links", {})).status).toBe(401);
  });
});
