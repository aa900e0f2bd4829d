/**
 * A seeded uniform [0, 1) source (mulberry32): tests and benchmarks inject it so a weighted split is
 * reproducible. Not for anything secret.
 *
 * @example
 *   const random = createSeededRandom(42);
 *   createRouter({ listen, random });
 */
export function createSeededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
