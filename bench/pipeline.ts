// Pipeline runner overhead (bench/lib/pipeline.ts): `npm run bench:pipeline` (STEPS=50 ROUNDS=5).
import { formatPipelineBenchmark, runPipelineBenchmark } from "./lib/pipeline.js";

const steps = Number(process.env.STEPS ?? 50);
const rounds = Number(process.env.ROUNDS ?? 5);
const result = await runPipelineBenchmark({ steps, rounds });
console.log(formatPipelineBenchmark(result));
if (result.perStepMs > 50) process.exitCode = 1;
