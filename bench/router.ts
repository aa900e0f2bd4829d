// Router benchmark (issue 3): direct vs router (50/50 split) vs nginx (same split, when installed).
// Run: npm run bench:router [-- --connections 32 --duration 10 --latency 5]
// The logic lives in bench/lib/router.ts; this file only parses flags.
import { DEFAULT_BENCH_OPTIONS, runRouterBenchmark, type BenchOptions } from "./lib/router.js";

const options = { ...DEFAULT_BENCH_OPTIONS };
const flags: Record<string, keyof BenchOptions> = {
  "--connections": "connections",
  "--duration": "durationSeconds",
  "--latency": "latencySeconds",
};
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i += 2) {
  const key = flags[args[i] ?? ""];
  const value = Number(args[i + 1]);
  if (key === undefined || !Number.isFinite(value) || value <= 0) {
    console.error(`usage: npm run bench:router -- [--connections N] [--duration S] [--latency S]`);
    process.exit(2);
  }
  // Bounded on purpose: the benchmark must never become a load generator left running.
  options[key] = Math.min(value, key === "connections" ? 512 : 60);
}
await runRouterBenchmark(options);
