/**
 * Istanbul's json-summary (`coverage-summary.json`, from nyc, jest, c8 and vitest with the
 * `json-summary` reporter): `{ "total": { "lines": { "total", "covered", "skipped", "pct" }, … },
 * "<file>": { … } }`. Only `total` is read. `pct` is recomputed from the counts: Istanbul rounds it to
 * two decimals and writes the string "Unknown" when a total is 0.
 *
 * Trap: the `json` reporter's `coverage-final.json` is a different, per-statement format; it is
 * recognised and refused with a hint rather than reported as "missing total".
 */
import { z } from "zod";
import { coverageCount, reportError } from "./count.js";
import type { CoverageSummary } from "./types.js";

const count = z.looseObject({
  total: z.number().int().nonnegative(),
  covered: z.number().int().nonnegative(),
});

const summarySchema = z.looseObject({
  total: z.looseObject({
    lines: count,
    branches: count.optional(),
    functions: count.optional(),
  }),
});

/**
 * Totals of an Istanbul json-summary report.
 *
 * @example
 *   parseIstanbulSummary('{"total":{"lines":{"total":10,"covered":9,"skipped":0,"pct":90}}}', "s.json");
 *   // { lines: { covered: 9, total: 10, pct: 90 } }
 */
export function parseIstanbulSummary(text: string, file: string): CoverageSummary {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw reportError(file, `not valid JSON: ${(e as Error).message}`);
  }
  const parsed = summarySchema.safeParse(json);
  if (!parsed.success) {
    if (looksLikeCoverageFinal(json)) {
      throw reportError(
        file,
        "this is Istanbul's coverage-final.json (the json reporter); use the json-summary reporter's coverage-summary.json",
      );
    }
    const issue = parsed.error.issues[0];
    const path = issue ? issue.path.map(String).join(".") : "";
    throw reportError(file, `${path === "" ? "the document" : path}: ${issue?.message ?? "invalid"}`);
  }
  const { lines, branches, functions } = parsed.data.total;
  check(lines, "total.lines", file);
  const summary: CoverageSummary = { lines: coverageCount(lines.covered, lines.total) };
  if (branches && branches.total > 0) {
    check(branches, "total.branches", file);
    summary.branches = coverageCount(branches.covered, branches.total);
  }
  if (functions && functions.total > 0) {
    check(functions, "total.functions", file);
    summary.functions = coverageCount(functions.covered, functions.total);
  }
  return summary;
}

function check(pair: { covered: number; total: number }, path: string, file: string): void {
  if (pair.covered > pair.total) {
    throw reportError(file, `${path}: covered ${pair.covered} is greater than total ${pair.total}`);
  }
}

function looksLikeCoverageFinal(json: unknown): boolean {
  if (typeof json !== "object" || json === null) return false;
  return Object.values(json).some(
    (entry) => typeof entry === "object" && entry !== null && "statementMap" in entry,
  );
}
