import { LockboxError, quoteIdentifier } from "@lockbox/core";
import type { Delivery } from "./delivery.js";
import type { HeldReads } from "./held-reads.js";
import type { MachineIdentity } from "./machine-token-cache.js";
import type { RuntimePayload } from "./runtime-payload.js";

/** Longest `?wait=` of `GET /site/secrets`, in seconds. */
export const MAX_WAIT_SECONDS = 300;

/** Seconds a client over the held-request cap is told to wait before asking again. */
export const HELD_CAP_RETRY_AFTER_SECONDS = 5;

/** Parses `?wait=`: absent is 0 (answer at once); a whole number of seconds from 0 to 300. */
export function parseWait(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value === "string" && /^\d{1,3}$/.test(value) && Number(value) <= MAX_WAIT_SECONDS) {
    return Number(value);
  }
  throw new LockboxError(
    "BAD_REQUEST",
    `Invalid wait ${quoteIdentifier(Array.isArray(value) ? value.join(",") : String(value))}: use a whole number of seconds from 0 to ${MAX_WAIT_SECONDS} (once), for example ?wait=60.`,
  );
}

/** How a held read ended. */
export type HoldOutcome =
  /** The set changed: answer it. */
  | { readonly kind: "changed"; readonly payload: RuntimePayload }
  /** The wait ended, the server is closing, or the client went away: answer 304. */
  | { readonly kind: "unchanged" }
  /** The cap of held reads is reached: answer 304 with Retry-After at once. */
  | { readonly kind: "busy" };

/**
 * Holds a runtime read whose client has the current set (`etag`) until the set changes, the wait
 * ends or the client goes away (`closed`). Each wake re-identifies the token (a revoked token's
 * read rejects with UNAUTHENTICATED) and re-resolves the set; it answers only if the Version changed.
 * While the store is unreachable, both fall back to what was last known, so the read keeps waiting.
 * A token that expires before the wait ends ends it then (the caller re-identifies: 401), rather than
 * hold a connection for up to {@link MAX_WAIT_SECONDS} on a token that is no longer good.
 */
export function holdUntilChanged(
  delivery: Pick<Delivery, "identify" | "runtimeSet" | "nowMs">,
  held: HeldReads,
  read: {
    readonly token: string;
    readonly identity: MachineIdentity;
    readonly etag: string;
    readonly waitMs: number;
    /** {@link HeldReads.generation} read before the token was authenticated and the set resolved. */
    readonly generation: number;
    /** Registers what to do when the client goes away (called at once if it has gone); returns its removal. */
    readonly onClientGone: (listener: () => void) => () => void;
  },
): Promise<HoldOutcome> {
  return new Promise<HoldOutcome>((resolve, reject) => {
    let done = false;
    let checking = false;
    let again = false;
    let release: (() => void) | undefined;
    let forget: (() => void) | undefined;
    const finish = (end: () => void) => {
      if (done) return;
      done = true;
      release?.();
      forget?.();
      end();
    };
    const check = async () => {
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        do {
          again = false;
          const identity = await delivery.identify(read.token, "runtime");
          const payload = await delivery.runtimeSet(identity);
          if (payload.etag !== read.etag) {
            finish(() => resolve({ kind: "changed", payload }));
            return;
          }
        } while (again && !done);
      } catch (error) {
        finish(() => reject(error));
      } finally {
        checking = false;
      }
    };
    release = held.hold(
      {
        siteId: read.identity.siteId,
        tokenId: read.identity.tokenId,
        deadlineMs: Date.now() + waitMsOf(read.identity, read.waitMs, delivery.nowMs()),
        onWake: () => {
          if (!done) void check();
        },
        onExpire: () => finish(() => resolve({ kind: "unchanged" })),
      },
      read.generation,
    );
    if (!release) {
      done = true;
      resolve({ kind: "busy" });
      return;
    }
    forget = read.onClientGone(() => finish(() => resolve({ kind: "unchanged" })));
  });
}

/**
 * How long to hold: the wait, or until the token expires when that comes first (its expiry is read
 * against the clock tokens are judged by, `nowMs`).
 */
function waitMsOf(identity: MachineIdentity, waitMs: number, nowMs: number): number {
  const { expiresAtMs } = identity;
  if (expiresAtMs === null || !Number.isFinite(expiresAtMs)) return waitMs;
  return Math.max(0, Math.min(waitMs, expiresAtMs - nowMs));
}
