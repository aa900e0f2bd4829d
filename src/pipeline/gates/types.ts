/** Plain data the gates produce from test and coverage reports; JSON-safe, no classes. */

export const COVERAGE_FORMATS = ["lcov", "cobertura", "istanbul"] as const;
/** `istanbul` is the json-summary reporter's `coverage-summary.json`. */
export type CoverageFormat = (typeof COVERAGE_FORMATS)[number];

export const COVERAGE_METRICS = ["lines", "branches", "functions"] as const;
export type CoverageMetric = (typeof COVERAGE_METRICS)[number];

export interface CoverageCount {
  covered: number;
  total: number;
  /**
   * `covered / total` as a percentage 0–100, unrounded (format it with `formatPercent`). 100 when
   * `total` is 0: there was nothing to cover.
   */
  pct: number;
}

/**
 * One report's totals. `branches` and `functions` are absent when the report has none to count — a
 * total of 0 almost always means the tool did not measure them (coverage.py without `--branch` writes
 * `branches-valid="0"`), not that the code has no branches.
 */
export interface CoverageSummary {
  lines: CoverageCount;
  branches?: CoverageCount;
  functions?: CoverageCount;
}

/** Minimum percentages per metric; a bare number in `checkCoverage` means `{ lines: n }`. */
export type CoverageMinimum = Partial<Record<CoverageMetric, number>>;

export interface CoverageCheck {
  metric: CoverageMetric;
  min: number;
  /** Absent when the report has no such metric (the check then fails). */
  pct?: number;
  passed: boolean;
  message: string;
}

export interface CoverageCheckResult {
  passed: boolean;
  /** One line for the run page: the failing checks, or all checks when every one passed. */
  message: string;
  checks: CoverageCheck[];
}

export type JUnitFailureKind = "failure" | "error";

/** One test case that failed (an assertion) or errored (an unexpected exception). */
export interface JUnitFailure {
  /** Name of the nearest enclosing `<testsuite>`; "" when it has none. */
  suite: string;
  /** The test case's `classname` attribute; "" when absent. */
  classname: string;
  name: string;
  kind: JUnitFailureKind;
  /** One line: the `message` attribute, else the first line of the text, else the `type`. */
  message: string;
  /** The first lines of the failure text (usually a stack trace or a diff); "" when there is none. */
  details: string;
}

export interface JUnitResult {
  /** Test cases in the report, skipped ones included. */
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  /** Wall time of the run in whole milliseconds; 0 when the report gives no times. */
  timeMs: number;
  /** Failed and errored cases in document order. */
  failed: JUnitFailure[];
}
