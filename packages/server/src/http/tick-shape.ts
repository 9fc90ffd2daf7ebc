/**
 * Keeps one of `process.nextTick`'s tick objects alive for the life of the process, so that V8 keeps
 * Node's stream code on its fast path (docs/architecture.md, "The tick object's shape").
 *
 * Node's `nextTick` builds each tick as `{ [async_id_symbol]: …, [trigger_async_id_symbol]: …,
 * callback, args }`. For a computed key in an object literal, V8 records the map (the hidden class)
 * the object had at that key, held weakly, and turns the site megamorphic for good as soon as it sees
 * another map, a cleared one included. Tick objects live for one turn of the event loop, so a full
 * garbage collection while none is alive frees the map of the second key; the next tick builds a new
 * one, the site turns megamorphic, and from then on every optimized stream function that inlines
 * `nextTick` (`onwrite`, `endReadable`, `resume`, …) calls into V8's runtime for each tick
 * (`Runtime_DefineKeyedOwnPropertyInLiteral`): 1.3 – 2.5 µs per request on the runtime route. A server
 * process runs full collections while it starts (it opens the store, builds the app), and an idle
 * server runs them too; a small process may never run one. One tick object kept alive keeps its map,
 * and the maps before it, alive, so the site stays monomorphic.
 *
 * Call it as early as possible in the process (the CLI's bin does, before it loads anything else):
 * once the site has turned megamorphic nothing turns it back. Later calls do nothing.
 */
import { createHook } from "node:async_hooks";

let kept: object | undefined;

/** Captures one tick object (through a one-shot `init` hook) and keeps it; idempotent. */
export function keepTickShape(): void {
  if (kept !== undefined) return;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === "TickObject" && kept === undefined) kept = resource;
    },
  });
  hook.enable();
  try {
    process.nextTick(keptTickCallback);
  } finally {
    hook.disable();
  }
}

/** The tick object kept by {@link keepTickShape}, for its test. */
export function keptTickObject(): object | undefined {
  return kept;
}

function keptTickCallback(): void {}
