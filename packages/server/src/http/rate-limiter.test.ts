import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limiter.js";

const T0 = 1_000_000;

/** How many of `count` requests at `nowMs` are allowed. */
function allowed(limiter: RateLimiter, key: string, count: number, nowMs: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) if (limiter.take(key, nowMs) === 0) n++;
  return n;
}

describe("RateLimiter", () => {
  it("allows a burst of `burst` requests at once, then refuses", () => {
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 20 });
    expect(allowed(limiter, "t", 20, T0)).toBe(20);
    expect(limiter.take("t", T0)).toBeGreaterThan(0);
  });

  it("refills at ratePerSecond: one more request every 1/rate seconds, never above the burst", () => {
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 20 });
    expect(allowed(limiter, "t", 20, T0)).toBe(20);
    expect(allowed(limiter, "t", 5, T0 + 99)).toBe(0);
    expect(allowed(limiter, "t", 5, T0 + 100)).toBe(1);
    expect(allowed(limiter, "t", 5, T0 + 400)).toBe(3);
    // An hour idle refills to the burst, not to 36 000.
    expect(allowed(limiter, "t", 30, T0 + 3_600_000)).toBe(20);
  });

  it("a refused request takes nothing from the bucket", () => {
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 1 });
    expect(limiter.take("t", T0)).toBe(0);
    for (let ms = 0; ms < 100; ms += 10) expect(limiter.take("t", T0 + ms)).toBeGreaterThan(0);
    expect(limiter.take("t", T0 + 100)).toBe(0);
  });

  it("says how many whole seconds to wait, rounded up and at least 1", () => {
    const slow = new RateLimiter({ ratePerSecond: 0.25, burst: 1 });
    expect(slow.take("t", T0)).toBe(0);
    expect(slow.take("t", T0)).toBe(4);
    expect(slow.take("t", T0 + 1000)).toBe(3);
    expect(slow.take("t", T0 + 3500)).toBe(1);
    expect(slow.take("t", T0 + 4000)).toBe(0);
    const fast = new RateLimiter({ ratePerSecond: 10, burst: 1 });
    expect(fast.take("t", T0)).toBe(0);
    expect(fast.take("t", T0)).toBe(1);
  });

  it("keeps one bucket per key", () => {
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 2 });
    expect(allowed(limiter, "a", 3, T0)).toBe(2);
    expect(allowed(limiter, "b", 3, T0)).toBe(2);
  });

  it("treats a burst below 1 as 1, so a limit can always be met", () => {
    const limiter = new RateLimiter({ ratePerSecond: 5, burst: 0 });
    expect(allowed(limiter, "t", 3, T0)).toBe(1);
  });

  it("keeps at most maxKeys buckets, forgetting the least recently used (a forgotten bucket is full)", () => {
    const limiter = new RateLimiter({ ratePerSecond: 0.001, burst: 1, maxKeys: 2 });
    expect(limiter.take("a", T0)).toBe(0);
    expect(limiter.take("b", T0)).toBe(0);
    // A refused request is a use too: a becomes the most recently used.
    expect(limiter.take("a", T0)).toBeGreaterThan(0);
    expect(limiter.take("c", T0)).toBe(0);
    // b was forgotten (full again); a and c are still empty.
    expect(limiter.take("a", T0)).toBeGreaterThan(0);
    expect(limiter.take("c", T0)).toBeGreaterThan(0);
    expect(limiter.take("b", T0)).toBe(0);
  });
});
