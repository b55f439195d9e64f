/**
 * Text form of IPv6 group addresses.
 * @module
 */

/** Canonical (RFC 5952) text of a 16-byte IPv6 address: lower case, longest zero run as `::`. */
export function formatIPv6(bytes: Uint8Array): string {
  if (bytes.length !== 16)
    throw new RangeError(`IPv6 address must be 16 bytes, got ${bytes.length}`);
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestAt = -1;
  let bestLen = 1; // a single zero word is not compressed
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestAt < 0) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}
