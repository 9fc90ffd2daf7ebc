import { describe, expect, it } from "vitest";
import type { AuditEventInput } from "../audit/records.js";
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
    return { deliver, recorded };
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
