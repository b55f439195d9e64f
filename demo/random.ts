/**
 * A seeded generator (xorshift32) so that a demo run's losses can be replayed exactly with
 * the same `--seed`. Returns floats in [0, 1).
 */
export function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}
