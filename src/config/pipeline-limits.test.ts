/**
 * The checks across a pipeline's jobs stay small: at most 256 jobs, names hinted only when listed, and
 * lists of declared names cut short.
 */
import { describe, expect, test } from "vitest";
import { ConfigError, type ConfigIssue } from "../util/index.js";
import { parseConfig } from "./load.js";
import { MAX_JOBS } from "./pipeline-checks.js";

function issuesOf(source: string): readonly ConfigIssue[] {
  try {
    parseConfig(source, "slipway.yaml");
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
}

/** A pipeline `p` whose jobs are the given lines, each under `jobs:` (line 6 onwards). */
const pipeline = (jobs: string[]) =>
  ["project: shop", "pipelines:", "  p:", "    on: { manual: {} }", "    jobs:", ...jobs, ""].join("\n");

const chain = (count: number) =>
  Array.from({ length: count }, (_, i) =>
    i === 0
      ? "      j0: { steps: [{ run: x }] }"
      : `      j${i}: { needs: [j${i - 1}], steps: [{ run: x }] }`,
  );

describe("jobs in a pipeline", () => {
  test(`up to ${MAX_JOBS} jobs, even in one long chain of needs, are fine`, () => {
    expect(issuesOf(pipeline(chain(MAX_JOBS)))).toEqual([]);
  });

  test(`more than ${MAX_JOBS} is one issue at the jobs, and the checks across them wait`, () => {
    const jobs = chain(MAX_JOBS + 1);
    jobs.push("      cyclic: { needs: [cyclic], steps: [{ run: x }] }");
    expect(issuesOf(pipeline(jobs))).toEqual([
      {
        file: "slipway.yaml",
        line: 6,
        column: 7,
        path: "pipelines.p.jobs",
        message: `a pipeline has at most ${MAX_JOBS} jobs; this one has ${MAX_JOBS + 2}`,
      },
    ]);
  });
});

describe("names that are not declared", () => {
  const many = Array.from({ length: 200 }, (_, i) => `      job-${i}: { steps: [{ run: x }] }`);

  test("a close one is still suggested among many", () => {
    const issues = issuesOf(pipeline([...many, "      last: { needs: [job-19x], steps: [{ run: x }] }"]));
    expect(issues.map((issue) => issue.message)).toEqual([
      'no job named "job-19x" in this pipeline (did you mean "job-19"?)',
    ]);
  });

  test("with none close, the first 20 declared are listed and the rest counted", () => {
    const issues = issuesOf(pipeline([...many, "      last: { needs: [zzz], steps: [{ run: x }] }"]));
    const names = Array.from({ length: 20 }, (_, i) => `job-${i}`).join(", ");
    expect(issues.map((issue) => issue.message)).toEqual([
      `no job named "zzz" in this pipeline; declared: ${names}, … (201 in all)`,
    ]);
  });
});
