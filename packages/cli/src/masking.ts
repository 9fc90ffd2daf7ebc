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
 *
 * Needles are replaced longest first, by plain string search: a regular expression of every
 * needle exceeded V8's size limit for a build of large non-ASCII values (12 KB of `é` is 72 KB
 * URL-encoded), and its error message quoted every value.
 */
export class Masker {
  readonly #needles: string[];
  #pending = "";

  /** `needles` as {@link maskNeedles} gives them: longest first. */
  constructor(needles: readonly string[]) {
    this.#needles = [...needles].sort((a, b) => b.length - a.length);
  }

  /** Masks `chunk` (with what was held back) and returns what can be written now. */
  push(chunk: string): string {
    if (this.#needles.length === 0) return chunk;
    const text = this.#mask(this.#pending + chunk);
    const hold = this.#heldBackLength(text);
    this.#pending = text.slice(text.length - hold);
    return text.slice(0, text.length - hold);
  }

  /** Returns what is still held back, masked. */
  end(): string {
    const rest = this.#mask(this.#pending);
    this.#pending = "";
    return rest;
  }

  #mask(text: string): string {
    let masked = text;
    for (const needle of this.#needles) {
      if (masked.includes(needle)) masked = masked.split(needle).join("***");
    }
    return masked;
  }

  /** The length of the longest end of `text` that is a proper prefix of some needle. */
  #heldBackLength(text: string): number {
    let longest = 0;
    for (const needle of this.#needles) {
      const first = needle.charCodeAt(0);
      // Candidate starts, earliest (longest end) first; only ends longer than the best so far.
      for (let i = Math.max(0, text.length - (needle.length - 1)); i < text.length - longest; i++) {
        if (text.charCodeAt(i) === first && needle.startsWith(text.slice(i))) {
          longest = text.length - i;
          break;
        }
      }
    }
    return longest;
  }
}
