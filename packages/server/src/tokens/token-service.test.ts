import { createHash, randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Caller } from "../directory/caller.js";
import type { SiteRow, UserRow } from "../directory/records.js";
import type { Lockbox } from "../lockbox.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { auditOf, createTestLockbox, testCaller } from "../testing/test-lockbox.js";
import { hashToken, parseTokenKind, TOKEN_PREFIXES } from "./token-format.js";
import { TokenService } from "./token-service.js";

const TOKEN_FORMAT = /^lb[xrb]_[A-Za-z0-9_-]{43}$/;
const UNAUTHENTICATED = { code: "UNAUTHENTICATED", message: "The token is invalid, expired or revoked." };

describe("token format", () => {
  it("parseTokenKind reads the kind from the prefix of a well-formed token", () => {
    const random = randomBytes(32).toString("base64url");
    expect(parseTokenKind(`lbx_${random}`)).toBe("user");
    expect(parseTokenKind(`lbr_${random}`)).toBe("runtime");
    expect(parseTokenKind(`lbb_${random}`)).toBe("build");
  });

  it("parseTokenKind refuses a wrong prefix, length or alphabet", () => {
    const random = randomBytes(32).toString("base64url");
    for (const token of [
      "",
      random,
      `lbz_${random}`,
      `LBX_${random}`,
      `lbx_${random}A`,
      `lbx_${random.slice(1)}`,
      `lbx_${random.slice(1)}+`,
      `lbx_${random.slice(1)}=`,
      ` lbx_${random.slice(1)}`,
      `lbx_${random.slice(1)}\n`,
    ]) {
      expect(parseTokenKind(token), JSON.stringify(token)).toBeUndefined();
    }
  });

  it("hashToken is the hex SHA-256 of the whole token, prefix included", () => {
    const random = randomBytes(32).toString("base64url");
    expect(hashToken(`lbr_${random}`)).toBe(createHash("sha256").update(`lbr_${random}`).digest("hex"));
    expect(hashToken(`lbr_${random}`)).not.toBe(hashToken(`lbb_${random}`));
  });
});

describe.each(await contractDatabases())("TokenService ($name)", ({ create }) => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  let tokens: TokenService;
  /** The platform admin, who may mint and revoke any token. */
  let admin: Caller;
  let clock: Date;

  beforeAll(async () => {
    database = await create();
    lockbox = await createTestLockbox(database);
    admin = await testCaller(lockbox, { admin: true });
    clock = new Date();
    // The composition root's stores and policy, with a clock the tests move.
    tokens = new TokenService(lockbox.stores, lockbox.policy, { now: () => clock });
  });
  afterAll(async () => {
    await lockbox?.close();
    await database?.drop();
  });

  const tag = () => randomUUID().slice(0, 8);
  const makeUser = (): Promise<UserRow> => lockbox.orgs.createUser(admin, `${tag()}@example.com`);
  const makeSite = async (): Promise<SiteRow> => {
    const org = await lockbox.orgs.createOrg(admin, `org-${tag()}`);
    return lockbox.sites.createSite(admin, { name: `site-${tag()}`, org: org.name });
  };
  /** A user token for `user`, minted by the platform admin. */
  const userToken = (user: UserRow, options: { expiresIn?: string } = {}) =>
    tokens.createToken(admin, { kind: "user", user: user.email, ...options });
  const siteToken = (kind: "runtime" | "build", site: SiteRow, env: string, caller: Caller = admin) =>
    tokens.createToken(caller, { kind, site: site.name, env });

  describe("minting", () => {
    it("tokens are lbx_, lbr_ or lbb_ followed by 43 base64url characters, new each time", async () => {
      const user = await makeUser();
      const site = await makeSite();
      const minted = [
        await userToken(user),
        await userToken(user),
        await siteToken("runtime", site, "live"),
        await siteToken("build", site, "dev"),
      ];
      for (const { token, row } of minted) {
        expect(token).toMatch(TOKEN_FORMAT);
        expect(token.startsWith(TOKEN_PREFIXES[row.kind])).toBe(true);
        expect(parseTokenKind(token)).toBe(row.kind);
        expect(row.hash).toBe(hashToken(token));
      }
      expect(minted.map((m) => m.row.kind)).toEqual(["user", "user", "runtime", "build"]);
      expect(new Set(minted.map((m) => m.token)).size).toBe(4);
    });

    it("the store never holds the plaintext: no column of the token row equals or contains it", async () => {
      const user = await makeUser();
      const site = await makeSite();
      const minted = [
        await userToken(user),
        await siteToken("runtime", site, "test"),
        await siteToken("build", site, "dev"),
      ];
      for (const { token, row } of minted) {
        const stored = await lockbox.db.kysely
          .selectFrom("tokens")
          .selectAll()
          .where("id", "=", row.id)
          .executeTakeFirstOrThrow();
        const secretPart = token.slice(4);
        for (const [column, value] of Object.entries(stored)) {
          const text = value === null ? "" : String(value);
          expect(text, column).not.toContain(secretPart);
        }
        expect(stored.hash).toBe(createHash("sha256").update(token).digest("hex"));
      }
    });

    it("binds user tokens to their user and site tokens to their environment, with the acting user as creator", async () => {
      const user = await makeUser();
      const site = await makeSite();
      const { row: forUser } = await userToken(user);
      expect(forUser).toMatchObject({
        kind: "user",
        userId: user.id,
        userEmail: user.email,
        siteId: null,
        siteName: null,
        environmentId: null,
        createdBy: admin.user.id,
        expiresAt: null,
        revokedAt: null,
      });
      const member = await testCaller(lockbox);
      await lockbox.orgs.addMember(admin, site.ownerName, member.user.email, "member");
      const { row: runtime } = await siteToken("runtime", site, "live", member);
      expect(runtime).toMatchObject({
        kind: "runtime",
        userId: null,
        siteId: site.id,
        siteName: site.name,
        environmentName: "live",
        createdBy: member.user.id,
      });
      // Without `user`, a user token is the caller's own.
      expect((await tokens.createToken(member, { kind: "user" })).row).toMatchObject({
        kind: "user",
        userId: member.user.id,
        createdBy: member.user.id,
      });
    });

    it("a build token is refused for test and live with the exact message", async () => {
      const site = await makeSite();
      for (const env of ["test", "live"]) {
        await expect(siteToken("build", site, env)).rejects.toMatchObject({
          code: "VALIDATION_FAILED",
          message: `Integrated Composer builds run only in dev or a multidev environment, never in '${env}'.`,
        });
      }
      expect(await tokens.list(admin, { site: site.name })).toEqual([]);
    });

    it("a build token can be minted for dev and for a multidev", async () => {
      const site = await makeSite();
      await lockbox.sites.createMultidev(admin, site.name, "feature");
      expect((await siteToken("build", site, "dev")).row.environmentName).toBe("dev");
      expect((await siteToken("build", site, "feature")).row.environmentName).toBe("feature");
    });

    it("a site token for an environment the site does not have is ENVIRONMENT_NOT_FOUND", async () => {
      const site = await makeSite();
      const expected = {
        code: "ENVIRONMENT_NOT_FOUND",
        message: `Environment 'feature' does not exist on site '${site.name}'.`,
      };
      await expect(siteToken("build", site, "feature")).rejects.toMatchObject(expected);
      await expect(siteToken("runtime", site, "feature")).rejects.toMatchObject(expected);
    });

    it("a site token for a deleted site is SITE_NOT_FOUND", async () => {
      const site = await makeSite();
      await lockbox.sites.deleteSite(admin, site.name);
      await expect(siteToken("runtime", site, "dev")).rejects.toMatchObject({
        code: "SITE_NOT_FOUND",
      });
      await expect(
        tokens.createToken(admin, { kind: "runtime", site: site.id, env: "dev" }),
      ).rejects.toMatchObject({ code: "SITE_NOT_FOUND" });
    });

    it("minting appends one token.create event that never contains the token", async () => {
      const user = await makeUser();
      const site = await makeSite();
      let plaintexts: string[] = [];
      const events = await auditOf(lockbox, async () => {
        const a = await userToken(user);
        const b = await siteToken("runtime", site, "live");
        plaintexts = [a.token, b.token];
      });
      expect(events.map((e) => e.action)).toEqual(["token.create", "token.create"]);
      expect(events[0]).toMatchObject({
        actor: `user:${admin.user.id}`,
        requestId: "req-test",
        siteId: null,
        environment: null,
      });
      expect(events[0]?.target).toMatch(new RegExp(`^user:${user.id}:.+/token:[0-9a-f-]{36}:user$`));
      expect(events[1]).toMatchObject({ siteId: site.id, orgId: site.ownerOrgId, environment: "live" });
      expect(events[1]?.target).toMatch(
        new RegExp(`^site:${site.id}:${site.name}/env:live/token:[0-9a-f-]{36}:runtime$`),
      );
      const serialized = JSON.stringify(events);
      for (const token of plaintexts) {
        expect(serialized).not.toContain(token.slice(4));
        expect(serialized).not.toContain(hashToken(token));
      }
    });
  });

  describe("authenticate", () => {
    it("returns the row of a valid token, with its binding", async () => {
      const user = await makeUser();
      const site = await makeSite();
      const forUser = await userToken(user);
      const runtime = await siteToken("runtime", site, "live");
      expect(await tokens.authenticate(forUser.token)).toEqual(forUser.row);
      expect(await tokens.authenticate(runtime.token)).toMatchObject({
        id: runtime.row.id,
        kind: "runtime",
        siteId: site.id,
        environmentName: "live",
      });
    });

    it("refuses malformed tokens with UNAUTHENTICATED without reading the store", async () => {
      const { token } = await userToken(await makeUser());
      const lookup = vi.spyOn(lockbox.stores.tokens, "findTokenByHash");
      try {
        for (const garbage of [
          "",
          "garbage",
          token.slice(4),
          `lbz_${token.slice(4)}`,
          `${token}x`,
          token.slice(0, -1),
          `${token.slice(0, -1)}*`,
          `Bearer ${token}`,
        ]) {
          await expect(tokens.authenticate(garbage), garbage).rejects.toMatchObject(UNAUTHENTICATED);
        }
        expect(lookup).not.toHaveBeenCalled();
        // The spy does watch the lookup the service makes.
        await tokens.authenticate(token);
        expect(lookup).toHaveBeenCalledTimes(1);
      } finally {
        lookup.mockRestore();
      }
    });

    it("refuses a well-formed token that was never issued, or one with another kind's prefix", async () => {
      const { token } = await userToken(await makeUser());
      await expect(tokens.authenticate(`lbx_${randomBytes(32).toString("base64url")}`)).rejects.toMatchObject(
        UNAUTHENTICATED,
      );
      await expect(tokens.authenticate(`lbr_${token.slice(4)}`)).rejects.toMatchObject(UNAUTHENTICATED);
    });

    it("refuses a revoked token; revoking it again succeeds and changes nothing", async () => {
      const site = await makeSite();
      const { token, row } = await siteToken("build", site, "dev");
      const revoked = await tokens.revoke(admin, row.id);
      expect(revoked.revokedAt).not.toBeNull();
      await expect(tokens.authenticate(token)).rejects.toMatchObject(UNAUTHENTICATED);
      expect((await tokens.revoke(admin, row.id)).revokedAt).toBe(revoked.revokedAt);
      await expect(tokens.authenticate(token)).rejects.toMatchObject(UNAUTHENTICATED);
    });

    it("refuses a user token once its lifetime has passed (runtime and build: token-expiry.test.ts)", async () => {
      const user = await makeUser();
      const { token, row } = await userToken(user, { expiresIn: "1m" });
      expect(row.expiresAt).toBe(new Date(clock.getTime() + 60_000).toISOString());
      expect((await tokens.authenticate(token)).id).toBe(row.id);
      const start = clock;
      try {
        clock = new Date(start.getTime() + 59_000);
        expect((await tokens.authenticate(token)).id).toBe(row.id);
        clock = new Date(start.getTime() + 60_000);
        await expect(tokens.authenticate(token)).rejects.toMatchObject(UNAUTHENTICATED);
      } finally {
        clock = start;
      }
    });
  });

  it("counts an unreadable expiry in the store as expired, never as no expiry", async () => {
    const user = await makeUser();
    const { token, row } = await userToken(user, { expiresIn: "1m" });
    await lockbox.db.kysely
      .updateTable("tokens")
      .set({ expires_at: "garbage" })
      .where("id", "=", row.id)
      .execute();
    await expect(tokens.authenticate(token)).rejects.toMatchObject(UNAUTHENTICATED);
  });

  describe("revoke and list", () => {
    it("revoke of an unknown id is TOKEN_NOT_FOUND", async () => {
      const id = randomUUID();
      await expect(tokens.revoke(admin, id)).rejects.toMatchObject({
        code: "TOKEN_NOT_FOUND",
        message: `Token '${id}' was not found, or you do not have access to it.`,
      });
    });

    it("revoke appends one token.revoke event naming the token and its binding", async () => {
      const site = await makeSite();
      const { token, row } = await siteToken("runtime", site, "test");
      const events = await auditOf(lockbox, () => tokens.revoke(admin, row.id));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        action: "token.revoke",
        actor: `user:${admin.user.id}`,
        requestId: "req-test",
        siteId: site.id,
        orgId: site.ownerOrgId,
        environment: "test",
        target: `site:${site.id}:${site.name}/token:${row.id}:runtime`,
      });
      expect(JSON.stringify(events)).not.toContain(token.slice(4));
    });

    it("list filters by user and by site, revoked tokens included", async () => {
      const user = await makeUser();
      const site = await makeSite();
      const a = await userToken(user);
      const b = await userToken(user);
      const c = await siteToken("runtime", site, "dev");
      const d = await siteToken("build", site, "dev");
      await tokens.revoke(admin, b.row.id);
      const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id).sort();
      expect(ids(await tokens.list(admin, { user: user.email }))).toEqual(ids([a.row, b.row]));
      expect(ids(await tokens.list(admin, { site: site.name }))).toEqual(ids([c.row, d.row]));
      expect(
        (await tokens.list(admin, { user: user.email })).find((r) => r.id === b.row.id)?.revokedAt,
      ).not.toBeNull();
    });
  });

  describe("access", () => {
    it("createToken refuses another user's token to anyone but the platform admin, whether or not that user exists", async () => {
      const caller = await testCaller(lockbox);
      const other = await makeUser();
      const events = await auditOf(lockbox, async () => {
        for (const ref of [other.email, other.id, "nobody@example.com"]) {
          await expect(tokens.createToken(caller, { kind: "user", user: ref }), ref).rejects.toMatchObject({
            code: "FORBIDDEN",
            message: "Only the platform admin can create tokens for other users.",
          });
        }
      });
      expect(events).toEqual([]);
      expect(await tokens.list(admin, { user: other.email })).toEqual([]);
      // Its own token, named, is fine; the platform admin mints anyone's, and learns of a missing user.
      expect((await tokens.createToken(caller, { kind: "user", user: caller.user.email })).row.userId).toBe(
        caller.user.id,
      );
      expect((await tokens.createToken(admin, { kind: "user", user: other.id })).row.userId).toBe(other.id);
      await expect(
        tokens.createToken(admin, { kind: "user", user: "nobody@example.com" }),
      ).rejects.toMatchObject({ code: "USER_NOT_FOUND" });
    });

    it("createToken answers SITE_NOT_FOUND, as for a missing site, for a site the caller cannot see", async () => {
      const site = await makeSite();
      const stranger = await testCaller(lockbox);
      const hidden = {
        code: "SITE_NOT_FOUND",
        message: `Site '${site.name}' was not found, or you do not have access to it.`,
      };
      // Access is decided before the environment's rules: `live` for a build token says nothing either.
      for (const [kind, env] of [
        ["runtime", "live"],
        ["build", "dev"],
        ["build", "live"],
        ["runtime", "no-such-env"],
      ] as const) {
        await expect(siteToken(kind, site, env, stranger), `${kind} ${env}`).rejects.toMatchObject(hidden);
      }
      await expect(
        tokens.createToken(stranger, { kind: "runtime", site: site.id, env: "live" }),
      ).rejects.toMatchObject({ code: "SITE_NOT_FOUND" });
      await expect(
        siteToken("runtime", { ...site, name: "site-zz" }, "live", stranger),
      ).rejects.toMatchObject({
        code: "SITE_NOT_FOUND",
        message: "Site 'site-zz' was not found, or you do not have access to it.",
      });
      expect(await tokens.list(admin, { site: site.name })).toEqual([]);
      // Once the stranger is on the site's team, it may.
      await lockbox.sites.addTeamMember(admin, site.name, stranger.user.email);
      expect((await siteToken("runtime", site, "live", stranger)).row).toMatchObject({
        siteId: site.id,
        createdBy: stranger.user.id,
      });
    });

    it("revoke answers TOKEN_NOT_FOUND for a token of a site the caller cannot see, and the token keeps working", async () => {
      const site = await makeSite();
      const issued = await siteToken("runtime", site, "live");
      const theirs = await userToken(await makeUser());
      const stranger = await testCaller(lockbox);
      const events = await auditOf(lockbox, async () => {
        for (const { row } of [issued, theirs]) {
          await expect(tokens.revoke(stranger, row.id)).rejects.toMatchObject({
            code: "TOKEN_NOT_FOUND",
            message: `Token '${row.id}' was not found, or you do not have access to it.`,
          });
        }
      });
      expect(events).toEqual([]);
      expect(await tokens.authenticate(issued.token)).toMatchObject({ id: issued.row.id, revokedAt: null });
      expect(await tokens.authenticate(theirs.token)).toMatchObject({ id: theirs.row.id, revokedAt: null });
      // Once on the site's team, the site's tokens are the stranger's to revoke (another user's are not).
      await lockbox.sites.addTeamMember(admin, site.name, stranger.user.email);
      expect((await tokens.revoke(stranger, issued.row.id)).revokedAt).not.toBeNull();
      await expect(tokens.authenticate(issued.token)).rejects.toMatchObject(UNAUTHENTICATED);
      await expect(tokens.revoke(stranger, theirs.row.id)).rejects.toMatchObject({ code: "TOKEN_NOT_FOUND" });
    });

    it("list shows a person its own tokens, refuses another user's, and hides a site it cannot see", async () => {
      const caller = await testCaller(lockbox);
      const own = await tokens.createToken(caller, { kind: "user" });
      const other = await makeUser();
      await userToken(other);
      const site = await makeSite();
      expect((await tokens.list(caller)).map((r) => r.id)).toEqual([own.row.id]);
      expect((await tokens.list(caller, { user: caller.user.email })).map((r) => r.id)).toEqual([own.row.id]);
      await expect(tokens.list(caller, { user: other.email })).rejects.toMatchObject({
        code: "FORBIDDEN",
        message: "Only the platform admin can list other users' tokens.",
      });
      await expect(tokens.list(caller, { site: site.name })).rejects.toMatchObject({
        code: "SITE_NOT_FOUND",
        message: `Site '${site.name}' was not found, or you do not have access to it.`,
      });
    });
  });
});
