/**
 * The judge domain's public face: `judge` decides whether a canary is worse than the stable release,
 * statistically, from one measured window of each. See docs/judge.md for the rules and the statistics.
 */
export { judge } from "./judge.js";
export {
  CHECK_REASONS,
  TEST_NAMES,
  VERDICT_REASONS,
  VERDICT_RESULTS,
  type AnalysisCheck,
  type AnalysisConfig,
  type CheckReason,
  type CheckResult,
  type LimitKind,
  type Metric,
  type SampleCounts,
  type SampleWindow,
  type TestName,
  type TestResult,
  type Threshold,
  type Verdict,
  type VerdictReason,
  type VerdictResult,
} from "./types.js";
