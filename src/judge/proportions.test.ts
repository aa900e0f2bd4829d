import { describe, expect, test } from "vitest";
import {
  exactBinomialTest,
  fisherExactTest,
  restrictedBaselineRate,
  smallestExpectedCount,
  twoProportionZTest,
} from "./proportions.js";

describe("twoProportionZTest", () => {
  test("with no margin it is the textbook pooled z test", () => {
    // 30/200 vs 20/200. Pooled p = 50/400 = 0.125; SE = √(0.125 · 0.875 · (1/200 + 1/200)) = 0.0330719;
    // z = (0.15 − 0.10) / 0.0330719 = 1.51186; one-sided p = Q(1.51186) = 0.065285.
    // R: sqrt(prop.test(c(30, 20), c(200, 200), correct = FALSE)$statistic) = 1.511858.
    const test = twoProportionZTest({ errors: 30, requests: 200 }, { errors: 20, requests: 200 }, 0);
    expect(test.name).toBe("two-proportion-z");
    expect(test.statistic).toBeCloseTo(1.5118578920369083, 12);
    expect(test.pValue).toBeCloseTo(0.06528500905786819, 12);
  });

  test.each([
    // Restricted MLE found independently by bounded likelihood maximisation (scipy minimize_scalar).
    [30, 200, 20, 200, 0.02, 0.11396020209256702, 0.9107899991130072],
    [30, 1_000, 5, 1_000, 0.005, 0.013458198949139173, 3.5694617166875005],
    [30, 1_000, 0, 1_000, 0.005, 0.010037976022755059, 5.025285485544682],
  ])(
    "with a margin it uses the Farrington-Manning restricted variance (%d/%d vs %d/%d, margin %d)",
    (xc, nc, xb, nb, margin, expectedRate, expectedZ) => {
      const canary = { errors: xc, requests: nc };
      const baseline = { errors: xb, requests: nb };
      expect(restrictedBaselineRate(canary, baseline, margin)).toBeCloseTo(expectedRate, 9);
      expect(twoProportionZTest(canary, baseline, margin).statistic).toBeCloseTo(expectedZ, 6);
    },
  );

  test("the restricted rates maximise the likelihood on the null boundary", () => {
    const canary = { errors: 12, requests: 400 };
    const baseline = { errors: 3, requests: 900 };
    const margin = 0.01;
    const logLikelihood = (pb: number) => {
      const pc = pb + margin;
      return 12 * Math.log(pc) + 388 * Math.log(1 - pc) + 3 * Math.log(pb) + 897 * Math.log(1 - pb);
    };
    const best = restrictedBaselineRate(canary, baseline, margin);
    expect(logLikelihood(best)).toBeGreaterThan(logLikelihood(best - 1e-4));
    expect(logLikelihood(best)).toBeGreaterThan(logLikelihood(best + 1e-4));
  });
});

describe("fisherExactTest", () => {
  test("the tea-tasting table [[3, 1], [1, 3]] has one-sided p = 0.2429", () => {
    const test = fisherExactTest({ errors: 3, requests: 4 }, { errors: 1, requests: 4 });
    expect(test).toMatchObject({ name: "fisher-exact", statistic: 3, distribution: "exact" });
    expect(test.pValue).toBeCloseTo(17 / 70, 14);
    expect(test.pValue).toBeCloseTo(0.2429, 4);
  });

  test("three canary errors against none in ten times the baseline traffic", () => {
    // All 3 errors land in the canary's 100 of 1,100 requests: C(100,3)/C(1100,3) = 0.00073092.
    const test = fisherExactTest({ errors: 3, requests: 100 }, { errors: 0, requests: 1_000 });
    expect(test.pValue).toBeCloseTo((100 * 99 * 98) / (1_100 * 1_099 * 1_098), 12);
  });
});

describe("exactBinomialTest", () => {
  test("reports the count as its statistic", () => {
    const test = exactBinomialTest(9, 10, 0.5);
    expect(test).toMatchObject({ name: "exact-binomial", statistic: 9, distribution: "exact" });
    expect(test.pValue).toBeCloseTo(11 / 1024, 14);
  });
});

describe("smallestExpectedCount", () => {
  test("is min(row) × min(column) / total", () => {
    // Table [[3, 97], [0, 1000]]: errors column 3, canary row 100 → 100 · 3 / 1100.
    expect(smallestExpectedCount({ errors: 3, requests: 100 }, { errors: 0, requests: 1_000 })).toBeCloseTo(
      300 / 1_100,
      12,
    );
    // Mostly errors: the successes column is the small one.
    expect(smallestExpectedCount({ errors: 99, requests: 100 }, { errors: 98, requests: 100 })).toBe(1.5);
  });
});
