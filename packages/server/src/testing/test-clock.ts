/**
 * A clock a test moves by hand: give `now` to the code under test (`createTestLockbox(db, { now:
 * clock.now })`), and run what should happen later inside `later`.
 */
export class TestClock {
  #current = new Date();

  /** The clock's time, for the code under test. */
  readonly now = (): Date => this.#current;

  /** Runs `fn` with the clock moved `ms` ahead, then puts it back (also when `fn` throws). */
  async later(ms: number, fn: () => Promise<void>): Promise<void> {
    const start = this.#current;
    this.#current = new Date(start.getTime() + ms);
    try {
      await fn();
    } finally {
      this.#current = start;
    }
  }
}
