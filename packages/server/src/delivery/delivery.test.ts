import { randomUUID } from "node:crypto";
import { LockboxError } from "@lockbox/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { AuditEventInput } from "../audit/records.js";
import { StoreUnavailableError } from "../db/store-faults.js";
import type { Caller } from "../directory/caller.js";
import type { Lockbox } from "../lockbox.js";
import type { DeliveredSecret } from "../secrets/secret-views.js";
import { contractDatabases, type TestDatabase } from "../testing/test-databases.js";
import { createTestLockbox, testCaller } from "../testing/test-lockbox.js";
import type { TokenRow } from "../tokens/records.js";
import { Delivery } from "./delivery.js";
import type { MachineIdentity } from "./machine-token-cache.js";

const identity: MachineIdentity = {
  tokenId: "token-1",
  kind: "runtime",
  siteId: "site-1",
  env: "live",
  expiresAtMs: null,
};

const unused = () => Promise.reject(new Error("not used by recordDelivery()"));

describe("Delivery.recordDelivery()", () => {
  function setUp(maxRememberedDeliveries: number) {
    const recorded: AuditEventInput[] = [];
    const delivery = new Delivery(
      {
        secrets: { resolveForDelivery: unused },
        tokens: { authenticate: unused },
        sites: { findSiteById: unused },
        audit: { record: (event) => recorded.push(event) },
      },
      { maxRememberedDeliveries },
    );
    /** Delivers `version` and says whether that was audited. */
    const deliver = (version: string, tokenId = identity.tokenId): boolean => {
      const before = recorded.length;
      delivery.recordDelivery({ ...identity, tokenId }, version, "req-1");
      return recorded.length > before;
    };
    return { delivery, deliver, recorded };
  }

  it("audits the first delivery of each version to each token only", () => {
    const { deliver, recorded } = setUp(100);
    expect([deliver("v1"), deliver("v1"), deliver("v2"), deliver("v1", "token-2")]).toEqual([
      true,
      false,
      true,
      true,
    ]);
    expect(recorded[0]).toEqual({
      actor: "token:token-1",
      action: "runtime.deliver",
      target: "site:site-1/version:v1",
      environment: "live",
      siteId: "site-1",
      outcome: "success",
      requestId: "req-1",
    });
  });

  it("asks for a request id given as a function only when it records the delivery", () => {
    const { delivery, recorded } = setUp(100);
    let asked = 0;
    const requestId = () => `req-${++asked}`;
    delivery.recordDelivery(identity, "v1", requestId);
    delivery.recordDelivery(identity, "v1", requestId);
    expect([asked, recorded.map((event) => event.requestId)]).toEqual([1, ["req-1"]]);
  });

  it("remembers at most maxRememberedDeliveries, so a forgotten one is audited again", () => {
    const { deliver } = setUp(2);
    expect([deliver("v1"), deliver("v2"), deliver("v3")]).toEqual([true, true, true]);
    expect([deliver("v3"), deliver("v1")]).toEqual([false, true]);
  });

  it("forgets the least recently delivered first: a set still being delivered is not audited again", () => {
    const { deliver } = setUp(2);
    expect([deliver("v1"), deliver("v2"), deliver("v1"), deliver("v3")]).toEqual([true, true, false, true]);
    expect([deliver("v1"), deliver("v2")]).toEqual([false, true]);
  });
});

describe("Delivery while the store is unreachable", () => {
  /** A store that answers, refuses, or is down; `value` is what API_KEY resolves to. */
  function setUp() {
    const store = { down: false, value: "v1", revoked: new Set<string>(), reads: 0 };
    const row = (token: string): TokenRow => ({
      id: `id-${token}`,
      kind: "runtime",
      hash: "",
      userId: null,
      userEmail: null,
      siteId: "site-1",
      siteName: "site-1",
      environmentId: "env-1",
      environmentName: token.endsWith("dev") ? "dev" : "live",
      createdBy: null,
      createdAt: "2030-01-01T00:00:00.000Z",
      expiresAt: null,
      lastUsedAt: null,
      revokedAt: null,
    });
    const delivery = new Delivery({
      secrets: {
        resolveForDelivery: async (): Promise<DeliveredSecret[]> => {
          store.reads++;
          if (store.down) throw new StoreUnavailableError();
          return [{ name: "API_KEY", type: "runtime", scopes: ["web"], value: store.value }];
        },
      },
      tokens: {
        authenticate: async (token) => {
          if (store.down) throw new StoreUnavailableError();
          if (store.revoked.has(token)) throw new LockboxError("UNAUTHENTICATED", "revoked");
          return row(token);
        },
      },
      sites: { findSiteById: unused },
      audit: { record: () => {} },
    });
    const read = async (token: string) => {
      const set = await delivery.runtimeSet(await delivery.identify(token, "runtime"));
      return JSON.parse(set.body.toString()).Secrets.API_KEY.Value as string;
    };
    return { delivery, store, read };
  }

  it("serves a seen token the set last delivered, and refuses an unseen token or set with UNAVAILABLE", async () => {
    const { delivery, store, read } = setUp();
    expect(await read("lbr_live")).toBe("v1");
    await delivery.identify("lbr_dev", "runtime");
    store.down = true;
    // The change listener went with the store.
    delivery.setCaching(false);
    expect(await read("lbr_live")).toBe("v1");
    await expect(read("lbr_never")).rejects.toBeInstanceOf(StoreUnavailableError);
    // A known token whose set this server never delivered.
    await expect(read("lbr_dev")).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it("revalidates once the store is back: a change whose notification was lost is served", async () => {
    const { delivery, store, read } = setUp();
    expect(await read("lbr_live")).toBe("v1");
    delivery.setCaching(false);
    store.down = true;
    expect(await read("lbr_live")).toBe("v1");
    // Committed by another server while this one was not listening.
    store.down = false;
    store.value = "v2";
    expect(await read("lbr_live")).toBe("v2");
    store.value = "v3";
    delivery.setCaching(true);
    // Listening again: what was cached before is read again once, then served from the cache.
    expect(await read("lbr_live")).toBe("v3");
    const reads = store.reads;
    expect(await read("lbr_live")).toBe("v3");
    expect(store.reads).toBe(reads);
  });

  it("does not vouch in an outage for a token the store refused since", async () => {
    const { delivery, store, read } = setUp();
    expect(await read("lbr_live")).toBe("v1");
    delivery.setCaching(false);
    store.revoked.add("lbr_live");
    await expect(read("lbr_live")).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
    store.down = true;
    await expect(read("lbr_live")).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe.each(await contractDatabases())("Delivery.identify() and token expiry ($name)", ({ create }) => {
  let database: TestDatabase;
  let lockbox: Lockbox;
  let admin: Caller;
  let clock = new Date();

  beforeAll(async () => {
    database = await create();
    // One clock for the whole composition root: the token service and the delivery cache.
    lockbox = await createTestLockbox(database, { now: () => clock });
    lockbox.delivery.setCaching(true);
    admin = await testCaller(lockbox, { admin: true });
  });
  afterAll(async () => {
    await lockbox?.close();
    await database?.drop();
  });

  it("a cached runtime or build token stops working at its expiry, without another store read", async () => {
    const org = await lockbox.orgs.createOrg(admin, `org-${randomUUID().slice(0, 8)}`);
    const site = await lockbox.sites.createSite(admin, {
      name: `site-${randomUUID().slice(0, 8)}`,
      org: org.name,
    });
    const start = clock;
    for (const [kind, env] of [
      ["runtime", "live"],
      ["build", "dev"],
    ] as const) {
      const { token, row } = await lockbox.tokens.createToken(admin, {
        kind,
        site: site.name,
        env,
        expiresIn: "1h",
      });
      expect((await lockbox.delivery.identify(token, kind)).tokenId).toBe(row.id);
      const authenticate = vi.spyOn(lockbox.tokens, "authenticate");
      try {
        clock = new Date(start.getTime() + 3_600_000 - 1);
        expect((await lockbox.delivery.identify(token, kind)).tokenId).toBe(row.id);
        // Served from the machine token cache: the store was not asked again.
        expect(authenticate).not.toHaveBeenCalled();
        clock = new Date(start.getTime() + 3_600_000);
        await expect(lockbox.delivery.identify(token, kind)).rejects.toMatchObject({
          code: "UNAUTHENTICATED",
          message: "The token is invalid, expired or revoked.",
        });
      } finally {
        authenticate.mockRestore();
        clock = start;
      }
    }
  });
});
