/**
 * Latency percentiles from a sorted sample.
 *
 * The estimator is the nearest-rank method: the p-th percentile of n sorted values is the value at
 * 1-based rank ⌈p·n/100⌉ (Hyndman & Fan 1996, "Sample quantiles in statistical packages", type 1 — the
 * inverse of the empirical distribution function). Chosen over linear interpolation because it is always
 * a latency a request really had (easy to explain in a verdict), it is what HdrHistogram — and so the
 * router's /metrics — reports, and it makes "pXX > limit" exactly equivalent to "more than n − ⌈p·n/100⌉
 * samples above the limit", the count the quantile test (an exact binomial test) uses.
 */

/**
 * Copies a sample into a Float64Array sorted ascending (typed-array sort is numeric and O(n log n)).
 *
 * @example
 *   sortedCopy([3, 1, 2]); // Float64Array [1, 2, 3]
 */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/**
 * The nearest-rank percentile of an ascending sample, or null when it is empty. `percent` is an integer
 * (95 for p95), so ⌈percent·n/100⌉ is exact integer arithmetic, with no 0.95·n rounding surprises.
 *
 * @example
 *   nearestRankPercentile(Float64Array.of(10, 20, 30, 40), 50); // 20 (rank ⌈2⌉ = 2)
 *   nearestRankPercentile(Float64Array.of(10, 20, 30, 40), 95); // 40 (rank ⌈3.8⌉ = 4)
 */
export function nearestRankPercentile(sorted: Float64Array, percent: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  const rank = Math.min(n, Math.max(1, Math.ceil((percent * n) / 100)));
  return sorted[rank - 1] ?? null;
}

/** How many values of an ascending sample are strictly greater than `limit` (binary search). */
export function countAbove(sorted: Float64Array, limit: number): number {
  let low = 0;
  let high = sorted.length;
  // Invariant: values before `low` are ≤ limit, values from `high` on are > limit.
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((sorted[mid] ?? Infinity) <= limit) low = mid + 1;
    else high = mid;
  }
  return sorted.length - low;
}
