/**
 * Coverage reports in, one summary out, and the minimum check a pipeline gate applies to it.
 * Each format has its own file (`coverage-<format>.ts`); this one picks and checks.
 */
import { SlipwayError } from "../../util/index.js";
import { parseCobertura } from "./coverage-cobertura.js";
import { parseIstanbulSummary } from "./coverage-istanbul.js";
import { parseLcov } from "./coverage-lcov.js";
import { reportError } from "./count.js";
import {
  COVERAGE_METRICS,
  type CoverageCheck,
  type CoverageCheckResult,
  type CoverageCount,
  type CoverageFormat,
  type CoverageMetric,
  type CoverageMinimum,
  type CoverageSummary,
} from "./types.js";

export interface ParseCoverageOptions {
  /** The report's path, for error messages and for "auto" detection. Default "coverage report". */
  file?: string;
}

/**
 * Reads a coverage report. `"auto"` (or no format) detects it with {@link detectCoverageFormat}.
 *
 * @throws SlipwayError("invalid_request") naming the file and what is wrong with it (with the line for
 *   LCOV and the line and column for XML).
 * @example
 *   parseCoverage(readFileSync("coverage/lcov.info", "utf8"), "lcov", { file: "coverage/lcov.info" });
 *   // { lines: { covered: 784, total: 1000, pct: 78.4 }, branches: { … }, functions: { … } }
 */
export function parseCoverage(
  text: string,
  format: CoverageFormat | "auto" = "auto",
  options: ParseCoverageOptions = {},
): CoverageSummary {
  const file = options.file ?? "coverage report";
  const chosen = format === "auto" ? detectCoverageFormat(file, text) : format;
  switch (chosen) {
    case "lcov":
      return parseLcov(text, file);
    case "cobertura":
      return parseCobertura(text, file);
    case "istanbul":
      return parseIstanbulSummary(text, file);
    case undefined:
      throw reportError(
        file,
        "cannot tell the coverage format; expected LCOV (lcov.info), Cobertura XML or Istanbul json-summary",
      );
  }
}

/**
 * The format of a coverage report, or undefined when it is none the gates read. The content decides
 * when it is clear (XML with a `<coverage>` root, a JSON object, LCOV's `TN:`/`SF:` first line); the
 * file name decides otherwise, so a garbled `lcov.info` is reported as a bad LCOV file with a line
 * number rather than as "unknown format".
 *
 * @example
 *   detectCoverageFormat("coverage/coverage-summary.json", text); // "istanbul"
 */
export function detectCoverageFormat(path: string, text: string): CoverageFormat | undefined {
  const head = text
    .slice(0, 4096)
    .replace(/^\uFEFF/, "")
    .trimStart();
  if (head.startsWith("<")) return /<coverage[\s>/]/.test(text.slice(0, 65_536)) ? "cobertura" : undefined;
  if (head.startsWith("{")) return "istanbul";
  if (/^(TN|SF|VER):/.test(head)) return "lcov";
  const name = path.toLowerCase().split(/[\\/]/).at(-1) ?? "";
  if (name.endsWith(".info") || name.includes("lcov")) return "lcov";
  if (name.endsWith(".xml")) return "cobertura";
  if (name.endsWith(".json")) return "istanbul";
  return undefined;
}

const NOUN: Record<CoverageMetric, string> = { lines: "line", branches: "branch", functions: "function" };

/**
 * Checks a summary against minimum percentages. A bare number is the line minimum. A minimum for a
 * metric the report does not have fails: it nearly always means the tool was not asked to measure it
 * (coverage.py without `--branch`), and a gate that silently checks less than configured is worse
 * than one that says so.
 *
 * The comparison ignores only floating-point noise (see EPSILON), and the percentage in the message is rounded
 * so that it never contradicts the verdict: 79.96% below a minimum of 80 reads "79.9%", not "80.0%".
 *
 * @throws SlipwayError("invalid_request") for a minimum outside 0–100.
 * @example
 *   checkCoverage(summary, 80);
 *   // { passed: false, message: "line coverage 78.4% is below the minimum 80%", checks: [ … ] }
 */
export function checkCoverage(summary: CoverageSummary, min: number | CoverageMinimum): CoverageCheckResult {
  const minimum: CoverageMinimum = typeof min === "number" ? { lines: min } : min;
  const checks: CoverageCheck[] = [];
  for (const metric of COVERAGE_METRICS) {
    const limit = minimum[metric];
    if (limit === undefined) continue;
    if (!Number.isFinite(limit) || limit < 0 || limit > 100) {
      throw new SlipwayError(
        "invalid_request",
        `the minimum ${metric} coverage must be 0 to 100, found ${limit}`,
      );
    }
    checks.push(checkMetric(metric, summary[metric], limit));
  }
  const failed = checks.filter((c) => !c.passed);
  const shown = failed.length > 0 ? failed : checks;
  return {
    passed: failed.length === 0,
    message: shown.length > 0 ? shown.map((c) => c.message).join("; ") : "no coverage minimum is set",
    checks,
  };
}

function checkMetric(metric: CoverageMetric, count: CoverageCount | undefined, min: number): CoverageCheck {
  const noun = NOUN[metric];
  if (!count) {
    return {
      metric,
      min,
      passed: false,
      message: `the report has no ${noun} coverage, so the minimum ${min}% cannot be checked`,
    };
  }
  const passed = meetsMinimum(count, min);
  const pct = formatPercent(count, min);
  const message = passed
    ? `${noun} coverage ${pct} meets the minimum ${min}%`
    : `${noun} coverage ${pct} is below the minimum ${min}%`;
  return { metric, min, pct: count.pct, passed, message };
}

/**
 * A count's percentage for people: one decimal, trailing zeros dropped ("78.4%", "80%"). Given the
 * minimum it is checked against, it rounds down when below it and adds decimals until the shown value
 * sits on the same side of the minimum as the real one.
 *
 * @example
 *   formatPercent({ covered: 7996, total: 10000, pct: 79.96 }, 80); // "79.9%"
 */
export function formatPercent(count: CoverageCount, min?: number): string {
  if (count.total === 0) return "100%";
  const scaled = (digits: number) => (count.covered * 100 * 10 ** digits) / count.total;
  if (min === undefined) return `${trimZeros((Math.round(scaled(1)) / 10).toFixed(1))}%`;
  const passed = meetsMinimum(count, min);
  for (let digits = 1; digits <= 6; digits++) {
    const factor = 10 ** digits;
    const shown = (passed ? Math.round(scaled(digits)) : Math.floor(scaled(digits))) / factor;
    if (shown >= min - EPSILON === passed) return `${trimZeros(shown.toFixed(digits))}%`;
  }
  return `${count.pct}%`;
}

/**
 * Below this, a difference between a percentage and a minimum is floating-point noise: 8004 · 100 /
 * 10000 and the literal 80.04 differ in the last bit. A real difference is at least 100 / total, far
 * larger for any report with fewer than 10^9 lines.
 */
const EPSILON = 1e-9;

function meetsMinimum(count: CoverageCount, min: number): boolean {
  return count.total === 0 || (count.covered * 100) / count.total >= min - EPSILON;
}

function trimZeros(text: string): string {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}
