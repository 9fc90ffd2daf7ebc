import { createHash, randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { KyselyStore } from "../db/kysely-store.js";
import type { AuditEvent, SiteRow, UserRow } from "../db/secret-store.js";
import type { RequestContext } from "../directory/caller.js";
import { DirectoryService } from "../directory/directory-service.js";
import { Keyring } from "../keys/index.js";
import { Vault } from "../keys/vault.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { hashToken, parseTokenKind, TOKEN_PREFIXES, TokenService } from "./token-service.js";

const ctx: RequestContext = { actor: "user:2f0c4c4e-8c1f-4a8e-9a55-0d1f3b8f5a10", requestId: "req-tok" };
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
  let store: KyselyStore;
  let directory: DirectoryService;
  let tokens: TokenService;
  let clock: Date;

  beforeAll(async () => {
    database = await create();
    store = await database.open();
    directory = new DirectoryService(store, new Vault(Keyring.fromKeys(randomBytes(32)), store));
    clock = new Date();
    tokens = new TokenService(store, { now: () => clock });
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const tag = () => randomUUID().slice(0, 8);
  const makeUser = (): Promise<UserRow> => directory.createUser(ctx, `${tag()}@example.com`);
  const makeSite = async (): Promise<SiteRow> => {
    const org = await directory.createOrg(ctx, `org-${tag()}`);
    return directory.createSite(ctx, { name: `site-${tag()}`, owner: { orgId: org.id } });
  };
  /** The audit events `fn` appended. */
  const auditOf = async (fn: () => Promise<unknown>): Promise<AuditEvent[]> => {
    const [head] = await store.listAudit({ limit: 1 });
    await fn();
    return store.readAuditChain(head?.seq ?? 0, 1000);
  };

  describe("minting", () => {
    it("tokens are lbx_, lbr_ or lbb_ followed by 43 base64url characters, new each time", async () => {
      const user = await makeUser();
      const site = await makeSite();
      const minted = [
        await tokens.createUserToken(ctx, user),
        await tokens.createUserToken(ctx, user),
        await tokens.createRuntimeToken(ctx, site, "live"),
        await tokens.createBuildToken(ctx, site, "dev"),
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
        await tokens.createUserToken(ctx, user),
        await tokens.createRuntimeToken(ctx, site, "test"),
        await tokens.createBuildToken(ctx, site, "dev"),
      ];
      for (const { token, row } of minted) {
        const stored = await store.kysely
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
      const { row: userToken } = await tokens.createUserToken(ctx, user);
      expect(userToken).toMatchObject({
        kind: "user",
        userId: user.id,
        siteId: null,
        environmentId: null,
        createdBy: "2f0c4c4e-8c1f-4a8e-9a55-0d1f3b8f5a10",
        expiresAt: null,
        revokedAt: null,
      });
      const { row: runtime } = await tokens.createRuntimeToken({ actor: "system" }, site, "live");
      expect(runtime).toMatchObject({
        kind: "runtime",
        userId: null,
        siteId: site.id,
        environmentName: "live",
        createdBy: null,
      });
    });

    it("a build token is refused for test and live with the exact message", async () => {
      const site = await makeSite();
      for (const env of ["test", "live"]) {
        await expect(tokens.createBuildToken(ctx, site, env)).rejects.toMatchObject({
          code: "VALIDATION_FAILED",
          message: `Integrated Composer builds run only in dev or a multidev environment, never in '${env}'.`,
        });
      }
      expect(await tokens.list({ siteId: site.id })).toEqual([]);
    });

    it("a build token can be minted for dev and for a multidev", async () => {
      const site = await makeSite();
      await directory.createMultidev(ctx, site, "feature");
      expect((await tokens.createBuildToken(ctx, site, "dev")).row.environmentName).toBe("dev");
      expect((await tokens.createBuildToken(ctx, site, "feature")).row.environmentName).toBe("feature");
    });

    it("a site token for an environment the site does not have is ENVIRONMENT_NOT_FOUND", async () => {
      const site = await makeSite();
      const expected = {
        code: "ENVIRONMENT_NOT_FOUND",
        message: `Environment 'feature' does not exist on site '${site.name}'.`,
      };
      await expect(tokens.createBuildToken(ctx, site, "feature")).rejects.toMatchObject(expected);
      await expect(tokens.createRuntimeToken(ctx, site, "feature")).rejects.toMatchObject(expected);
    });

    it("a site token for a deleted site is SITE_NOT_FOUND", async () => {
      const site = await makeSite();
      await directory.deleteSite(ctx, site);
      await expect(tokens.createRuntimeToken(ctx, site, "dev")).rejects.toMatchObject({
        code: "SITE_NOT_FOUND",
      });
    });

    it("ttlSeconds must be a whole number of seconds greater than 0", async () => {
      const user = await makeUser();
      for (const ttlSeconds of [0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e12]) {
        await expect(
          tokens.createUserToken(ctx, user, { ttlSeconds }),
          String(ttlSeconds),
        ).rejects.toMatchObject({
          code: "VALIDATION_FAILED",
        });
      }
    });

    it("minting appends one token.create event that never contains the token", async () => {
      const user = await makeUser();
      const site = await makeSite();
      let plaintexts: string[] = [];
      const events = await auditOf(async () => {
        const a = await tokens.createUserToken(ctx, user);
        const b = await tokens.createRuntimeToken(ctx, site, "live");
        plaintexts = [a.token, b.token];
      });
      expect(events.map((e) => e.action)).toEqual(["token.create", "token.create"]);
      expect(events[0]).toMatchObject({
        actor: ctx.actor,
        requestId: "req-tok",
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
      const userToken = await tokens.createUserToken(ctx, user);
      const runtime = await tokens.createRuntimeToken(ctx, site, "live");
      expect((await tokens.authenticate(userToken.token)).token).toEqual(userToken.row);
      expect((await tokens.authenticate(runtime.token)).token).toMatchObject({
        id: runtime.row.id,
        kind: "runtime",
        siteId: site.id,
        environmentName: "live",
      });
    });

    it("refuses malformed tokens with UNAUTHENTICATED without reading the store", async () => {
      const { token } = await tokens.createUserToken(ctx, await makeUser());
      const lookup = vi.spyOn(store, "findTokenByHash");
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
      } finally {
        lookup.mockRestore();
      }
    });

    it("refuses a well-formed token that was never issued, or one with another kind's prefix", async () => {
      const { token } = await tokens.createUserToken(ctx, await makeUser());
      await expect(tokens.authenticate(`lbx_${randomBytes(32).toString("base64url")}`)).rejects.toMatchObject(
        UNAUTHENTICATED,
      );
      await expect(tokens.authenticate(`lbr_${token.slice(4)}`)).rejects.toMatchObject(UNAUTHENTICATED);
    });

    it("refuses a revoked token; revoking it again succeeds and changes nothing", async () => {
      const site = await makeSite();
      const { token, row } = await tokens.createBuildToken(ctx, site, "dev");
      const revoked = await tokens.revoke(ctx, row.id);
      expect(revoked.revokedAt).not.toBeNull();
      await expect(tokens.authenticate(token)).rejects.toMatchObject(UNAUTHENTICATED);
      expect((await tokens.revoke(ctx, row.id)).revokedAt).toBe(revoked.revokedAt);
      await expect(tokens.authenticate(token)).rejects.toMatchObject(UNAUTHENTICATED);
    });

    it("refuses a token once its lifetime has passed", async () => {
      const user = await makeUser();
      const { token, row } = await tokens.createUserToken(ctx, user, { ttlSeconds: 60 });
      expect(row.expiresAt).toBe(new Date(clock.getTime() + 60_000).toISOString());
      expect((await tokens.authenticate(token)).token.id).toBe(row.id);
      const start = clock;
      try {
        clock = new Date(start.getTime() + 59_000);
        expect((await tokens.authenticate(token)).token.id).toBe(row.id);
        clock = new Date(start.getTime() + 60_000);
        await expect(tokens.authenticate(token)).rejects.toMatchObject(UNAUTHENTICATED);
      } finally {
        clock = start;
      }
    });
  });

  it("counts an unreadable expiry in the store as expired, never as no expiry", async () => {
    const user = await makeUser();
    const { token, row } = await tokens.createUserToken(ctx, user, { ttlSeconds: 60 });
    await store.kysely
      .updateTable("tokens")
      .set({ expires_at: "garbage" })
      .where("id", "=", row.id)
      .execute();
    await expect(tokens.authenticate(token)).rejects.toMatchObject(UNAUTHENTICATED);
  });

  describe("revoke and list", () => {
    it("revoke of an unknown id is TOKEN_NOT_FOUND", async () => {
      const id = randomUUID();
      await expect(tokens.revoke(ctx, id)).rejects.toMatchObject({
        code: "TOKEN_NOT_FOUND",
        message: `Token '${id}' was not found, or you do not have access to it.`,
      });
    });

    it("revoke appends one token.revoke event naming the token and its binding", async () => {
      const site = await makeSite();
      const { token, row } = await tokens.createRuntimeToken(ctx, site, "test");
      const events = await auditOf(() => tokens.revoke(ctx, row.id));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        action: "token.revoke",
        actor: ctx.actor,
        requestId: "req-tok",
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
      const a = await tokens.createUserToken(ctx, user);
      const b = await tokens.createUserToken(ctx, user);
      const c = await tokens.createRuntimeToken(ctx, site, "dev");
      const d = await tokens.createBuildToken(ctx, site, "dev");
      await tokens.revoke(ctx, b.row.id);
      const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id).sort();
      expect(ids(await tokens.list({ userId: user.id }))).toEqual(ids([a.row, b.row]));
      expect(ids(await tokens.list({ siteId: site.id }))).toEqual(ids([c.row, d.row]));
      expect(
        (await tokens.list({ userId: user.id })).find((r) => r.id === b.row.id)?.revokedAt,
      ).not.toBeNull();
    });
  });
});
