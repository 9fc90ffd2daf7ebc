import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../testing/test-app.js";
import { contractDatabases } from "../testing/test-databases.js";

/**
 * The role table of SPEC §5, row by row, through the HTTP API: who may see (else 404, the same
 * body as a real miss), who may change (else 403), and what bad tokens get (401).
 */
describe.each(await contractDatabases())("access control ($name)", ({ create }) => {
  let t: TestApp;
  let drop: () => Promise<void>;
  const people: Record<string, string> = {};
  const as = (who: string) => people[who] ?? "";

  beforeAll(async () => {
    const database = await create();
    drop = () => database.drop();
    t = await createTestApp(database);
    people.admin = t.adminToken;
    for (const who of ["alice", "bob", "carol", "dave", "erin", "frank", "gus"]) {
      people[who] = (await t.user(`${who}@example.com`)).token;
    }
    const admin = { token: t.adminToken };
    for (const org of ["org-a", "org-b", "org-s"])
      expect((await t.call("POST", "/v1/orgs", { ...admin, body: { name: org } })).status).toBe(201);
    const member = (org: string, who: string, role: string) =>
      t.call("PUT", `/v1/orgs/${org}/members/${who}@example.com`, { ...admin, body: { role } });
    expect((await member("org-a", "alice", "admin")).status).toBe(200);
    expect((await member("org-a", "bob", "member")).status).toBe(200);
    expect((await member("org-b", "carol", "member")).status).toBe(200);
    expect((await member("org-s", "dave", "member")).status).toBe(200);
    expect(
      (
        await t.call("POST", "/v1/sites", {
          token: as("alice"),
          body: { name: "site-a1", org: "org-a", supportingOrgs: [] },
        })
      ).status,
    ).toBe(201);
    expect((await t.call("PUT", "/v1/sites/site-a1/supporting-orgs/org-s", admin)).status).toBe(204);
    expect(
      (await t.call("POST", "/v1/sites", { ...admin, body: { name: "site-b1", org: "org-b" } })).status,
    ).toBe(201);
    expect(
      (await t.call("PUT", "/v1/sites/site-a1/team/erin@example.com", { token: as("bob") })).status,
    ).toBe(204);
    expect(
      (
        await t.call("POST", "/v1/sites", {
          token: as("frank"),
          body: { name: "site-p1", owner: "frank@example.com" },
        })
      ).status,
    ).toBe(201);
    await t.call("PUT", "/v1/orgs/org-a/secrets/ORG_A", {
      token: as("alice"),
      body: { value: "a", scopes: "web,user" },
    });
    await t.call("PUT", "/v1/orgs/org-s/secrets/ORG_S", {
      ...admin,
      body: { value: "s", scopes: "web,user" },
    });
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  const notFound = (kind: "Site" | "Organization", ref: string) => ({
    error: {
      code: kind === "Site" ? "SITE_NOT_FOUND" : "ORG_NOT_FOUND",
      message: `${kind} '${ref}' was not found, or you do not have access to it.`,
    },
  });

  it("lets only the platform admin create users and organizations", async () => {
    for (const who of ["alice", "bob"]) {
      expect(
        (await t.call("POST", "/v1/orgs", { token: as(who), body: { name: "nope" } })).json.error.code,
      ).toBe("FORBIDDEN");
      expect(
        (await t.call("POST", "/v1/users", { token: as(who), body: { email: "x@example.com" } })).status,
      ).toBe(403);
    }
    expect((await t.call("GET", "/v1/orgs/nope", { token: as("admin") })).status).toBe(404);
  });

  it("lets an org admin manage the org's secrets and members, and an org member only list them", async () => {
    expect(
      (await t.call("PUT", "/v1/orgs/org-a/secrets/BY_ALICE", { token: as("alice"), body: { value: "v" } }))
        .status,
    ).toBe(201);
    expect((await t.call("GET", "/v1/orgs/org-a/secrets", { token: as("bob") })).status).toBe(200);
    const denied = await t.call("PUT", "/v1/orgs/org-a/secrets/BY_BOB", {
      token: as("bob"),
      body: { value: "v" },
    });
    expect([denied.status, denied.json.error.code]).toEqual([403, "FORBIDDEN"]);
    expect((await t.call("DELETE", "/v1/orgs/org-a/secrets/BY_ALICE", { token: as("bob") })).status).toBe(
      403,
    );
    expect(
      (
        await t.call("PUT", "/v1/orgs/org-a/members/gus@example.com", {
          token: as("bob"),
          body: { role: "member" },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await t.call("PUT", "/v1/orgs/org-a/members/gus@example.com", {
          token: as("alice"),
          body: { role: "member" },
        })
      ).status,
    ).toBe(200);
    expect(
      (await t.call("DELETE", "/v1/orgs/org-a/members/gus@example.com", { token: as("alice") })).status,
    ).toBe(200);
  });

  it("answers 404 with the body of a real miss for another org's sites, secrets and org", async () => {
    const site = await t.call("GET", "/v1/sites/site-a1", { token: as("carol") });
    expect([site.status, site.json]).toEqual([
      404,
      { error: { ...notFound("Site", "site-a1").error, requestId: expect.any(String) } },
    ]);
    const missing = await t.call("GET", "/v1/sites/site-zz", { token: as("carol") });
    expect({ ...missing.json.error, requestId: "", message: "" }).toEqual({
      ...site.json.error,
      requestId: "",
      message: "",
    });
    for (const [method, url] of [
      ["GET", "/v1/sites/site-a1/secrets"],
      ["PUT", "/v1/sites/site-a1/secrets/X"],
      ["GET", "/v1/sites/site-a1/resolve?env=live"],
      ["DELETE", "/v1/sites/site-a1"],
      ["POST", "/v1/sites/site-a1/environments"],
    ] as const) {
      const response = await t.call(method, url, {
        token: as("carol"),
        ...(method === "GET" || method === "DELETE"
          ? {}
          : { body: method === "PUT" ? { value: "x" } : { name: "md" } }),
      });
      expect([url, response.status, response.json.error.message]).toEqual([
        url,
        404,
        notFound("Site", "site-a1").error.message,
      ]);
    }
    const org = await t.call("GET", "/v1/orgs/org-a/secrets", { token: as("carol") });
    expect([org.status, org.json.error.message]).toEqual([
      404,
      notFound("Organization", "org-a").error.message,
    ]);
    // Access is decided before the value's rules: an invalid body tells an outsider nothing either.
    for (const url of [
      "/v1/sites/site-a1/secrets/X",
      "/v1/sites/site-a1/secrets/X/envs/live",
      "/v1/orgs/org-a/secrets/X",
    ]) {
      const response = await t.call("PUT", url, {
        token: as("carol"),
        body: { value: "x", scopes: "bogus", type: "nope" },
      });
      expect([url, response.status]).toEqual([url, 404]);
    }
    // …and a member who sees the org but may not change its secrets gets 403, not the rule's 422.
    const member = await t.call("PUT", "/v1/orgs/org-a/secrets/X", {
      token: as("bob"),
      body: { value: "x", scopes: "bogus" },
    });
    expect([member.status, member.json.error.code]).toEqual([403, "FORBIDDEN"]);
    const sites = await t.call("GET", "/v1/sites", { token: as("carol") });
    expect(sites.json.items.map((s: { name: string }) => s.name)).toEqual(["site-b1"]);
    expect((await t.call("GET", "/v1/sites", { token: as("gus") })).json.items).toEqual([]);
  });

  it("lets an org member manage secrets, multidevs, team and tokens of the org's sites, but not transfer or delete them", async () => {
    const bob = { token: as("bob") };
    expect(
      (
        await t.call("PUT", "/v1/sites/site-a1/secrets/BOB", {
          ...bob,
          body: { value: "b", scopes: ["web"] },
        })
      ).status,
    ).toBe(201);
    expect(
      (await t.call("POST", "/v1/sites/site-a1/environments", { ...bob, body: { name: "bobdev" } })).status,
    ).toBe(201);
    expect((await t.call("PUT", "/v1/sites/site-a1/team/gus@example.com", bob)).status).toBe(204);
    expect((await t.call("DELETE", "/v1/sites/site-a1/team/gus@example.com", bob)).status).toBe(200);
    expect(
      (
        await t.call("POST", "/v1/tokens", {
          ...bob,
          body: { kind: "runtime", site: "site-a1", env: "live" },
        })
      ).status,
    ).toBe(201);
    expect((await t.call("DELETE", "/v1/sites/site-a1", bob)).json.error.code).toBe("FORBIDDEN");
    expect(
      (await t.call("POST", "/v1/sites/site-a1/transfer", { ...bob, body: { org: "org-b" } })).status,
    ).toBe(403);
  });

  it("lets a supporting org's member manage the site's secrets, while its org secrets never reach the site", async () => {
    const dave = { token: as("dave") };
    expect(
      (
        await t.call("PUT", "/v1/sites/site-a1/secrets/DAVE", {
          ...dave,
          body: { value: "d", scopes: "web,user" },
        })
      ).status,
    ).toBe(201);
    const resolved = await t.call("GET", "/v1/sites/site-a1/resolve?env=live&scope=web", dave);
    const names = resolved.json.items.map((i: { name: string }) => i.name);
    expect(names).toContain("ORG_A");
    expect(names).toContain("DAVE");
    expect(names).not.toContain("ORG_S");
    expect((await t.call("GET", "/v1/orgs/org-a/secrets", dave)).status).toBe(404);
  });

  it("names, when a support ends, the site's team members who belong to that org: their team place outlives it", async () => {
    const alice = { token: as("alice") };
    const dave = { token: as("dave") };
    expect(
      (await t.call("POST", "/v1/sites", { ...alice, body: { name: "site-a2", org: "org-a" } })).status,
    ).toBe(201);
    const admin = { token: t.adminToken };
    expect((await t.call("PUT", "/v1/sites/site-a2/supporting-orgs/org-s", admin)).status).toBe(204);
    // A member of the supporting org may manage the team, himself included (SPEC §5).
    expect((await t.call("PUT", "/v1/sites/site-a2/team/dave@example.com", dave)).status).toBe(204);
    const ended = await t.call("DELETE", "/v1/sites/site-a2/supporting-orgs/org-s", alice);
    expect(ended.status).toBe(200);
    expect(ended.headers["cache-control"]).toBe("no-store");
    expect(ended.json).toEqual({
      message:
        "Organization 'org-s' no longer supports site 'site-a2'. 1 person on the site's team belongs to it and still manages the site: remove any who should not (lockbox site:team:remove site-a2 <email>).",
      teamMembersFromOrg: [{ email: "dave@example.com" }],
    });
    expect((await t.call("GET", "/v1/sites/site-a2/secrets", dave)).status).toBe(200);
    expect((await t.call("DELETE", "/v1/sites/site-a2/team/dave@example.com", alice)).status).toBe(200);
    expect((await t.call("GET", "/v1/sites/site-a2/secrets", dave)).status).toBe(404);

    // With no one of that org on the team, the message says only that the support ended.
    expect((await t.call("PUT", "/v1/sites/site-a2/supporting-orgs/org-s", admin)).status).toBe(204);
    const again = await t.call("DELETE", "/v1/sites/site-a2/supporting-orgs/org-s", alice);
    expect(again.json).toEqual({
      message: "Organization 'org-s' no longer supports site 'site-a2'.",
      teamMembersFromOrg: [],
    });
  });

  it("lets a team member manage the site's secrets, multidevs and tokens, but not its team", async () => {
    const erin = { token: as("erin") };
    expect(
      (await t.call("PUT", "/v1/sites/site-a1/secrets/ERIN", { ...erin, body: { value: "e" } })).status,
    ).toBe(201);
    expect(
      (await t.call("POST", "/v1/sites/site-a1/environments", { ...erin, body: { name: "erindev" } })).status,
    ).toBe(201);
    expect((await t.call("DELETE", "/v1/sites/site-a1/environments/erindev", erin)).status).toBe(204);
    expect(
      (await t.call("POST", "/v1/tokens", { ...erin, body: { kind: "build", site: "site-a1", env: "dev" } }))
        .status,
    ).toBe(201);
    expect((await t.call("PUT", "/v1/sites/site-a1/team/gus@example.com", erin)).status).toBe(403);
    expect((await t.call("DELETE", "/v1/sites/site-a1", erin)).status).toBe(403);
    expect((await t.call("GET", "/v1/sites/site-b1", erin)).status).toBe(404);
  });

  it("lets a personal site's owner manage, transfer and delete it, and hides it from everyone else", async () => {
    const frank = { token: as("frank") };
    expect(
      (await t.call("PUT", "/v1/sites/site-p1/secrets/MINE", { ...frank, body: { value: "m" } })).status,
    ).toBe(201);
    expect((await t.call("GET", "/v1/sites/site-p1", { token: as("alice") })).status).toBe(404);
    expect(
      (await t.call("POST", "/v1/sites/site-p1/transfer", { ...frank, body: { org: "org-a" } })).status,
    ).toBe(404);
    expect(
      (await t.call("POST", "/v1/sites/site-p1/transfer", { ...frank, body: { owner: "frank@example.com" } }))
        .status,
    ).toBe(200);
    expect((await t.call("DELETE", "/v1/sites/site-p1", frank)).status).toBe(204);
    expect((await t.call("GET", "/v1/sites/site-p1", frank)).status).toBe(404);
  });

  it("redacts values without the user scope for everyone, the platform admin included", async () => {
    await t.call("PUT", "/v1/sites/site-a1/secrets/HIDDEN", {
      token: as("admin"),
      body: { value: "never-shown", scopes: "web" },
    });
    for (const who of ["admin", "alice", "bob"]) {
      const listed = await t.call("GET", "/v1/sites/site-a1/secrets", { token: as(who) });
      const hidden = listed.json.items.find((i: { name: string }) => i.name === "HIDDEN");
      expect([who, hidden.value]).toEqual([who, null]);
      expect(listed.body).not.toContain("never-shown");
    }
  });

  it("refuses bad, revoked and machine tokens", async () => {
    expect((await t.call("GET", "/v1/whoami")).status).toBe(401);
    expect((await t.call("GET", "/v1/whoami", { token: "lbx_garbage" })).json.error.code).toBe(
      "UNAUTHENTICATED",
    );
    const minted = await t.call("POST", "/v1/tokens", { token: as("gus"), body: { kind: "user" } });
    expect((await t.call("GET", "/v1/whoami", { token: minted.json.token })).json.user.email).toBe(
      "gus@example.com",
    );
    expect((await t.call("DELETE", `/v1/tokens/${minted.json.id}`, { token: as("gus") })).status).toBe(204);
    expect((await t.call("GET", "/v1/whoami", { token: minted.json.token })).status).toBe(401);
    const runtime = await t.call("POST", "/v1/tokens", {
      token: as("bob"),
      body: { kind: "runtime", site: "site-a1", env: "dev" },
    });
    expect(runtime.json.token).toMatch(/^lbr_[A-Za-z0-9_-]{43}$/);
    const refused = await t.call("GET", "/v1/whoami", { token: runtime.json.token });
    expect([refused.status, refused.json.error.code]).toEqual([403, "FORBIDDEN"]);
    expect((await t.call("DELETE", `/v1/tokens/${runtime.json.id}`, { token: as("carol") })).status).toBe(
      404,
    );
  });
});

describe.each(await contractDatabases())("rate limiting ($name)", ({ create }) => {
  it("answers 429 with Retry-After once a token's burst is spent", async () => {
    const database = await create();
    const t = await createTestApp(database, { rateLimit: { ratePerSecond: 1, burst: 3 } });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await t.call("GET", "/v1/whoami", { token: t.adminToken })).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const limited = await t.call("GET", "/v1/whoami", { token: t.adminToken });
      expect([limited.json.error.code, limited.headers["retry-after"]]).toEqual(["RATE_LIMITED", "1"]);
    } finally {
      await t.close();
      await database.drop();
    }
  });

  it("does not count a refused (429) request as a use of its token", async () => {
    const database = await create();
    // A burst of 2: the admin mints the user and its token, the user spends its two requests.
    const t = await createTestApp(database, { rateLimit: { ratePerSecond: 0.01, burst: 2 } });
    try {
      const { token } = await t.user("usage@example.com");
      const lastUsed = async () => {
        await t.lockbox.tokenUsage.flush();
        const [row] = await t.stores.tokens.listTokens({
          userId: (await t.lockbox.orgs.getUser("usage@example.com")).id,
        });
        return row?.lastUsedAt ?? null;
      };
      expect((await t.call("GET", "/v1/whoami", { token })).status).toBe(200);
      expect((await t.call("GET", "/v1/whoami", { token })).status).toBe(200);
      const used = await lastUsed();
      expect(used).not.toBeNull();
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect((await t.call("GET", "/v1/whoami", { token })).status).toBe(429);
      expect(await lastUsed()).toBe(used);
    } finally {
      await t.close();
      await database.drop();
    }
  });
});
