/**
 * One-sided tests on error counts: is the canary's error rate significantly above a limit?
 *
 * References:
 * - [FM] C. P. Farrington & G. Manning, "Test statistics and sample size formulae for comparative binomial
 *   trials with null hypothesis of non-zero risk difference or non-unity relative risk", Statistics in
 *   Medicine 9 (1990) 1447–1454.
 * - [MN] O. Miettinen & M. Nurminen, "Comparative analysis of two rates", Statistics in Medicine 4 (1985)
 *   213–226 (the restricted maximum-likelihood estimates, their eqs. 27–28).
 * - [Agresti] A. Agresti, Categorical Data Analysis, 3rd ed. (2013), §3.5 (Fisher's exact test), and
 *   W. G. Cochran, "Some methods for strengthening the common χ² tests", Biometrics 10 (1954): the
 *   "every expected count ≥ 5" rule for when the normal approximation is trusted.
 */
import { binomialUpperTail, hypergeometricUpperTail, normalUpperTail } from "./distributions.js";
import type { TestResult } from "./types.js";

/** A release's error count out of its requests. */
export interface Proportion {
  errors: number;
  requests: number;
}

/**
 * Exact binomial test of H0: rate ≤ `limit` against H1: rate > `limit`, for `count` events in `trials`
 * (errors in requests; or, for the latency quantile test, samples above the limit in the sample).
 *
 * Chosen over a Wilson score bound because it yields an exact p-value to store with the verdict (a bound
 * only says in or out), never exceeds the nominal false-positive rate (it is conservative for discrete
 * counts), and costs a few hundred multiplications at most (see `binomialUpperTail`).
 */
export function exactBinomialTest(count: number, trials: number, limit: number): TestResult {
  return {
    name: "exact-binomial",
    statistic: count,
    pValue: binomialUpperTail(count, trials, limit),
    distribution: "exact",
  };
}

/**
 * The smallest expected count of the 2×2 table [canary, baseline] × [errors, successes] under "both
 * releases share one error rate": min(row total) × min(column total) / grand total.
 */
export function smallestExpectedCount(canary: Proportion, baseline: Proportion): number {
  const total = canary.requests + baseline.requests;
  const errors = canary.errors + baseline.errors;
  return (Math.min(canary.requests, baseline.requests) * Math.min(errors, total - errors)) / total;
}

/**
 * One-sided two-proportion z test of H0: p_canary − p_baseline ≤ margin against H1: … > margin.
 *
 * z = (p̂c − p̂b − margin) / √(p̃c(1 − p̃c)/nc + p̃b(1 − p̃b)/nb), where p̃c, p̃b are the maximum-likelihood
 * rates under the constraint p̃c − p̃b = margin [FM method 3, MN]. With margin 0 they are both the pooled
 * rate and this is exactly the textbook pooled z test (R's `prop.test(correct = FALSE)`, z² = X²). With a
 * margin > 0 the pooled rate would estimate the variance under the wrong null (equal rates) and the
 * unpooled Wald variance collapses to 0 when a release has no errors; the restricted estimate is the
 * standard fix for non-zero-difference nulls.
 */
export function twoProportionZTest(canary: Proportion, baseline: Proportion, margin: number): TestResult {
  const rateC = canary.errors / canary.requests;
  const rateB = baseline.errors / baseline.requests;
  const pB = restrictedBaselineRate(canary, baseline, margin);
  const pC = pB + margin;
  const se = Math.sqrt((pC * (1 - pC)) / canary.requests + (pB * (1 - pB)) / baseline.requests);
  // se is 0 only when both restricted rates sit at 0 or 1, which needs margin 0 with no errors (or only
  // errors) at all: the observed difference is then 0 and no test is run. Guarded all the same.
  if (!(se > 0)) return { name: "two-proportion-z", statistic: 0, pValue: 1, distribution: "normal" };
  const z = (rateC - rateB - margin) / se;
  return { name: "two-proportion-z", statistic: z, pValue: normalUpperTail(z), distribution: "normal" };
}

/**
 * The baseline's rate p̃b maximising the two-sample binomial likelihood subject to p̃c = p̃b + margin.
 *
 * [FM] and [MN] give it as the root of a cubic in closed (trigonometric) form, which is known to break
 * down (acos of a value just outside [−1, 1]) near the edges. The log-likelihood is strictly concave in
 * p̃b, so its derivative (the score) is strictly decreasing and bisection on its sign finds the same root
 * with no failure mode: 100 halvings of [0, 1 − margin] reach double precision.
 */
export function restrictedBaselineRate(canary: Proportion, baseline: Proportion, margin: number): number {
  if (margin === 0) {
    return (canary.errors + baseline.errors) / (canary.requests + baseline.requests);
  }
  const okC = canary.requests - canary.errors;
  const okB = baseline.requests - baseline.errors;
  // d/dp of  xc·ln(p + m) + (nc − xc)·ln(1 − p − m) + xb·ln p + (nb − xb)·ln(1 − p); empty cells drop out.
  const score = (p: number): number => {
    let s = 0;
    if (canary.errors > 0) s += canary.errors / (p + margin);
    if (okC > 0) s -= okC / (1 - p - margin);
    if (baseline.errors > 0) s += baseline.errors / p;
    if (okB > 0) s -= okB / (1 - p);
    return s;
  };
  let low = 0;
  let high = 1 - margin;
  for (let i = 0; i < 100; i++) {
    const mid = (low + high) / 2;
    if (score(mid) > 0) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}

/**
 * Fisher's exact test, one-sided: H0: the canary's error rate ≤ the baseline's. Conditional on the
 * table's margins the canary's error count is hypergeometric, and the p-value is P(A ≥ observed)
 * [Agresti §3.5]. It has no margin parameter: a conditional exact test of a non-zero difference does not
 * exist in closed form, so with few errors the judge tests the plain difference and says so.
 */
export function fisherExactTest(canary: Proportion, baseline: Proportion): TestResult {
  const total = canary.requests + baseline.requests;
  const errors = canary.errors + baseline.errors;
  return {
    name: "fisher-exact",
    statistic: canary.errors,
    pValue: hypergeometricUpperTail(canary.errors, total, errors, canary.requests),
    distribution: "exact",
  };
}
