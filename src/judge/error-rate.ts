/**
 * The error-rate check: errors ÷ requests, the share answered 5xx or failed at the connection.
 *
 * - `max: 1%`: the canary's rate must not exceed 1%. Significance: exact binomial test of H0: rate ≤ 1%
 *   on the canary's counts (see proportions.ts for why exact rather than a Wilson bound).
 * - `vsBaseline: +0.5pp`: the canary's rate minus the baseline's must not exceed 0.5 percentage points.
 *   Significance: one-sided two-proportion z test of H0: p_canary − p_baseline ≤ 0.005; when the 2×2
 *   table has an expected count below 5 (few errors, where the normal approximation is poor), Fisher's
 *   exact test of the plain difference H0: p_canary ≤ p_baseline instead, and the message says so.
 */
import type { Bound, Observation } from "./check.js";
import { formatPoints, formatRate } from "./format.js";
import {
  exactBinomialTest,
  fisherExactTest,
  smallestExpectedCount,
  twoProportionZTest,
} from "./proportions.js";
import type { AnalysisCheck } from "./types.js";
import type { PreparedWindow } from "./window.js";

/** Below this expected count in any cell, the z test's normal approximation is not trusted (Cochran). */
export const MIN_EXPECTED_COUNT = 5;

function rateOf(window: PreparedWindow): number | null {
  return window.requests === 0 ? null : window.errors / window.requests;
}

/** Describes an error-rate check: its values, limits, and the test behind each limit. */
export function observeErrorRate(
  check: AnalysisCheck,
  canary: PreparedWindow,
  baseline: PreparedWindow,
): Observation {
  const canaryRate = rateOf(canary);
  const baselineRate = rateOf(baseline);
  const observation: Observation = {
    metric: check.metric,
    canary: canaryRate,
    baseline: baselineRate,
    threshold: {},
    bounds: [],
    format: formatRate,
  };
  if (check.max !== undefined) {
    const max = check.max;
    observation.threshold.max = max;
    observation.bounds.push({
      kind: "max",
      limit: max,
      origin: `max ${formatRate(max)}`,
      runTest: () => exactBinomialTest(canary.errors, canary.requests, max),
    });
  }
  if (check.vsBaseline !== undefined) {
    const margin = check.vsBaseline;
    observation.threshold.vsBaseline = { kind: "pp", value: margin };
    observation.bounds.push(marginBound(margin, baselineRate, canary, baseline));
  }
  return observation;
}

function marginBound(
  margin: number,
  baselineRate: number | null,
  canary: PreparedWindow,
  baseline: PreparedWindow,
): Bound {
  const origin =
    baselineRate === null
      ? `the baseline's rate ${formatPoints(margin)}`
      : `the baseline's ${formatRate(baselineRate)} ${formatPoints(margin)}`;
  return {
    kind: "vsBaseline",
    // Capped at 100%: a limit no rate can exceed is simply never breached.
    limit: baselineRate === null ? null : Math.min(1, baselineRate + margin),
    origin,
    runTest: () =>
      smallestExpectedCount(canary, baseline) < MIN_EXPECTED_COUNT
        ? fisherExactTest(canary, baseline)
        : twoProportionZTest(canary, baseline, margin),
  };
}
