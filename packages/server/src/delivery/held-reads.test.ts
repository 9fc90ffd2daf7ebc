import { describe, expect, it } from "vitest";
import { type HeldRead, HeldReads } from "./held-reads.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function read(siteId: string, tokenId: string, deadlineMs: number, log: string[]): HeldRead {
  return {
    siteId,
    tokenId,
    deadlineMs,
    onWake: () => log.push(`wake ${siteId}/${tokenId}`),
    onExpire: () => log.push(`expire ${siteId}/${tokenId}`),
  };
}

describe("HeldReads", () => {
  it("wakes a site's reads on a site change, a token's on a token change, and all on an org change", async () => {
    const held = new HeldReads(10);
    const log: string[] = [];
    const far = Date.now() + 60_000;
    const releases = [
      held.hold(read("s1", "t1", far, log), held.generation),
      held.hold(read("s1", "t2", far, log), held.generation),
      held.hold(read("s2", "t3", far, log), held.generation),
    ];
    held.wake({ kind: "site", id: "s1" });
    expect(log.splice(0).sort()).toEqual(["wake s1/t1", "wake s1/t2"]);
    held.wake({ kind: "token", id: "t3" });
    expect(log.splice(0)).toEqual(["wake s2/t3"]);
    held.wake({ kind: "org", id: "o" });
    expect(log.splice(0)).toHaveLength(3);
    held.wake(undefined);
    expect(log.splice(0)).toHaveLength(3);
    for (const release of releases) release?.();
    expect(held.count).toBe(0);
    held.wake({ kind: "org", id: "o" });
    expect(log).toEqual([]);
  });

  it("wakes on an org change only the reads of sites it concerns, in the order they arrived", () => {
    const held = new HeldReads(10);
    const log: string[] = [];
    const far = Date.now() + 60_000;
    const orgOf: Record<string, string> = { s1: "o1", s2: "o2", s3: "o1" };
    for (const [site, token] of [
      ["s3", "t1"],
      ["s2", "t2"],
      ["s1", "t3"],
      ["s3", "t4"],
      ["unknown", "t5"],
    ] as const) {
      held.hold(read(site, token, far, log), held.generation);
    }
    // What Delivery passes on: its sites, and sites whose owner it does not know.
    const concerns = (siteId: string) => orgOf[siteId] === undefined || orgOf[siteId] === "o1";
    held.wake({ kind: "org", id: "o1", concerns });
    expect(log.splice(0)).toEqual(["wake s3/t1", "wake s1/t3", "wake s3/t4", "wake unknown/t5"]);
    held.wake(undefined);
    expect(log.splice(0)).toEqual([
      "wake s3/t1",
      "wake s2/t2",
      "wake s1/t3",
      "wake s3/t4",
      "wake unknown/t5",
    ]);
  });

  it("ends reads past their deadline with one shared interval, and refuses past the cap", async () => {
    const held = new HeldReads(2);
    const log: string[] = [];
    const releases: Array<(() => void) | undefined> = [];
    const hold = (site: string, deadline: number) => {
      const r = read(site, "t", deadline, log);
      const onExpire = () => {
        r.onExpire();
        release?.();
      };
      const release = held.hold({ ...r, onExpire }, held.generation);
      releases.push(release);
      return release;
    };
    expect(hold("soon", Date.now() + 100)).toBeDefined();
    expect(hold("late", Date.now() + 60_000)).toBeDefined();
    expect(hold("over", Date.now() + 100)).toBeUndefined();
    // A deadline rounded up to its 250 ms bucket, found by the next tick: at most ~500 ms late.
    await sleep(900);
    expect(log).toEqual(["expire soon/t"]);
    expect(held.count).toBe(1);
    held.close();
    expect(log).toEqual(["expire soon/t", "expire late/t"]);
    expect(held.count).toBe(0);
    expect(held.hold(read("after", "t", Date.now() + 1000, log), held.generation)).toBeUndefined();
  });

  it("wakes a read at once when a change came between resolving its set and holding it", async () => {
    const held = new HeldReads(10);
    const log: string[] = [];
    const generation = held.generation;
    held.wake({ kind: "site", id: "elsewhere" });
    const release = held.hold(read("s1", "t1", Date.now() + 60_000, log), generation);
    await Promise.resolve();
    expect(log).toEqual(["wake s1/t1"]);
    release?.();
  });
});
