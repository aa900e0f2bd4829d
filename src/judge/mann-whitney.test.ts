import { describe, expect, test } from "vitest";
import { exactUpperTail, mannWhitneyTest } from "./mann-whitney.js";
import { sortedCopy } from "./percentile.js";

const sorted = (values: number[]) => sortedCopy(values);

/** P(U ≥ u) by listing every way to place m x's among m + n ranks: the definition, for small samples. */
function bruteForceUpperTail(u: number, m: number, n: number): number {
  let atLeast = 0;
  let all = 0;
  for (let mask = 0; mask < 1 << (m + n); mask++) {
    let ones = 0;
    for (let bit = 0; bit < m + n; bit++) if (mask & (1 << bit)) ones++;
    if (ones !== m) continue;
    // U = Σ over x of the y's ranked below it.
    let statistic = 0;
    let ysBelow = 0;
    for (let bit = 0; bit < m + n; bit++) {
      if (mask & (1 << bit)) statistic += ysBelow;
      else ysBelow++;
    }
    all++;
    if (statistic >= u) atLeast++;
  }
  return atLeast / all;
}

describe("exactUpperTail", () => {
  test("matches enumeration of every arrangement", () => {
    for (const [m, n] of [
      [1, 1],
      [3, 3],
      [5, 4],
      [2, 7],
    ] as const) {
      for (let u = 0; u <= m * n + 1; u++) {
        expect(exactUpperTail(u, m, n)).toBeCloseTo(bruteForceUpperTail(u, m, n), 14);
      }
    }
  });

  test("three against three cannot go below 1/20", () => {
    expect(exactUpperTail(9, 3, 3)).toBe(1 / 20);
  });
});

describe("mannWhitneyTest", () => {
  test("reproduces R's wilcox.test help-page example: W = 35, exact p = 0.1272", () => {
    // wilcox.test(x, y, alternative = "greater"), permeability constants (Hollander & Wolfe 1973, p. 69).
    // By hand: x's ranks in the 15 pooled values are 1, 3, 4, 7, 10…15, summing to 90; U = 90 − 10·11/2 = 35.
    const x = sorted([0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]);
    const y = sorted([1.15, 0.88, 0.9, 0.74, 1.21]);
    const test = mannWhitneyTest(x, y, 1);
    expect(test).toMatchObject({ name: "mann-whitney-u", statistic: 35, distribution: "exact" });
    expect(test.pValue).toBeCloseTo(382 / 3003, 14);
    expect(test.pValue).toBeCloseTo(0.1272, 4);
  });

  test("uses the normal approximation with tie and continuity corrections on ties (hand-computed)", () => {
    // x = 3, 4, 4, 6 against y = 1, 2, 4. Pairs with x > y: 2 + 2.5 + 2.5 + 3 = 10 (the 4–4 ties count ½).
    // Mean mn/2 = 6. One tie group of t = 3 (the 4s): Σ(t³ − t) = 24.
    // Var = mn/12 · (N + 1 − 24 / (N(N − 1))) = 1 · (8 − 24/42) = 7.428571; z = (10 − 6 − 0.5) / 2.725540
    // = 1.284150; p = Q(1.284150) = 0.099545, as R's wilcox.test(…, exact = FALSE) reports.
    const test = mannWhitneyTest(sorted([3, 4, 4, 6]), sorted([1, 2, 4]), 1);
    expect(test).toMatchObject({ statistic: 10, distribution: "normal" });
    expect(test.pValue).toBeCloseTo(0.09954492607410231, 12);
  });

  test("uses the normal approximation above 20 samples", () => {
    // scipy.stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic") = R's exact = FALSE.
    const x = sorted(Array.from({ length: 25 }, (_, i) => 1.5 * (i + 1)));
    const y = sorted(Array.from({ length: 30 }, (_, j) => j + 1));
    const test = mannWhitneyTest(x, y, 1);
    expect(test).toMatchObject({ statistic: 455, distribution: "normal" });
    expect(test.pValue).toBeCloseTo(0.08946809518975735, 12);
  });

  test("compares against the baseline scaled by the ratio", () => {
    const baseline = sorted([100, 110, 120, 130, 140, 150, 160, 170, 180, 190]);
    const exactlyScaled = sorted([125, 137.5, 150, 162.5, 175, 187.5, 200, 212.5, 225, 237.5]);
    const doubled = sorted([200, 220, 240, 260, 280, 300, 320, 340, 360, 380]);
    // A canary exactly 1.25× slower is the null itself: each canary value ties one scaled baseline value,
    // U = mn/2, and the continuity correction leaves p just above ½.
    const atNull = mannWhitneyTest(exactlyScaled, baseline, 1.25);
    expect(atNull).toMatchObject({ statistic: 50, distribution: "normal" });
    expect(atNull.pValue).toBeGreaterThan(0.5);
    // Twice as slow: every canary value exceeds every scaled baseline value but the top one (1.25·190).
    const test = mannWhitneyTest(doubled, baseline, 1.25);
    expect(test.pValue).toBeLessThan(0.01);
  });

  test("gives no evidence for an empty sample", () => {
    expect(mannWhitneyTest(sorted([]), sorted([1]), 1).pValue).toBe(1);
  });
});
