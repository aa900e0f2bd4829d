/**
 * The judge's inputs and its verdict. A verdict is stored as JSON and read back months later by
 * `slipway rollout status`, so it carries every number needed to explain it — values, limits, sample
 * counts, the test and its p-value — as plain numbers and strings: no NaN or Infinity (null instead), no
 * undefined-valued keys, no class instances.
 */

/** The golden signals a check compares (the config's `METRICS`). */
export type Metric = "error-rate" | "latency-p50" | "latency-p95" | "latency-p99";

/**
 * One limit of `rollout.analysis.checks`, in numbers: the config's units (`"1%"`, `"+0.5pp"`, `"300ms"`,
 * `"x1.25"`) are resolved once, when the rollout's spec is (rollout/analysis-spec.ts), so the judge
 * parses nothing while it judges.
 */
export interface AnalysisCheck {
  metric: Metric;
  /** error-rate: a fraction of requests (0.01 for `1%`); latency: milliseconds (300 for `300ms`). */
  max?: number | undefined;
  /**
   * error-rate: percentage points above the baseline's rate, as a fraction (0.005 for `+0.5pp`);
   * latency: a ratio of the baseline's quantile (1.25 for `x1.25`).
   */
  vsBaseline?: number | undefined;
}

/** The `rollout.analysis` block the judge needs, resolved to numbers (defaults applied). */
export interface AnalysisConfig {
  minSamples: number;
  confidence: number;
  checks: AnalysisCheck[];
  onInconclusive: "extend" | "pause" | "fail";
}

/**
 * One release measured over one window. The canary is the release being rolled out; the baseline is the
 * stable release's figures (the release it replaces) over the same window, or, during the watch, the
 * stable release's last passing window.
 */
export interface SampleWindow {
  /** Completed requests. */
  requests: number;
  /** Requests answered 5xx or failed at the connection; at most `requests`. */
  errors: number;
  /**
   * A uniform sample (e.g. a reservoir) of the window's request latencies in milliseconds; may be
   * shorter than `requests`, never longer, and never empty when `requests > 0`.
   */
  latenciesMs: ArrayLike<number>;
}

export const VERDICT_RESULTS = ["pass", "fail", "inconclusive"] as const;
export type VerdictResult = (typeof VERDICT_RESULTS)[number];

export const VERDICT_REASONS = [
  "all-checks-passed",
  "check-failed",
  "not-enough-traffic",
  "not-significant",
  "set-aside",
] as const;
/**
 * Why the verdict is what it is:
 * - `all-checks-passed`: every check's value is within its limits;
 * - `check-failed`: a check's value is over a limit and the excess is statistically significant;
 * - `not-enough-traffic`: the canary or the baseline served fewer than `minSamples` requests;
 * - `not-significant`: a value is over a limit, but not by more than chance explains (yet);
 * - `set-aside`: not judged at all: the window spans a disruption of the data plane (the node agent
 *   restarted or could not be reached), whose refused connections are not the release's doing. The
 *   judge never returns it; the rollout planner records it (result `inconclusive`, no checks).
 */
export type VerdictReason = (typeof VERDICT_REASONS)[number];

export const CHECK_REASONS = [
  "within-limit",
  "limit-exceeded",
  "not-significant",
  "not-enough-traffic",
] as const;
export type CheckReason = (typeof CHECK_REASONS)[number];

export const TEST_NAMES = ["exact-binomial", "two-proportion-z", "fisher-exact", "mann-whitney-u"] as const;
/**
 * The significance test behind a check's result, and what its `statistic` is:
 * - `exact-binomial`: the number of canary errors (error-rate `max`) or of canary latency samples above
 *   the limit (latency `max`, the quantile test);
 * - `two-proportion-z`: the z score of the canary-minus-baseline difference beyond the margin;
 * - `fisher-exact`: the canary's error count in the 2×2 table (tests the plain difference, no margin);
 * - `mann-whitney-u`: U, the number of (canary, ratio × baseline) pairs where the canary is slower,
 *   ties counting one half (R's `W`).
 */
export type TestName = (typeof TEST_NAMES)[number];

/** Which limit of a check: the absolute `max` or the one relative to the baseline. */
export type LimitKind = "max" | "vsBaseline";

export interface TestResult {
  name: TestName;
  statistic: number;
  /** One-sided p-value: the chance of a result at least this bad if the canary were within the limit. */
  pValue: number;
  /** Whether the p-value comes from the exact null distribution or from the normal approximation. */
  distribution: "exact" | "normal";
}

export interface Threshold {
  /** Error rate as a fraction (0.01 for 1%), or latency in milliseconds. */
  max?: number;
  /** `pp`: allowed increase of the error rate as a fraction (0.005 for +0.5pp); `ratio`: latency factor. */
  vsBaseline?: { kind: "pp" | "ratio"; value: number };
  /** The limit the canary's value was compared with (the tightest, or the one that decided); null without data. */
  limit: number | null;
  /** Which of `max` and `vsBaseline` produced `limit`. */
  bound?: LimitKind;
}

export interface CheckResult {
  metric: Metric;
  result: VerdictResult;
  reason: CheckReason;
  /** The canary's error rate (a fraction) or latency percentile (ms); null when it served nothing. */
  canary: number | null;
  /** The same for the baseline. */
  baseline: number | null;
  threshold: Threshold;
  /** Present when the value exceeded the limit and a test decided whether that is significant. */
  test?: TestResult;
  message: string;
}

export interface SampleCounts {
  requests: number;
  errors: number;
  latencySamples: number;
}

export interface Verdict {
  result: VerdictResult;
  reason: VerdictReason;
  message: string;
  /** Index in `checks` (and in the config's `checks`) of the check that decided a fail or inconclusive. */
  decidedBy?: number;
  /** The configured confidence; a test is significant when its p-value ≤ 1 − confidence. */
  confidence: number;
  minSamples: number;
  samples: { canary: SampleCounts; baseline: SampleCounts };
  /** One result per configured check, in the config's order. */
  checks: CheckResult[];
}
