/**
 * One-sided Mann-Whitney U test (Wilcoxon rank-sum): is the canary's latency stochastically greater than
 * `scale` × the baseline's?
 *
 * Why this test for latency: latencies are skewed and heavy-tailed, so a t test on means is misled by a
 * few slow requests; U uses ranks only, needs no distribution, and is invariant to any monotone
 * transform. Scaling the baseline by the configured ratio turns "canary ≤ x1.25 baseline" into the test's
 * null: if latencies scale multiplicatively (a slower release multiplies every latency, the usual model,
 * equivalent to a shift on the log scale), a canary exactly 1.25× slower is indistinguishable from
 * 1.25 × baseline and the test holds its false-positive rate there, as the pp margin does for error rates.
 * Trap: U compares whole distributions, so a regression confined to the slowest few percent moves it
 * only a little; such a breach of p99 tends to stay "not significant" (inconclusive) for longer.
 *
 * References:
 * - H. B. Mann & D. R. Whitney, "On a test of whether one of two random variables is stochastically
 *   larger than the other", Ann. Math. Statist. 18 (1947) 50–60 — the statistic and the recursion of its
 *   exact null distribution.
 * - G. E. Andrews, The Theory of Partitions (1976), ch. 3: that distribution's generating function is the
 *   Gaussian binomial coefficient, used below.
 * - E. L. Lehmann, Nonparametrics (1975), ch. 1 §4: the variance with the tie correction.
 * - R's `wilcox.test` (stats package): same statistic (its `W`), exact when both samples are < 50 and have
 *   no ties, else the normal approximation with tie and continuity (0.5) corrections, as here.
 */
import { normalUpperTail } from "./distributions.js";
import type { TestResult } from "./types.js";

/** Both samples at most this size and no ties: exact null distribution. Keeps counts < 2^53 (C(40, 20)). */
export const EXACT_MAX_SAMPLES = 20;

interface RankSummary {
  /** Pairs (x, scale·y) with x > scale·y, ties counting ½. */
  u: number;
  /** Σ (t³ − t) over groups of t tied values, for the variance. */
  ties: number;
}

/**
 * U and the tie term from two ascending samples in one merge pass: O(m + n) after sorting, never the
 * O(m·n) pair count. A group of equal values with cx canary and cy baseline members adds cx × (baseline
 * values below the group) + ½·cx·cy.
 */
function summarizeRanks(x: Float64Array, y: Float64Array, scale: number): RankSummary {
  let i = 0;
  let j = 0;
  let u = 0;
  let ties = 0;
  while (i < x.length || j < y.length) {
    const value = Math.min(x[i] ?? Infinity, (y[j] ?? Infinity) * scale);
    const belowInY = j;
    let cx = 0;
    while (i < x.length && x[i] === value) {
      cx++;
      i++;
    }
    let cy = 0;
    while (j < y.length && (y[j] ?? Infinity) * scale === value) {
      cy++;
      j++;
    }
    u += cx * belowInY + 0.5 * cx * cy;
    const t = cx + cy;
    if (t > 1) ties += t * t * t - t;
  }
  return { u, ties };
}

/**
 * Tests H0: X and scale·Y have the same distribution, against H1: X is stochastically greater. Both
 * samples must be sorted ascending; `scale` > 0 keeps scale·Y sorted.
 *
 * @example
 *   // R: wilcox.test(x, y, alternative = "greater") on its help page's example gives W = 35, p = 0.1272
 *   mannWhitneyTest(sorted(x), sorted(y), 1); // { statistic: 35, pValue: 0.12720612720612721, distribution: "exact" }
 */
export function mannWhitneyTest(x: Float64Array, y: Float64Array, scale: number): TestResult {
  const m = x.length;
  const n = y.length;
  if (m === 0 || n === 0) {
    return { name: "mann-whitney-u", statistic: 0, pValue: 1, distribution: "exact" };
  }
  const { u, ties } = summarizeRanks(x, y, scale);
  if (ties === 0 && m <= EXACT_MAX_SAMPLES && n <= EXACT_MAX_SAMPLES) {
    return { name: "mann-whitney-u", statistic: u, pValue: exactUpperTail(u, m, n), distribution: "exact" };
  }
  const total = m + n;
  const variance = ((m * n) / 12) * (total + 1 - ties / (total * (total - 1)));
  // Every value tied: U carries no information either way.
  if (!(variance > 0)) return { name: "mann-whitney-u", statistic: u, pValue: 1, distribution: "normal" };
  const z = (u - (m * n) / 2 - 0.5) / Math.sqrt(variance);
  return { name: "mann-whitney-u", statistic: u, pValue: normalUpperTail(z), distribution: "normal" };
}

/**
 * P(U ≥ u) under H0 without ties. The number of arrangements of m x's and n y's with U = k is the
 * coefficient of q^k in the Gaussian binomial [m+n choose m]_q = Π_{i=1..m} (1 − q^(n+i)) / (1 − q^i)
 * (Andrews ch. 3), built factor by factor: multiplying by (1 − q^s) is c[k] −= c[k − s] (descending),
 * dividing by (1 − q^i) is c[k] += c[k − i] (ascending). Integer arithmetic in doubles, exact below 2^53.
 */
export function exactUpperTail(u: number, m: number, n: number): number {
  const counts = new Float64Array(m * n + m + 1);
  counts[0] = 1;
  for (let i = 1; i <= m; i++) {
    const s = n + i;
    for (let k = (i - 1) * n + s; k >= s; k--) counts[k] = (counts[k] ?? 0) - (counts[k - s] ?? 0);
    for (let k = i; k <= i * n + i; k++) counts[k] = (counts[k] ?? 0) + (counts[k - i] ?? 0);
  }
  let all = 0;
  let atLeast = 0;
  for (let k = 0; k <= m * n; k++) {
    const count = counts[k] ?? 0;
    all += count;
    if (k >= u) atLeast += count;
  }
  return atLeast / all;
}
