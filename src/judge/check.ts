/**
 * Turning one check's observations into a result. The metric modules (error-rate.ts, latency.ts) say
 * what is measured and which limits and tests apply; this file applies the rule shared by all of them:
 *
 *   value within the limit                          → pass          (within-limit)
 *   value over the limit, test p-value ≤ 1 − conf.  → fail          (limit-exceeded)
 *   value over the limit, test p-value > 1 − conf.  → inconclusive  (not-significant)
 *
 * A check with both `max` and `vsBaseline` has two limits; each is decided alone and the check takes the
 * worst (fail > inconclusive > pass). Its `threshold.limit` and `test` come from the limit that decided:
 * the first failing one, else the first inconclusive one, else the tighter of the two.
 */
import { formatP } from "./format.js";
import type {
  CheckReason,
  CheckResult,
  LimitKind,
  Metric,
  TestName,
  TestResult,
  Threshold,
  VerdictResult,
} from "./types.js";

/** One limit of a check, as a metric module describes it. */
export interface Bound {
  kind: LimitKind;
  /** What the canary's value is compared with; null when the baseline it derives from has no data. */
  limit: number | null;
  /** How the limit came about, for messages: "max 1%", "x1.25 of the baseline's 120ms". */
  origin: string;
  /** The significance test; run only when the value exceeds the limit. */
  runTest: () => TestResult;
}

/** What a metric module measured for one check. */
export interface Observation {
  metric: Metric;
  canary: number | null;
  baseline: number | null;
  threshold: Pick<Threshold, "max" | "vsBaseline">;
  bounds: Bound[];
  format: (value: number) => string;
}

interface BoundOutcome {
  bound: Bound;
  result: VerdictResult;
  reason: CheckReason;
  test?: TestResult;
}

/**
 * True when `value` is above `limit` by more than floating-point noise, so that a canary exactly at its
 * limit (1.5% against 1% + 0.5pp, computed two ways) is within it rather than a breach to be tested.
 */
export function exceeds(value: number, limit: number): boolean {
  return value - limit > 1e-12 * Math.max(1, Math.abs(limit));
}

/** -0 would not survive JSON (it comes back as 0), and NaN or ±Infinity would come back as null. */
export function jsonNumber(value: number | null): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  return value === 0 ? 0 : value;
}

function decideBound(bound: Bound, canary: number | null, alpha: number): BoundOutcome {
  if (canary === null || bound.limit === null) {
    return { bound, result: "inconclusive", reason: "not-enough-traffic" };
  }
  if (!exceeds(canary, bound.limit)) return { bound, result: "pass", reason: "within-limit" };
  const test = bound.runTest();
  return test.pValue <= alpha
    ? { bound, result: "fail", reason: "limit-exceeded", test }
    : { bound, result: "inconclusive", reason: "not-significant", test };
}

function pickDeciding(outcomes: readonly BoundOutcome[]): BoundOutcome | undefined {
  const failed = outcomes.find((o) => o.result === "fail");
  if (failed) return failed;
  const open = outcomes.find((o) => o.result === "inconclusive");
  if (open) return open;
  return outcomes.reduce<BoundOutcome | undefined>(
    (tightest, o) =>
      tightest === undefined || (o.bound.limit ?? Infinity) < (tightest.bound.limit ?? Infinity)
        ? o
        : tightest,
    undefined,
  );
}

/** Words for a test in messages. */
function describeTest(name: TestName, distribution: TestResult["distribution"]): string {
  switch (name) {
    case "exact-binomial":
      return "exact binomial test";
    case "two-proportion-z":
      return "two-proportion z test";
    case "fisher-exact":
      return (
        "Fisher's exact test (used because an expected count is below 5; it tests only that the canary's " +
        "error rate is above the baseline's, not the margin)"
      );
    case "mann-whitney-u":
      return `Mann-Whitney U test (${distribution === "exact" ? "exact" : "normal approximation"})`;
    default:
      return assertNever(name);
  }
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value ${String(value)}`);
}

function describeOutcome(observation: Observation, outcome: BoundOutcome, alpha: number): string {
  const { metric, canary, format } = observation;
  const { bound, test } = outcome;
  const limit = bound.limit === null ? "unknown" : format(bound.limit);
  const value = canary === null ? "unknown" : format(canary);
  const significance = test ? `${describeTest(test.name, test.distribution)} ${formatP(test.pValue)}` : "";
  const level = `${+alpha.toPrecision(3)}`;
  switch (outcome.reason) {
    case "within-limit":
      return `${metric} ${value} is within the limit ${limit} (${bound.origin})`;
    case "limit-exceeded":
      return `${metric} ${value} is above the limit ${limit} (${bound.origin}), significantly: ${significance} ≤ ${level}`;
    case "not-significant":
      return (
        `${metric} ${value} is above the limit ${limit} (${bound.origin}), but not significantly yet: ` +
        `${significance} > ${level}`
      );
    case "not-enough-traffic":
      return `${metric} not judged: not enough traffic (canary ${value}, limit ${limit})`;
    default:
      return assertNever(outcome.reason);
  }
}

function toCheckResult(
  observation: Observation,
  outcome: BoundOutcome | undefined,
  message: string,
): CheckResult {
  const result: CheckResult = {
    metric: observation.metric,
    result: outcome?.result ?? "inconclusive",
    reason: outcome?.reason ?? "not-enough-traffic",
    canary: jsonNumber(observation.canary),
    baseline: jsonNumber(observation.baseline),
    threshold: { ...observation.threshold, limit: jsonNumber(outcome?.bound.limit ?? null) },
    message,
  };
  if (outcome) result.threshold.bound = outcome.bound.kind;
  if (outcome?.test) {
    const { test } = outcome;
    result.test = {
      ...test,
      statistic: jsonNumber(test.statistic) ?? 0,
      pValue: jsonNumber(test.pValue) ?? 1,
    };
  }
  return result;
}

/** Decides a check whose releases both served enough traffic. `alpha` is 1 − confidence. */
export function decideCheck(observation: Observation, alpha: number): CheckResult {
  const outcome = pickDeciding(observation.bounds.map((b) => decideBound(b, observation.canary, alpha)));
  const message = outcome ? describeOutcome(observation, outcome, alpha) : `${observation.metric}: no limit`;
  return toCheckResult(observation, outcome, message);
}

/**
 * A check not judged because a release served fewer than `minSamples` requests: the values so far and
 * the tightest limit they would be held to, so `rollout status` can show how things are trending.
 */
export function unjudgedCheck(observation: Observation): CheckResult {
  const tightest = pickDeciding(
    observation.bounds.map((bound): BoundOutcome => ({ bound, result: "pass", reason: "within-limit" })),
  );
  const outcome: BoundOutcome | undefined = tightest && {
    ...tightest,
    result: "inconclusive",
    reason: "not-enough-traffic",
  };
  const message = outcome ? describeOutcome(observation, outcome, 0) : `${observation.metric}: no limit`;
  return toCheckResult(observation, outcome, message);
}
