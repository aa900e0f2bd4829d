import { describe, expect, test } from "vitest";
import { SlipwayError } from "../util/index.js";
import { judge } from "./judge.js";
import { lognormalLatencies, createSeededRandom } from "./random.js";
import type { AnalysisCheck, AnalysisConfig, SampleWindow, Verdict } from "./types.js";

/** The example service's analysis from the product brief. */
const EXAMPLE_CHECKS: AnalysisCheck[] = [
  { metric: "error-rate", max: 0.01 /* 1% */, vsBaseline: 0.005 /* +0.5pp */ },
  { metric: "latency-p95", vsBaseline: 1.25 /* x1.25 */ },
];

function analysis(checks: AnalysisCheck[] = EXAMPLE_CHECKS, minSamples = 100): AnalysisConfig {
  return { minSamples, confidence: 0.95, onInconclusive: "extend", checks };
}

interface WindowSpec {
  requests: number;
  errors?: number;
  medianMs?: number;
  /** Latency samples drawn; all requests by default. */
  samples?: number;
}

/** Windows with log-normal latencies from one seeded generator per test, so every run is the same. */
function windows(seed: number) {
  const random = createSeededRandom(seed);
  return ({ requests, errors = 0, medianMs = 100, samples = requests }: WindowSpec): SampleWindow => ({
    requests,
    errors,
    latenciesMs: lognormalLatencies(random, samples, medianMs, 0.5),
  });
}

function expectJsonSafe(verdict: Verdict): void {
  expect(JSON.parse(JSON.stringify(verdict))).toStrictEqual(verdict);
}

describe("judge: error rate", () => {
  test("fails a canary failing 30% of requests against a 0% baseline at 100 requests each", () => {
    const window = windows(1);
    const verdict = judge(analysis(), window({ requests: 100, errors: 30 }), window({ requests: 100 }));
    expect(verdict).toMatchObject({ result: "fail", reason: "check-failed", decidedBy: 0 });
    const check = verdict.checks[0];
    expect(check).toMatchObject({
      metric: "error-rate",
      result: "fail",
      reason: "limit-exceeded",
      canary: 0.3,
      baseline: 0,
      threshold: { max: 0.01, vsBaseline: { kind: "pp", value: 0.005 }, limit: 0.01, bound: "max" },
      test: { name: "exact-binomial", statistic: 30 },
    });
    expect(check?.test?.pValue).toBeLessThan(1e-30);
    expect(verdict.message).toContain("error-rate 30% is above the limit 1% (max 1%)");
    expectJsonSafe(verdict);
  });

  test("passes equal 1% error rates at 10,000 requests each", () => {
    const window = windows(2);
    const verdict = judge(
      analysis(),
      window({ requests: 10_000, errors: 100 }),
      window({ requests: 10_000, errors: 100 }),
    );
    expect(verdict).toMatchObject({ result: "pass", reason: "all-checks-passed" });
    expect(verdict.decidedBy).toBeUndefined();
    expect(verdict.checks[0]).toMatchObject({ result: "pass", reason: "within-limit", canary: 0.01 });
    expect(verdict.checks[0]?.test).toBeUndefined();
    expectJsonSafe(verdict);
  });

  test("a canary exactly at its margin is within it, not a breach of rounding noise", () => {
    const window = windows(3);
    const checks: AnalysisCheck[] = [{ metric: "error-rate", vsBaseline: 0.005 /* +0.5pp */ }];
    const verdict = judge(
      analysis(checks),
      window({ requests: 10_000, errors: 150 }),
      window({ requests: 10_000, errors: 100 }),
    );
    expect(verdict.checks[0]).toMatchObject({
      result: "pass",
      threshold: { limit: 0.015, bound: "vsBaseline" },
    });
  });

  test("is inconclusive when a small breach over few requests could be chance", () => {
    // 2 errors in 100 against max 1%: P(X ≥ 2 | n = 100, p = 0.01) = 0.264.
    const window = windows(4);
    const checks: AnalysisCheck[] = [{ metric: "error-rate", max: 0.01 /* 1% */ }];
    const verdict = judge(analysis(checks), window({ requests: 100, errors: 2 }), window({ requests: 100 }));
    expect(verdict).toMatchObject({ result: "inconclusive", reason: "not-significant", decidedBy: 0 });
    expect(verdict.checks[0]).toMatchObject({ reason: "not-significant", test: { name: "exact-binomial" } });
    expect(verdict.checks[0]?.test?.pValue).toBeCloseTo(0.26423802107704364, 12);
    expect(verdict.message).toContain("not significantly yet: exact binomial test p = 0.26 > 0.05");
  });

  test("uses the two-proportion z test on the margin when every expected count is at least 5", () => {
    const window = windows(5);
    const checks: AnalysisCheck[] = [{ metric: "error-rate", vsBaseline: 0.005 /* +0.5pp */ }];
    const verdict = judge(
      analysis(checks),
      window({ requests: 1_000, errors: 30 }),
      window({ requests: 1_000, errors: 5 }),
    );
    expect(verdict.result).toBe("fail");
    expect(verdict.checks[0]).toMatchObject({
      threshold: { limit: 0.01 },
      test: { name: "two-proportion-z" },
    });
    expect(verdict.checks[0]?.test?.statistic).toBeCloseTo(3.5694617166875005, 6);
  });

  test("switches to Fisher's exact test with few errors, and says it tests the plain difference", () => {
    // All 3 errors in the canary's 100 of 1,100 requests; smallest expected count 100·3/1100 = 0.27.
    const window = windows(6);
    const checks: AnalysisCheck[] = [{ metric: "error-rate", vsBaseline: 0.005 /* +0.5pp */ }];
    const verdict = judge(
      analysis(checks),
      window({ requests: 100, errors: 3 }),
      window({ requests: 1_000 }),
    );
    expect(verdict.result).toBe("fail");
    expect(verdict.checks[0]?.test).toMatchObject({
      name: "fisher-exact",
      statistic: 3,
      distribution: "exact",
    });
    expect(verdict.checks[0]?.test?.pValue).toBeCloseTo(0.0007309178239532213, 12);
    expect(verdict.checks[0]?.message).toContain("not the margin");
  });
});

describe("judge: latency", () => {
  test("fails a canary whose latency doubled on x1.25", () => {
    const window = windows(7);
    const verdict = judge(
      analysis(),
      window({ requests: 1_000, medianMs: 200 }),
      window({ requests: 1_000, medianMs: 100 }),
    );
    expect(verdict).toMatchObject({ result: "fail", reason: "check-failed", decidedBy: 1 });
    const check = verdict.checks[1];
    expect(check).toMatchObject({
      metric: "latency-p95",
      result: "fail",
      threshold: { vsBaseline: { kind: "ratio", value: 1.25 }, bound: "vsBaseline" },
      test: { name: "mann-whitney-u", distribution: "normal" },
    });
    expect(check?.threshold.limit).toBeCloseTo(1.25 * (check?.baseline ?? Number.NaN), 9);
    expect(check?.test?.pValue).toBeLessThan(1e-10);
    expectJsonSafe(verdict);
  });

  test("passes a canary 10% slower on x1.25", () => {
    const window = windows(8);
    const verdict = judge(
      analysis(),
      window({ requests: 1_000, medianMs: 110 }),
      window({ requests: 1_000, medianMs: 100 }),
    );
    expect(verdict.result).toBe("pass");
    expect(verdict.checks[1]).toMatchObject({ result: "pass", reason: "within-limit" });
  });

  test("judges an absolute max by the quantile test on samples above the limit", () => {
    // Median 250 ms, σ 0.5: p95 ≈ 250·e^(0.5·1.645) ≈ 570 ms, far above 300 ms.
    const window = windows(9);
    const checks: AnalysisCheck[] = [{ metric: "latency-p95", max: 300 /* 300ms */ }];
    const verdict = judge(
      analysis(checks),
      window({ requests: 500, medianMs: 250 }),
      window({ requests: 500, medianMs: 100 }),
    );
    expect(verdict.result).toBe("fail");
    expect(verdict.checks[0]).toMatchObject({
      threshold: { max: 300, limit: 300, bound: "max" },
      test: { name: "exact-binomial", distribution: "exact" },
    });
    expect(verdict.checks[0]?.test?.statistic).toBeGreaterThan(25); // well over 5% of 500 above 300 ms
  });

  test("judges on a latency sample shorter than the requests", () => {
    const window = windows(10);
    const verdict = judge(
      analysis(),
      window({ requests: 10_000, medianMs: 200, samples: 500 }),
      window({ requests: 10_000, medianMs: 100, samples: 500 }),
    );
    expect(verdict.result).toBe("fail");
    expect(verdict.samples.canary).toEqual({ requests: 10_000, errors: 0, latencySamples: 500 });
  });
});

describe("judge: traffic and combining", () => {
  test("is inconclusive, never a pass, below minSamples — with the values so far", () => {
    const window = windows(11);
    const verdict = judge(analysis(), window({ requests: 50 }), window({ requests: 5_000 }));
    expect(verdict).toMatchObject({ result: "inconclusive", reason: "not-enough-traffic", minSamples: 100 });
    expect(verdict.decidedBy).toBeUndefined();
    expect(verdict.message).toBe(
      "not enough traffic to judge: the canary served 50 requests and the baseline 5,000; each needs at least 100",
    );
    expect(verdict.checks.map((c) => [c.result, c.reason])).toEqual([
      ["inconclusive", "not-enough-traffic"],
      ["inconclusive", "not-enough-traffic"],
    ]);
    expect(verdict.checks[0]).toMatchObject({ canary: 0, threshold: { limit: 0.005, bound: "vsBaseline" } });
    expect(verdict.checks.every((c) => c.test === undefined)).toBe(true);
    expectJsonSafe(verdict);
  });

  test("stores null for values a release without traffic does not have", () => {
    const window = windows(12);
    const verdict = judge(analysis(), window({ requests: 0 }), window({ requests: 0 }));
    expect(verdict.reason).toBe("not-enough-traffic");
    expect(verdict.checks[0]).toMatchObject({ canary: null, baseline: null, threshold: { limit: 0.01 } });
    expect(verdict.checks[1]).toMatchObject({ canary: null, baseline: null, threshold: { limit: null } });
    expectJsonSafe(verdict);
  });

  test("a failed check decides over an earlier inconclusive one", () => {
    const window = windows(13);
    const checks: AnalysisCheck[] = [
      { metric: "error-rate", max: 0.01 /* 1% */ },
      { metric: "latency-p50", vsBaseline: 1.25 /* x1.25 */ },
    ];
    const verdict = judge(
      analysis(checks),
      window({ requests: 100, errors: 2, medianMs: 300 }),
      window({ requests: 100, medianMs: 100 }),
    );
    expect(verdict).toMatchObject({ result: "fail", decidedBy: 1 });
    expect(verdict.checks.map((c) => c.result)).toEqual(["inconclusive", "fail"]);
    expect(verdict.message).toMatch(/^check 2 of 2 failed: latency-p50 /);
  });

  test("a check with both limits reports the one that failed", () => {
    // 3% against a 2.9% baseline: within +0.5pp, above max 1%.
    const window = windows(14);
    const checks: AnalysisCheck[] = [
      { metric: "error-rate", max: 0.01 /* 1% */, vsBaseline: 0.005 /* +0.5pp */ },
    ];
    const verdict = judge(
      analysis(checks),
      window({ requests: 2_000, errors: 60 }),
      window({ requests: 2_000, errors: 58 }),
    );
    expect(verdict.checks[0]).toMatchObject({ result: "fail", threshold: { limit: 0.01, bound: "max" } });
  });

  test("is deterministic and leaves its inputs untouched", () => {
    const window = windows(15);
    const canary = window({ requests: 1_000, errors: 12, medianMs: 130 });
    const baseline = window({ requests: 1_000, errors: 9 });
    const before = Array.from(canary.latenciesMs);
    const first = judge(analysis(), canary, baseline);
    expect(judge(analysis(), canary, baseline)).toStrictEqual(first);
    expect(Array.from(canary.latenciesMs)).toEqual(before);
  });
});

describe("judge: impossible windows", () => {
  const good: SampleWindow = { requests: 100, errors: 0, latenciesMs: [1, 2, 3] };

  test.each<[string, SampleWindow, string]>([
    [
      "more errors than requests",
      { requests: 10, errors: 12, latenciesMs: [1] },
      "judge: the canary window has 12 errors but only 10 requests",
    ],
    [
      "requests without latency samples",
      { requests: 10, errors: 0, latenciesMs: [] },
      "judge: the canary window has 10 requests but no latency samples; the sample must not be empty",
    ],
    [
      "more samples than requests",
      { requests: 1, errors: 0, latenciesMs: [1, 2] },
      "judge: the canary window has 2 latency samples but only 1 requests",
    ],
    [
      "a fractional request count",
      { requests: 1.5, errors: 0, latenciesMs: [1] },
      "judge: the canary window has requests = 1.5; expected a whole number ≥ 0",
    ],
    [
      "a latency that is not a number",
      { requests: 2, errors: 0, latenciesMs: [1, Number.NaN] },
      "judge: the canary window has a latency of NaNms; expected finite values ≥ 0",
    ],
    [
      "a negative latency",
      { requests: 2, errors: 0, latenciesMs: [-1, 3] },
      "judge: the canary window has a latency of -1ms; expected finite values ≥ 0",
    ],
  ])("refuses %s with SlipwayError invalid_request", (_, canary, message) => {
    let thrown: unknown;
    try {
      judge(analysis(), canary, good);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SlipwayError);
    expect(thrown).toMatchObject({ code: "invalid_request", message });
  });

  test("names the baseline when the baseline is the bad window", () => {
    expect(() => judge(analysis(), good, { requests: 1, errors: 2, latenciesMs: [1] })).toThrow(
      "judge: the baseline window has 2 errors but only 1 requests",
    );
  });
});
