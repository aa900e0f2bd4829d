/**
 * Pipeline gates' public face: test and coverage reports read into plain data, and the checks a gate
 * step applies to them. Pure functions of the report text; reading files and failing the step are the
 * runner's job.
 *
 * - Coverage: `parseCoverage(text, "lcov" | "cobertura" | "istanbul" | "auto", { file })` →
 *   `{ lines, branches?, functions? }`, each `{ covered, total, pct }` with `pct` 0–100. Counts are
 *   exact; `pct` is 100 when there is nothing to cover. `checkCoverage(summary, 80)` or
 *   `checkCoverage(summary, { lines: 80, branches: 70 })` → `{ passed, message, checks }`.
 * - Tests: `parseJUnit(text, { file })` → counts, wall time and the failed cases;
 *   `summarizeJUnit(result)` → one line for the run page.
 * - A malformed report is a SlipwayError("invalid_request") whose message starts with the file name and
 *   says where (LCOV line, XML line:column) and what is wrong. A gate must not pass on a report it
 *   could not read, so nothing here guesses past damage: a truncated LCOV record or an unclosed XML
 *   element is an error, not a lower count.
 *
 * The format-specific rules are at the top of `coverage-lcov.ts`, `coverage-cobertura.ts`,
 * `coverage-istanbul.ts` and `junit.ts`; the XML subset in `xml.ts`.
 */
export { checkCoverage, detectCoverageFormat, formatPercent, parseCoverage } from "./coverage.js";
export type { ParseCoverageOptions } from "./coverage.js";
export { parseJUnit, summarizeJUnit } from "./junit.js";
export type { ParseJUnitOptions } from "./junit.js";
export {
  COVERAGE_FORMATS,
  COVERAGE_METRICS,
  type CoverageCheck,
  type CoverageCheckResult,
  type CoverageCount,
  type CoverageFormat,
  type CoverageMetric,
  type CoverageMinimum,
  type CoverageSummary,
  type JUnitFailure,
  type JUnitFailureKind,
  type JUnitResult,
} from "./types.js";
