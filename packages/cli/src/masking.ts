/** The shortest value that is masked: shorter ones would mask ordinary text. */
export const MIN_MASKED_LENGTH = 4;

/**
 * The strings to hide for a set of secret values: each value of 4 or more characters, each line
 * of a multi-line value (a PEM key printed line by line), and the forms tools print values in
 * (JSON-escaped, URL-encoded), longest first.
 */
export function maskNeedles(values: Iterable<string>): string[] {
  const needles = new Set<string>();
  const add = (text: string) => {
    if (text.length >= MIN_MASKED_LENGTH) needles.add(text);
  };
  for (const value of values) {
    add(value);
    for (const line of value.split(/\r?\n/)) add(line.trim());
    add(JSON.stringify(value).slice(1, -1));
    add(encodeURIComponent(value));
  }
  return [...needles].sort((a, b) => b.length - a.length);
}

/**
 * Replaces every occurrence of the needles in a stream of text with `***`, also when an
 * occurrence is split across chunks: the end of a chunk that could still begin a needle is held
 * back until the next chunk (or `end()`), and nothing else is delayed.
 */
export class Masker {
  readonly #needles: string[];
  readonly #pattern: RegExp | undefined;
  #pending = "";

  constructor(needles: readonly string[]) {
    this.#needles = [...needles];
    this.#pattern =
      needles.length === 0
        ? undefined
        : new RegExp(needles.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
  }

  /** Masks `chunk` (with what was held back) and returns what can be written now. */
  push(chunk: string): string {
    if (!this.#pattern) return chunk;
    const text = (this.#pending + chunk).replace(this.#pattern, "***");
    const hold = this.#heldBackLength(text);
    this.#pending = text.slice(text.length - hold);
    return text.slice(0, text.length - hold);
  }

  /** Returns what is still held back, masked. */
  end(): string {
    const rest = this.#pattern ? this.#pending.replace(this.#pattern, "***") : this.#pending;
    this.#pending = "";
    return rest;
  }

  /** The length of the longest end of `text` that is a proper prefix of some needle. */
  #heldBackLength(text: string): number {
    let longest = 0;
    for (const needle of this.#needles) {
      const max = Math.min(needle.length - 1, text.length);
      for (let k = max; k > longest; k--) {
        if (text.endsWith(needle.slice(0, k))) {
          longest = k;
          break;
        }
      }
    }
    return longest;
  }
}
