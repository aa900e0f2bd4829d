/**
 * Benchmark of the judge: two windows of 5,000 latency samples each, judged with every check type, on a
 * healthy canary (checks pass without tests) and a degraded one (every limit breached, every test run).
 * Run by bench/judge.ts (`npm run bench:judge`); the budget is 50 ms per judgement, the target "well under".
 */
import { performance } from "node:perf_hooks";
import { judge, type AnalysisConfig, type SampleWindow } from "../../src/judge/index.js";
import { lognormalLatencies, createSeededRandom } from "../../src/judge/random.js";

export interface JudgeBenchmarkOptions {
  samples?: number;
  iterations?: number;
  seed?: number;
}

export interface JudgeBenchmarkScenario {
  name: string;
  result: string;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface JudgeBenchmarkResult {
  samples: number;
  iterations: number;
  budgetMs: number;
  scenarios: JudgeBenchmarkScenario[];
}

export const JUDGE_BUDGET_MS = 50;

const ANALYSIS: AnalysisConfig = {
  minSamples: 100,
  confidence: 0.95,
  onInconclusive: "extend",
  checks: [
    { metric: "error-rate", max: 0.01 /* 1% */, vsBaseline: 0.005 /* +0.5pp */ },
    { metric: "latency-p50", vsBaseline: 1.25 /* x1.25 */ },
    { metric: "latency-p95", max: 500 /* 500ms */, vsBaseline: 1.25 /* x1.25 */ },
    { metric: "latency-p99", vsBaseline: 1.5 /* x1.5 */ },
  ],
};

function window(random: () => number, samples: number, errorRate: number, medianMs: number): SampleWindow {
  return {
    requests: samples,
    errors: Math.round(samples * errorRate),
    latenciesMs: lognormalLatencies(random, samples, medianMs, 0.5),
  };
}

function time(
  name: string,
  iterations: number,
  canary: SampleWindow,
  baseline: SampleWindow,
): JudgeBenchmarkScenario {
  const warmup = Math.min(50, iterations);
  let result = "";
  for (let i = 0; i < warmup; i++) result = judge(ANALYSIS, canary, baseline).result;
  const times = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    judge(ANALYSIS, canary, baseline);
    times[i] = performance.now() - start;
  }
  times.sort();
  const at = (q: number) => times[Math.min(iterations - 1, Math.ceil(q * iterations) - 1)] ?? 0;
  const mean = times.reduce((sum, t) => sum + t, 0) / iterations;
  return { name, result, meanMs: mean, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}

/** Times `judge` on seeded synthetic windows; returns per-scenario timings in milliseconds. */
export function runJudgeBenchmark(options: JudgeBenchmarkOptions = {}): JudgeBenchmarkResult {
  const { samples = 5_000, iterations = 200, seed = 20_260_817 } = options;
  const random = createSeededRandom(seed);
  const baseline = window(random, samples, 0.005, 100);
  const healthy = window(random, samples, 0.005, 100);
  const degraded = window(random, samples, 0.03, 200);
  return {
    samples,
    iterations,
    budgetMs: JUDGE_BUDGET_MS,
    scenarios: [
      time("healthy canary (no breach, no tests)", iterations, healthy, baseline),
      time("degraded canary (every limit breached, every test run)", iterations, degraded, baseline),
    ],
  };
}

/** The benchmark's report as printed lines, with each scenario's p99 as a share of the budget. */
export function formatJudgeBenchmark(result: JudgeBenchmarkResult): string {
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  const lines = [
    `judge: ${result.samples.toLocaleString("en-US")} latency samples per window, ${result.iterations} runs each`,
  ];
  for (const s of result.scenarios) {
    const share = ((s.p99Ms / result.budgetMs) * 100).toFixed(1);
    lines.push(
      `  ${s.name} → ${s.result}: mean ${ms(s.meanMs)}, p50 ${ms(s.p50Ms)}, p99 ${ms(s.p99Ms)}, ` +
        `max ${ms(s.maxMs)}; p99 is ${share}% of the ${result.budgetMs} ms budget`,
    );
  }
  return lines.join("\n");
}

/** True when every scenario's p99 is within the budget. */
export function withinBudget(result: JudgeBenchmarkResult): boolean {
  return result.scenarios.every((s) => s.p99Ms <= result.budgetMs);
}
