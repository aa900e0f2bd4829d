import { describe, expect, test } from "vitest";
import { formatJudgeBenchmark, runJudgeBenchmark } from "./judge.js";

// Timings are machine-dependent and belong to `npm run bench:judge`; this only checks the harness runs.
describe("runJudgeBenchmark", () => {
  test("judges a healthy and a degraded canary and reports both", () => {
    const result = runJudgeBenchmark({ samples: 300, iterations: 3 });
    expect(result.scenarios.map((s) => s.result)).toEqual(["pass", "fail"]);
    expect(formatJudgeBenchmark(result)).toContain("300 latency samples per window, 3 runs each");
  });
});
