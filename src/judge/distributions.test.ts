import { describe, expect, test } from "vitest";
import {
  binomialUpperTail,
  hypergeometricUpperTail,
  logBinomialPmf,
  logGamma,
  logHypergeometricPmf,
  normalUpperTail,
} from "./distributions.js";

/** |actual − expected| ≤ tolerance × |expected| (or absolute, for expected 0). */
function expectRelative(actual: number, expected: number, tolerance = 1e-12): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tolerance * Math.max(Math.abs(expected), 1e-300));
}

describe("logGamma", () => {
  test.each([
    [1, 0],
    [2, 0],
    [0.5, 0.5 * Math.log(Math.PI)], // Γ(½) = √π
    [10, Math.log(362_880)], // 9!
    [3.7, 1.4280723266653883], // from a reference implementation (CPython math.lgamma)
    [101, 363.73937555556347], // ln(100!)
  ])("lnΓ(%d) = %d", (x, expected) => {
    expect(Math.abs(logGamma(x) - expected)).toBeLessThan(1e-13 * Math.max(1, Math.abs(expected)));
  });

  test("stays accurate for a million requests", () => {
    expectRelative(logGamma(1e6 + 1), 12_815_518.384658169, 1e-14);
  });

  test("refuses x ≤ 0", () => {
    expect(() => logGamma(0)).toThrow(RangeError);
  });
});

describe("logBinomialPmf", () => {
  test("matches exact small probabilities", () => {
    // C(10, 3) · 0.3³ · 0.7⁷ = 120 · 0.027 · 0.0823543
    expectRelative(Math.exp(logBinomialPmf(3, 10, 0.3)), 120 * 0.027 * 0.0823543, 1e-14);
    expectRelative(Math.exp(logBinomialPmf(20, 40, 0.5)), 137_846_528_820 / 2 ** 40, 1e-14);
    expect(logBinomialPmf(0, 10, 0.5)).toBeCloseTo(10 * Math.log(0.5), 15);
    expect(logBinomialPmf(11, 10, 0.5)).toBe(-Infinity);
  });

  test("keeps its precision at a million trials", () => {
    // ln C(10⁶, 10⁴) + 10⁴ ln 0.01 + 990,000 ln 0.99 in 40-digit arithmetic (mpmath). The naive formula in
    // doubles, and scipy.stats.binom.logpmf, are off by ~1e-9 here.
    expectRelative(logBinomialPmf(10_000, 1_000_000, 0.01), -5.519091885441095, 1e-14);
  });
});

describe("logHypergeometricPmf", () => {
  test("matches the tea-tasting table's point probabilities", () => {
    expectRelative(Math.exp(logHypergeometricPmf(3, 8, 4, 4)), 16 / 70, 1e-14);
    expectRelative(Math.exp(logHypergeometricPmf(4, 8, 4, 4)), 1 / 70, 1e-14);
  });
});

describe("normalUpperTail", () => {
  // Reference values: Q(z) = erfc(z/√2)/2, as tabulated in A&S 26.2 and computed by scipy.stats.norm.sf.
  test.each([
    [0, 0.5],
    [1, 0.15865525393145707],
    [1.96, 0.024997895148220435],
    [2.9999, 0.001350341282954925],
    [3, 0.0013498980316300933],
    [5, 2.866515718791933e-7],
    [10, 7.61985302416047e-24],
    [20, 2.7536241186061556e-89],
  ])("Q(%d) = %d", (z, expected) => {
    expectRelative(normalUpperTail(z), expected, 1e-13);
  });

  test("is symmetric: Q(−z) = 1 − Q(z)", () => {
    expectRelative(normalUpperTail(-1), 1 - 0.15865525393145707, 1e-15);
  });

  test("is continuous where the series hands over to the continued fraction", () => {
    const below = normalUpperTail(1 - 1e-12);
    const above = normalUpperTail(1);
    expectRelative(below, above, 1e-9);
  });

  test("reaches 0 at infinity and refuses NaN", () => {
    expect(normalUpperTail(Infinity)).toBe(0);
    expect(normalUpperTail(-Infinity)).toBe(1);
    expect(() => normalUpperTail(Number.NaN)).toThrow(RangeError);
  });
});

describe("binomialUpperTail", () => {
  test("nine or more heads in ten fair tosses: 11/1024", () => {
    expectRelative(binomialUpperTail(9, 10, 0.5), 11 / 1024, 1e-14);
  });

  test.each([
    // R: binom.test(k, n, p, alternative = "greater")$p.value (values computed with scipy.stats.binomtest)
    [7, 20, 0.2, 0.08669251356740035],
    [2, 100, 0.01, 0.26423802107704364], // = 1 − 0.99¹⁰⁰ − 100·0.01·0.99⁹⁹, by hand
    [30, 100, 0.01, 1.4873458206704113e-35],
    [10_200, 1_000_000, 0.01, 0.022742497360522286],
    [9_900, 1_000_000, 0.01, 0.8437764137536407], // below the mode: summed as 1 − the lower tail
  ])("P(X ≥ %d) for Binomial(%d, %d) = %d", (k, n, p, expected) => {
    expectRelative(binomialUpperTail(k, n, p), expected, 1e-12);
  });

  test("handles the edges of k and p", () => {
    expect(binomialUpperTail(0, 10, 0.3)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.3)).toBe(0);
    expect(binomialUpperTail(1, 10, 0)).toBe(0);
    expect(binomialUpperTail(10, 10, 1)).toBe(1);
    expectRelative(binomialUpperTail(10, 10, 0.5), 1 / 1024);
  });
});

describe("hypergeometricUpperTail", () => {
  test("Fisher's tea-tasting table [[3, 1], [1, 3]] gives one-sided p = 17/70 = 0.2429", () => {
    // P(3 right) + P(4 right) = (C(4,3)·C(4,1) + C(4,4)·C(4,0)) / C(8,4) = (16 + 1) / 70
    expectRelative(hypergeometricUpperTail(3, 8, 4, 4), 17 / 70);
    expect(hypergeometricUpperTail(3, 8, 4, 4)).toBeCloseTo(0.2429, 4);
  });

  test.each([
    // scipy.stats.hypergeom.sf(a − 1, total, marked, draws)
    [3, 1_100, 3, 100, 0.0007309178239532213],
    [40, 20_000, 60, 10_000, 0.006675723179885662],
    [25, 20_000, 60, 10_000, 0.9228088498894242], // below the mode
  ])("P(A ≥ %d) drawing from %d with %d marked, %d draws = %d", (a, total, marked, draws, expected) => {
    expectRelative(hypergeometricUpperTail(a, total, marked, draws), expected, 1e-12);
  });

  test("is 1 at or below the support and 0 above it", () => {
    expect(hypergeometricUpperTail(0, 8, 4, 4)).toBe(1);
    expect(hypergeometricUpperTail(5, 8, 4, 4)).toBe(0);
  });
});
