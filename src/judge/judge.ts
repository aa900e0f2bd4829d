/**
 * The canary judge: a pure function of the analysis config and two measured windows. No clock, no I/O,
 * no randomness; the same inputs give the same verdict, byte for byte once serialised.
 *
 * Rules, in order:
 * 1. Either release below `minSamples` requests → inconclusive, `not-enough-traffic`. Never a pass: a
 *    canary nobody used has proved nothing (what the rollout then does is `onInconclusive`'s business).
 * 2. Each check is decided on its own (check.ts): within its limits → pass; over a limit and the excess
 *    significant at `confidence` (one-sided p ≤ 1 − confidence) → fail; over but not significant →
 *    inconclusive. A value over its limit is required for a fail — significance alone (a canary
 *    measurably but harmlessly worse) never fails it, and a bad-looking value is never failed on noise.
 * 3. Any failed check → fail (`decidedBy` = the first failed check); else any inconclusive check →
 *    inconclusive, `not-significant` (`decidedBy` = the first); else pass.
 *
 * Trap: each check is tested at the full `confidence`, with no correction for testing several checks
 * (Bonferroni would divide α by the number of checks). With k checks a healthy canary is failed by one of
 * them somewhat more often than 1 − confidence, at most k times as often. That bias is deliberate: a
 * false rollback costs a redeploy, a missed bad canary costs users.
 */
import { decideCheck, unjudgedCheck, type Observation } from "./check.js";
import { observeErrorRate } from "./error-rate.js";
import { formatCount } from "./format.js";
import { observeLatency } from "./latency.js";
import type { AnalysisCheck, AnalysisConfig, CheckResult, SampleWindow, Verdict } from "./types.js";
import { countSamples, prepareWindow, type PreparedWindow } from "./window.js";

function observe(check: AnalysisCheck, canary: PreparedWindow, baseline: PreparedWindow): Observation {
  const metric = check.metric;
  return metric === "error-rate"
    ? observeErrorRate(check, canary, baseline)
    : observeLatency(check, metric, canary, baseline);
}

/**
 * Judges a canary against the baseline (the stable release) measured over the same window.
 *
 * Throws SlipwayError `invalid_request` when a window is impossible (more errors than requests, requests
 * without latency samples, a latency that is negative or not a number): a programming error upstream.
 *
 * @example
 *   const verdict = judge(
 *     { minSamples: 100, confidence: 0.95, onInconclusive: "extend",
 *       checks: [{ metric: "error-rate", max: 0.01, vsBaseline: 0.005 }] }, // max 1%, vsBaseline +0.5pp
 *     { requests: 100, errors: 30, latenciesMs: canaryLatencies },
 *     { requests: 100, errors: 0, latenciesMs: baselineLatencies },
 *   );
 *   verdict.result; // "fail"
 *   verdict.checks[0].test; // { name: "exact-binomial", statistic: 30, pValue: 1.5e-35, distribution: "exact" }
 */
export function judge(analysis: AnalysisConfig, canary: SampleWindow, baseline: SampleWindow): Verdict {
  const c = prepareWindow("canary", canary);
  const b = prepareWindow("baseline", baseline);
  const observations = analysis.checks.map((check) => observe(check, c, b));
  const base = {
    confidence: analysis.confidence,
    minSamples: analysis.minSamples,
    samples: { canary: countSamples(c), baseline: countSamples(b) },
  };
  const { minSamples } = analysis;
  if (c.requests < minSamples || b.requests < minSamples) {
    const message =
      `not enough traffic to judge: the canary served ${formatCount(c.requests)} requests and the ` +
      `baseline ${formatCount(b.requests)}; each needs at least ${formatCount(minSamples)}`;
    const checks = observations.map(unjudgedCheck);
    return { result: "inconclusive", reason: "not-enough-traffic", message, ...base, checks };
  }
  const alpha = 1 - analysis.confidence;
  return combine(
    observations.map((o) => decideCheck(o, alpha)),
    base,
  );
}

function combine(
  checks: CheckResult[],
  base: Omit<Verdict, "result" | "reason" | "message" | "checks">,
): Verdict {
  const failed = checks.findIndex((check) => check.result === "fail");
  if (failed >= 0) {
    const message = `check ${failed + 1} of ${checks.length} failed: ${checks[failed]?.message ?? ""}`;
    return { result: "fail", reason: "check-failed", message, decidedBy: failed, ...base, checks };
  }
  const open = checks.findIndex((check) => check.result === "inconclusive");
  if (open >= 0) {
    const message = `inconclusive, check ${open + 1} of ${checks.length}: ${checks[open]?.message ?? ""}`;
    return { result: "inconclusive", reason: "not-significant", message, decidedBy: open, ...base, checks };
  }
  const message = `all ${checks.length} checks passed: ${checks.map((check) => check.message).join("; ")}`;
  return { result: "pass", reason: "all-checks-passed", message, ...base, checks };
}
