import { clearInterval, clearTimeout, setInterval, setTimeout } from "node:timers";

/** What one blocking read (`GET /site/secrets?wait=`) told the watch loop. */
export interface WatchAnswer {
  /** The set differs from the one held before the read. */
  readonly changed: boolean;
  /** The server asked to wait this long before the next read (over its cap of held reads). */
  readonly retryAfterMs: number | undefined;
}

/** The side of a client the loop drives: one blocking read at a time. */
export interface Watchable {
  /** One blocking read of at most `waitSeconds`; rejects on any failure (the cached set is kept). */
  watchOnce(waitSeconds: number, signal: AbortSignal): Promise<WatchAnswer>;
}

/** Seconds a blocking read asks the server to hold it (under 5 minutes, the server's maximum). */
export const DEFAULT_WATCH_SECONDS = 90;
/** Backoff after failures: from 1 s, doubling, at most 30 s, each with up to half of it as jitter. */
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
/** Least time between two blocking reads that both answered at once (a server without `wait`). */
const MIN_ROUND_MS = 1000;
/**
 * Longest `Retry-After` obeyed (the server's longest wait): a timer cannot wait much longer (past
 * 2^31 - 1 ms Node fires it at once), and a watch asleep for days is no watch.
 */
const MAX_RETRY_AFTER_MS = 300_000;

/**
 * Keeps a set fresh by blocking reads, one after the other, until {@link stop}. A read that answers
 * at once without a change (the server is shutting down, or does not hold reads) is followed by a
 * pause, a failure by a backoff with jitter (so that clients of a restarted server do not all come
 * back at the same moment). Until its first read has an outcome (handed to `onChange` or
 * `onError`) the loop keeps the process alive, as an awaited read would: a process that only
 * watches would otherwise exit before it has seen its set. After that its timers are unref'd, as
 * are the sources' sockets and timers: the loop never keeps the process alive on its own.
 */
export class WatchLoop {
  readonly #source: Watchable;
  readonly #waitSeconds: number;
  readonly #onChange: () => void;
  readonly #onError: (error: unknown, failures: number) => void;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #setTimer: typeof setTimeout;
  readonly #controller = new AbortController();
  #wakeSleep: (() => void) | undefined;
  /**
   * A ref'd timer that does nothing, from the start until the first read's outcome has been handed
   * on (or {@link stop}): what keeps the process alive meanwhile, whatever the source unrefs.
   */
  #holdUntilFirst: ReturnType<typeof setInterval> | undefined = setInterval(() => {}, 2 ** 31 - 1);
  /** Resolves when the loop has ended. */
  readonly done: Promise<void>;

  constructor(
    source: Watchable,
    options: {
      waitSeconds?: number;
      onChange: () => void;
      /** Each failed read, with how many have failed in a row (1: an outage begins). */
      onError?: (error: unknown, failures: number) => void;
      random?: () => number;
      now?: () => number;
      /** The timer of each pause (`setTimeout` of node:timers unless a test watches the pauses). */
      setTimer?: typeof setTimeout;
    },
  ) {
    this.#source = source;
    this.#waitSeconds = options.waitSeconds ?? DEFAULT_WATCH_SECONDS;
    this.#onChange = options.onChange;
    this.#onError = options.onError ?? (() => {});
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => performance.now());
    this.#setTimer = options.setTimer ?? setTimeout;
    this.done = this.#run();
  }

  get stopped(): boolean {
    return this.#controller.signal.aborted;
  }

  /** Ends the loop: aborts the read in flight and any pause. */
  stop(): void {
    this.#controller.abort();
    this.#wakeSleep?.();
    this.#letGo();
  }

  /** The first outcome was handed on: from now on, only the application keeps the process alive. */
  #letGo(): void {
    clearInterval(this.#holdUntilFirst);
    this.#holdUntilFirst = undefined;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const started = this.#now();
      try {
        const answer = await this.#source.watchOnce(this.#waitSeconds, this.#controller.signal);
        if (this.stopped) return;
        failures = 0;
        if (answer.changed) this.#callback(this.#onChange);
        this.#letGo();
        // Never less than a round's pause (a `Retry-After: 0` would make the loop spin), never more
        // than the longest wait.
        if (answer.retryAfterMs !== undefined)
          await this.#sleep(
            this.#jittered(Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_ROUND_MS, answer.retryAfterMs))),
          );
        else if (!answer.changed && this.#now() - started < MIN_ROUND_MS)
          await this.#sleep(this.#jittered(MIN_ROUND_MS));
      } catch (error) {
        if (this.stopped) return;
        failures++;
        this.#callback(() => this.#onError(error, failures));
        this.#letGo();
        const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (failures - 1));
        await this.#sleep(this.#jittered(backoff));
      }
    }
  }

  /** `ms` plus up to half of it again, at random. */
  #jittered(ms: number): number {
    return ms + Math.floor(this.#random() * (ms / 2));
  }

  /** A listener that throws must not end the loop. */
  #callback(fn: () => void): void {
    try {
      fn();
    } catch {
      // The application's listener failed; the loop keeps the set fresh regardless.
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.#setTimer(() => {
        this.#wakeSleep = undefined;
        resolve();
      }, ms);
      timer.unref();
      this.#wakeSleep = () => {
        clearTimeout(timer);
        this.#wakeSleep = undefined;
        resolve();
      };
    });
  }
}
