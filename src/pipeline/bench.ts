/**
 * Benchmark of the pipeline runner's per-step overhead: a pipeline of N trivial steps (`true`) run by
 * the engine — each step its own process group, masked and timestamped logs, its state written to the
 * store before and after — against the same N commands in one shell script, both in the same run on
 * the same machine. Prints the per-step difference; the target is ≤ 50 ms.
 *
 * Run by `bench/pipeline.mjs` after a build (`npm run bench:pipeline`).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { computePlan, desiredObjects, parseConfig, toChangeInputs } from "../config/index.js";
import { createSilentLogger } from "../log/index.js";
import { openStore } from "../store/index.js";
import { createPipelineEngine } from "./engine.js";
import type { RunState } from "./types.js";

export interface PipelineBenchResult {
  steps: number;
  rounds: number;
  scriptMs: number[];
  pipelineMs: number[];
  /** Median pipeline − median script, divided by the number of steps. */
  perStepMs: number;
  /** From the run's creation to its first step starting, median. */
  firstStepMs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export async function runPipelineBenchmark(
  options: { steps?: number; rounds?: number } = {},
): Promise<PipelineBenchResult> {
  const steps = options.steps ?? 50;
  const rounds = options.rounds ?? 5;
  const root = mkdtempSync(join(tmpdir(), "slipway-bench-pipeline-"));
  try {
    const repo = join(root, "repo");
    mkdirSync(repo);
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.com", ...args], {
        cwd: repo,
      });
    git("init", "-q", "-b", "main");
    writeFileSync(join(repo, "README.md"), "bench\n");
    git("add", "-A");
    git("commit", "-q", "-m", "bench");

    const script = join(root, "steps.sh");
    writeFileSync(script, `${Array.from({ length: steps }, () => "true").join("\n")}\n`);

    const source = [
      "project: bench",
      "environments: {}",
      "services: {}",
      "pipelines:",
      "  bench:",
      "    on: { manual: {} }",
      "    jobs:",
      "      steps:",
      "        steps:",
      ...Array.from({ length: steps }, () => '          - run: "true"'),
      "",
    ].join("\n");
    const store = await openStore({ dataDir: join(root, "data") });
    const { config } = parseConfig(source, "slipway.yaml");
    const plan = computePlan([], desiredObjects(config));
    await store.config.apply({
      baseRevision: 0,
      author: "bench",
      sourceFile: "slipway.yaml",
      sourceHash: "0".repeat(64),
      source,
      changes: toChangeInputs(plan),
      summary: plan.summary,
    });
    const repository = await store.pipelines.addRepository({
      name: "bench",
      location: repo,
      kind: "path",
      webhookSecret: "0123456789abcdef0123",
      createdBy: "bench",
    });
    const engine = createPipelineEngine({ store, logger: createSilentLogger(), dataDir: join(root, "data") });
    await engine.start();
    const scriptMs: number[] = [];
    const pipelineMs: number[] = [];
    const firstStep: number[] = [];
    try {
      for (let round = 0; round < rounds; round += 1) {
        const t0 = performance.now();
        const result = spawnSync("/bin/sh", ["-e", script], { stdio: "ignore" });
        scriptMs.push(performance.now() - t0);
        if (result.status !== 0) throw new Error("the shell script failed");

        const t1 = performance.now();
        const created = Date.now();
        const run = await engine.startRun({
          pipeline: "bench",
          trigger: {
            kind: "manual",
            actor: "local:bench",
            ref: "refs/heads/main",
            sha: null,
            branch: "main",
            tag: null,
            repository: repository.id,
            inputs: {},
          },
        });
        const done = await engine.waitForRun(run.id);
        pipelineMs.push(performance.now() - t1);
        if (done.status !== "succeeded") throw new Error(`the pipeline ${done.status}`);
        const started = (done.state as unknown as RunState).jobs[0]?.steps[0]?.startedAt;
        if (started !== undefined) firstStep.push(Date.parse(started) - created);
      }
    } finally {
      await engine.stop();
      await store.close();
    }
    return {
      steps,
      rounds,
      scriptMs,
      pipelineMs,
      perStepMs: (median(pipelineMs) - median(scriptMs)) / steps,
      firstStepMs: median(firstStep),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export function formatPipelineBenchmark(r: PipelineBenchResult): string {
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  return [
    `Pipeline step overhead: ${r.steps} steps of \`true\`, median of ${r.rounds} rounds, Node ${process.version}`,
    `  one shell script        ${ms(median(r.scriptMs))}   (${r.scriptMs.map((n) => n.toFixed(0)).join(", ")})`,
    `  pipeline (engine)       ${ms(median(r.pipelineMs))}   (${r.pipelineMs.map((n) => n.toFixed(0)).join(", ")})`,
    `  ratio pipeline / script ${(median(r.pipelineMs) / Math.max(0.001, median(r.scriptMs))).toFixed(1)}x`,
    `  per-step overhead       ${ms(r.perStepMs)}   (target ≤ 50 ms) ${r.perStepMs <= 50 ? "✓" : "✗"}`,
    `  run created → first step started (checkout included): ${ms(r.firstStepMs)}`,
  ].join("\n");
}
