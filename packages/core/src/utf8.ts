/**
 * The number of bytes `text` takes in UTF-8, as `Buffer.byteLength(text, "utf8")` and
 * `new TextEncoder().encode(text).length` count it, without allocating. A lone surrogate counts
 * 3 bytes, the size of the U+FFFD that an encoder writes in its place.
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) {
      bytes += 1;
    } else if (unit < 0x800) {
      bytes += 2;
    } else if (unit >= 0xd800 && unit <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else {
      bytes += 3;
    }
  }
  return bytes;
}

/**
 * True when `text` is valid Unicode, i.e. holds no lone surrogate, so it encodes to UTF-8 without
 * loss. Same answer as `String.prototype.isWellFormed()`, which TypeScript's ES2023 lib does not type.
 */
export function isWellFormedUnicode(text: string): boolean {
  // In a `u` regex a surrogate pair is one code point, so \p{Cs} matches only a lone surrogate.
  return !LONE_SURROGATE.test(text);
}

const LONE_SURROGATE = /\p{Cs}/u;

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}
