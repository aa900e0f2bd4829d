/**
 * A seeded uniform [0, 1) source: mulberry32 (Tommy Ettinger, public domain), a 32-bit generator.
 * Tests and benchmarks inject it wherever code takes a `random` option, so weighted splits and
 * generated samples are the same on every run. Not for anything secret.
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
