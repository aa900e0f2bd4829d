// Zero-downtime benchmark: requests through the router during rolling, blue-green, canary, rollback,
// a kill -9 of the control plane mid-canary, a kill -9 and a planned restart (SIGUSR2) of the node agent
// under steady load, and a canary of a release identical to the live one with the agent killed
// mid-step; target 0 failed of ≥ 50,000, instance pids unchanged across every agent fault, every
// rollout succeeded. Ratio vs a direct connection to one instance, measured in the same run.
// Run: npm run bench:zero-downtime [-- --connections 20 --min-requests 12000 --baseline 5]
// The logic lives in bench/lib/zero-downtime.ts; this file only parses flags.
import {
  DEFAULT_ZERO_DOWNTIME_OPTIONS,
  runZeroDowntimeBenchmark,
  type ZeroDowntimeOptions,
} from "./lib/zero-downtime.js";

const options = { ...DEFAULT_ZERO_DOWNTIME_OPTIONS };
const flags: Record<string, [keyof ZeroDowntimeOptions, number]> = {
  "--connections": ["connections", 512],
  "--min-requests": ["minRequests", 1_000_000],
  "--baseline": ["baselineSeconds", 60],
};
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i += 2) {
  const flag = flags[args[i] ?? ""];
  const value = Number(args[i + 1]);
  if (flag === undefined || !Number.isFinite(value) || value <= 0) {
    console.error(
      "usage: npm run bench:zero-downtime -- [--connections N] [--min-requests N] [--baseline S]",
    );
    process.exit(2);
  }
  // Bounded on purpose: the benchmark must never become a load generator left running.
  options[flag[0]] = Math.min(value, flag[1]);
}
const { failed, pidsChanged, notSucceeded } = await runZeroDowntimeBenchmark(options);
process.exitCode = failed === 0 && pidsChanged === 0 && notSucceeded === 0 ? 0 : 1;
