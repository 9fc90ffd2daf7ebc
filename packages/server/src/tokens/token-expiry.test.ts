import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Caller } from "../directory/caller.js";
import type { SiteRow, UserRow } from "../directory/records.js";
import type { Lockbox } from "../lockbox.js";
import { TestClock } from "../testing/test-clock.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { auditOf, createTestLockbox, testCaller } from "../testing/test-lockbox.js";

const UNAUTHENTICATED = { code: "UNAUTHENTICATED", message: "The token is invalid, expired or revoked." };
const message = (text: string) =>
  `Invalid expiresIn '${text}': use a whole number of minutes, hours or days such as 30m, 12h, 7d or 90d, from 1m to 365d.`;

/** `expiresIn` on every kind of token: how it sets the expiry, what it refuses, and that expiry is enforced. */
describe.each(await contractDatabases())("TokenService expiry ($name)", ({ create }) => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  let admin: Caller;
  const clock = new TestClock();

  beforeAll(async () => {
    database = await create();
    lockbox = await createTestLockbox(database, { now: clock.now });
    admin = await testCaller(lockbox, { admin: true });
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
  const userToken = (user: UserRow, expiresIn?: string) =>
    lockbox.tokens.createToken(admin, { kind: "user", user: user.email, expiresIn });
  const siteToken = (kind: "runtime" | "build", site: SiteRow, env: string, expiresIn?: string) =>
    lockbox.tokens.createToken(admin, { kind, site: site.name, env, expiresIn });

  it("expiresIn sets the expiry of user, runtime and build tokens from now; without it there is none", async () => {
    const user = await makeUser();
    const site = await makeSite();
    const at = (ms: number) => new Date(clock.now().getTime() + ms).toISOString();
    expect((await userToken(user, "30m")).row.expiresAt).toBe(at(30 * 60_000));
    expect((await siteToken("runtime", site, "live", "12h")).row.expiresAt).toBe(at(12 * 3_600_000));
    expect((await siteToken("build", site, "dev", "90d")).row.expiresAt).toBe(at(90 * 86_400_000));
    expect((await siteToken("runtime", site, "test", "365d")).row.expiresAt).toBe(at(365 * 86_400_000));
    expect((await userToken(user)).row.expiresAt).toBeNull();
    expect((await siteToken("runtime", site, "live")).row.expiresAt).toBeNull();
  });

  it("refuses a zero, negative, malformed or over-365-day expiresIn with VALIDATION_FAILED, minting nothing", async () => {
    const user = await makeUser();
    const site = await makeSite();
    const events = await auditOf(lockbox, async () => {
      for (const expiresIn of ["0d", "-1d", "1.5h", "30", "7 d", "2w", "366d", "8761h", "99999999999d", ""]) {
        const expected = { code: "VALIDATION_FAILED", message: message(expiresIn) };
        await expect(userToken(user, expiresIn), expiresIn).rejects.toMatchObject(expected);
        await expect(siteToken("runtime", site, "live", expiresIn), expiresIn).rejects.toMatchObject(
          expected,
        );
        await expect(siteToken("build", site, "dev", expiresIn), expiresIn).rejects.toMatchObject(expected);
      }
    });
    expect(events).toEqual([]);
    expect(await lockbox.tokens.list(admin, { user: user.email })).toEqual([]);
    expect(await lockbox.tokens.list(admin, { site: site.name })).toEqual([]);
  });

  it("refuses user, runtime and build tokens from the moment they expire", async () => {
    const user = await makeUser();
    const site = await makeSite();
    const minted = [
      await userToken(user, "1m"),
      await siteToken("runtime", site, "live", "1m"),
      await siteToken("build", site, "dev", "1m"),
    ];
    for (const { token, row } of minted) {
      expect(row.expiresAt).toBe(new Date(clock.now().getTime() + 60_000).toISOString());
      expect((await lockbox.tokens.authenticate(token)).id).toBe(row.id);
    }
    await clock.later(59_999, async () => {
      for (const { token, row } of minted) expect((await lockbox.tokens.authenticate(token)).id).toBe(row.id);
    });
    await clock.later(60_000, async () => {
      for (const { token } of minted) {
        await expect(lockbox.tokens.authenticate(token)).rejects.toMatchObject(UNAUTHENTICATED);
      }
      await expect(lockbox.tokens.authenticateUser(minted[0]?.token ?? "")).rejects.toMatchObject(
        UNAUTHENTICATED,
      );
    });
  });
});
