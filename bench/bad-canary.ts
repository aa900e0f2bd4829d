// Bad-canary benchmark: how fast the example's analysis rolls back a canary that fails 30 % of its
// requests, and one whose latency doubles, at a fixed request rate; what clients saw meanwhile.
// Target: traffic back on stable ≤ 10 s after the canary's first response.
// Run: npm run bench:bad-canary [-- --rps 100]
// The logic lives in bench/lib/bad-canary.ts; this file only parses flags.
import { DEFAULT_BAD_CANARY_OPTIONS, runBadCanaryBenchmark } from "./lib/bad-canary.js";

const options = { ...DEFAULT_BAD_CANARY_OPTIONS };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i += 2) {
  const value = Number(args[i + 1]);
  if (args[i] !== "--rps" || !Number.isFinite(value) || value <= 0) {
    console.error("usage: npm run bench:bad-canary -- [--rps N]");
    process.exit(2);
  }
  // Bounded on purpose: this is a fixed-rate probe, not a load generator.
  options.rps = Math.min(value, 2_000);
}
await runBadCanaryBenchmark(options);
