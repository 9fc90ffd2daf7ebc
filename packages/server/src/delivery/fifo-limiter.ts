/**
 * Runs at most `limit` tasks at once; the others start in the order they were given (first in,
 * first out), so that a burst of work finishes in the order it arrived rather than all at the end.
 */
export class FifoLimiter {
  #active = 0;
  /** Waiting starts; `#head` is the next one (an index, so taking one is O(1)). */
  #queue: Array<(() => void) | undefined> = [];
  #head = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`The concurrency limit must be a positive whole number, not ${limit}.`);
    }
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting to start. */
  get waiting(): number {
    return this.#queue.length - this.#head;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) {
      await new Promise<void>((start) => this.#queue.push(start));
    } else {
      this.#active++;
    }
    try {
      return await task();
    } finally {
      this.#next();
    }
  }

  /** Hands this task's slot to the next waiting one, or frees it. */
  #next(): void {
    const start = this.#queue[this.#head];
    if (start) {
      this.#queue[this.#head] = undefined;
      this.#head++;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      start();
    } else {
      this.#queue = [];
      this.#head = 0;
      this.#active--;
    }
  }
}
