// Benchmark of the canary judge (bench/lib/judge.ts): `npm run bench:judge`.
// Exits 1 when a scenario's p99 exceeds the 50 ms budget.
import { formatJudgeBenchmark, runJudgeBenchmark, withinBudget } from "./lib/judge.js";

const result = runJudgeBenchmark();
console.log(formatJudgeBenchmark(result));
if (!withinBudget(result)) {
  console.error(`judge: over the ${result.budgetMs} ms budget`);
  process.exitCode = 1;
}
