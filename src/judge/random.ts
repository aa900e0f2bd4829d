/**
 * Seeded randomness for the judge's tests and benchmark, so every run draws the same samples. Not used
 * by the judge itself, which is deterministic. Each generator keeps its state in its own closure.
 */

/**
 * mulberry32 (Tommy Ettinger, public domain): a 32-bit generator, plenty for test data; uniform in [0, 1).
 *
 * @example
 *   const random = mulberry32(42);
 *   random(); // the same sequence on every run
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw by the Box-Muller transform (one of the pair; simplicity over speed). */
export function normalDraw(random: () => number): number {
  const u = 1 - random(); // (0, 1], so the logarithm is finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/**
 * Log-normal latencies, the usual shape of request latency: median `medianMs`, spread `sigma` (the
 * standard deviation of ln latency; 0.5 puts p95 at about 2.3 × the median).
 */
export function lognormalLatencies(
  random: () => number,
  count: number,
  medianMs: number,
  sigma: number,
): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = medianMs * Math.exp(sigma * normalDraw(random));
  return out;
}
