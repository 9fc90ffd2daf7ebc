import { describe, expect, it } from "vitest";
import { keepTickShape, keptTickObject } from "./tick-shape.js";

// What keeping the tick's shape buys is measured by bench/tick-shape.ts; here, that it keeps a real
// tick object of Node's `process.nextTick`, once.
describe("keepTickShape", () => {
  it("keeps one tick object built by process.nextTick, and only the first", async () => {
    keepTickShape();
    const tick = keptTickObject() as Record<string | symbol, unknown> | undefined;
    expect(tick).toBeDefined();
    // Node's tick: { [async_id_symbol], [trigger_async_id_symbol], callback, args }.
    expect(Object.getOwnPropertySymbols(tick).map(String)).toEqual([
      "Symbol(async_id_symbol)",
      "Symbol(trigger_async_id_symbol)",
    ]);
    expect(Object.keys(tick ?? {})).toEqual(["callback", "args"]);
    expect(typeof tick?.callback).toBe("function");

    keepTickShape();
    await new Promise<void>((resolve) => process.nextTick(resolve));
    expect(keptTickObject()).toBe(tick);
  });
});
