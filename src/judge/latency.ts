/**
 * The latency checks: latency-p50, -p95 and -p99 of the release's latency sample (nearest-rank, see
 * percentile.ts), in milliseconds.
 *
 * - `max: 300ms`: the canary's pXX must not exceed 300 ms. Significance: the quantile test (Conover,
 *   Practical Nonparametric Statistics, 3rd ed. 1999, §3.2): "pXX ≤ L" means at most (100 − XX)% of
 *   requests are slower than L, so the number of sampled latencies above L is at most Binomial(n, 1 −
 *   XX/100) under H0, and an exact binomial test on that count gives the p-value. Distribution-free, and
 *   about the percentile itself rather than the whole distribution.
 * - `vsBaseline: x1.25`: the canary's pXX must not exceed 1.25 × the baseline's pXX. Significance:
 *   one-sided Mann-Whitney U test of the canary's sample against the baseline's scaled by 1.25 (see
 *   mann-whitney.ts for why the scaling and this test).
 */
import { assertNever, type Observation } from "./check.js";
import { formatMs, formatRatio } from "./format.js";
import { mannWhitneyTest } from "./mann-whitney.js";
import { countAbove, nearestRankPercentile } from "./percentile.js";
import { exactBinomialTest } from "./proportions.js";
import type { AnalysisCheck, Metric } from "./types.js";
import type { PreparedWindow } from "./window.js";

export type LatencyMetric = Exclude<Metric, "error-rate">;

/** The percentile a latency metric names, as an integer percent. */
export function percentOf(metric: LatencyMetric): number {
  switch (metric) {
    case "latency-p50":
      return 50;
    case "latency-p95":
      return 95;
    case "latency-p99":
      return 99;
    default:
      return assertNever(metric);
  }
}

/** Describes a latency check: its percentiles, limits, and the test behind each limit. */
export function observeLatency(
  check: AnalysisCheck,
  metric: LatencyMetric,
  canary: PreparedWindow,
  baseline: PreparedWindow,
): Observation {
  const percent = percentOf(metric);
  const canaryValue = nearestRankPercentile(canary.latencies, percent);
  const baselineValue = nearestRankPercentile(baseline.latencies, percent);
  const observation: Observation = {
    metric,
    canary: canaryValue,
    baseline: baselineValue,
    threshold: {},
    bounds: [],
    format: formatMs,
  };
  if (check.max !== undefined) {
    const max = check.max;
    observation.threshold.max = max;
    // (100 − XX) / 100 rather than 1 − XX/100: 0.05, not 0.050000000000000044.
    const slowShare = (100 - percent) / 100;
    observation.bounds.push({
      kind: "max",
      limit: max,
      origin: `max ${formatMs(max)}`,
      runTest: () => exactBinomialTest(countAbove(canary.latencies, max), canary.latencies.length, slowShare),
    });
  }
  if (check.vsBaseline !== undefined) {
    const ratio = check.vsBaseline;
    observation.threshold.vsBaseline = { kind: "ratio", value: ratio };
    observation.bounds.push({
      kind: "vsBaseline",
      limit: baselineValue === null ? null : ratio * baselineValue,
      origin:
        baselineValue === null
          ? `${formatRatio(ratio)} of the baseline's`
          : `${formatRatio(ratio)} of the baseline's ${formatMs(baselineValue)}`,
      runTest: () => mannWhitneyTest(canary.latencies, baseline.latencies, ratio),
    });
  }
  return observation;
}
