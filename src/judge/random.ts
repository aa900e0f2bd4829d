/**
 * Seeded randomness for the judge's tests and benchmark, so every run draws the same samples. Not used
 * by the judge itself, which is deterministic. The generator is `createSeededRandom` (mulberry32) from src/util.
 */

export { createSeededRandom } from "../util/index.js";

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
