// Pipeline runner overhead (src/pipeline/bench.ts), run on the build: `npm run bench:pipeline`.
import { formatPipelineBenchmark, runPipelineBenchmark } from "../dist/pipeline/bench.js";

const steps = Number(process.env.STEPS ?? 50);
const rounds = Number(process.env.ROUNDS ?? 5);
const result = await runPipelineBenchmark({ steps, rounds });
console.log(formatPipelineBenchmark(result));
if (result.perStepMs > 50) process.exitCode = 1;
