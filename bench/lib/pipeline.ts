/**
 * Benchmark of the pipeline runner's per-step overhead: a pipeline of N trivial steps (`true`) run by
 * the engine — each step its own process group, masked and timestamped logs, its state written to the
 * store before and after — against the same N commands in one shell script, both in the same run on
 * the same machine. Prints the per-step difference; the target is ≤ 50 ms.
 *
 * Run by bench/pipeline.ts (`npm run bench:pipeline`).
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { computePlan, desiredObjects, parseConfig, toChangeInputs } from "../../src/config/index.js";
import { createSilentLogger } from "../../src/log/index.js";
import { createPipelineEngine } from "../../src/pipeline/index.js";
import type { RunState } from "../../src/pipeline/index.js";
import { REPO_ROOT } from "../../src/rollout/process-world-fixtures.js";
import { generateDataKey } from "../../src/secrets/index.js";
import type * as ServerModule from "../../src/server/index.js";
import { openStore } from "../../src/store/index.js";

/**
 * The built control plane (dist/server), not the bench build's copy of it (dist-bench/src/server):
 * the server reads package.json and starts its config worker from paths beside its own file, which
 * only dist/ has.
 */
async function importBuiltServer(): Promise<typeof ServerModule> {
  const url = pathToFileURL(join(REPO_ROOT, "dist/server/index.js")).href;
  return (await import(url)) as typeof ServerModule;
}

export interface PipelineBenchResult {
  steps: number;
  rounds: number;
  scriptMs: number[];
  pipelineMs: number[];
  /** Median pipeline − median script, divided by the number of steps. */
  perStepMs: number;
  /** From the run's creation to its first step starting, median. */
  firstStepMs: number;
  /** From `git commit` starting (the installed post-commit hook) to the run's first step starting, each round. */
  commitToFirstStepMs: number[];
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
    initRepo(repo, "bench");

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
      sealedWebhookSecret: generateDataKey().seal("0123456789abcdef0123", "test"),
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
      commitToFirstStepMs: await measureCommitToFirstStep(root, Math.min(rounds, 5)),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** A git repository with one commit. */
function initRepo(repo: string, message: string): void {
  mkdirSync(repo);
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.com", ...args], {
      cwd: repo,
    });
  git("init", "-q", "-b", "main");
  writeFileSync(join(repo, "README.md"), "bench\n");
  git("add", "-A");
  git("commit", "-q", "-m", message);
}

/**
 * A real control plane (in this process) watching a real repository through the hook `repo add`
 * installs: `git commit` → post-commit hook → `POST /hooks/local/<repo>` → a run → its first step.
 */
async function measureCommitToFirstStep(root: string, rounds: number): Promise<number[]> {
  const { startServer } = await importBuiltServer();
  const repo = join(root, "hooked");
  initRepo(repo, "initial");
  const server = await startServer({
    settings: {
      listen: { host: "127.0.0.1", port: 0 },
      dataDir: join(root, "server"),
      databaseUrl: undefined,
      logLevel: "silent",
    },
    logger: createSilentLogger(),
  });
  const out: number[] = [];
  try {
    const source = [
      "project: bench",
      "environments: {}",
      "services: {}",
      "pipelines:",
      "  onpush:",
      "    on: { push: { branches: [main] } }",
      "    jobs:",
      '      one: { steps: [{ run: "true" }] }',
      "",
    ].join("\n");
    const call = async (path: string, body: unknown) => {
      const res = await fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.localToken}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as Record<string, unknown>;
    };
    const planned = await call("/api/v1/config/plan", { source, file: "slipway.yaml" });
    await call("/api/v1/config/apply", { source, file: "slipway.yaml", baseRevision: planned.baseRevision });
    await call("/api/v1/repositories", { name: "hooked", location: repo });
    for (let round = 0; round < rounds; round += 1) {
      const before = (await server.store.pipelines.listRuns({ limit: 1 }))[0]?.id ?? 0;
      const t0 = Date.now();
      // Asynchronously: the control plane the hook calls runs in this process.
      const committing = new Promise<void>((resolve, reject) => {
        execFile(
          "git",
          [
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            `round ${round}`,
          ],
          { cwd: repo },
          (err) => {
            if (err) reject(new Error(`git commit failed: ${err.message}`));
            else resolve();
          },
        );
      });
      for (let i = 0; i < 200; i += 1) {
        const run = (await server.store.pipelines.listRuns({ limit: 1 }))[0];
        const started =
          run === undefined || run.id === before
            ? undefined
            : (run.state as unknown as RunState).jobs[0]?.steps[0]?.startedAt;
        if (started !== undefined) {
          out.push(Date.parse(started) - t0);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await committing;
      const last = (await server.store.pipelines.listRuns({ limit: 1 }))[0];
      if (last !== undefined) await server.pipelines.waitForRun(last.id);
    }
  } finally {
    await server.stop();
  }
  return out;
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
    `  git commit → first step started (post-commit hook): median ${ms(median(r.commitToFirstStepMs))} ` +
      `(${r.commitToFirstStepMs.map((n) => n.toFixed(0)).join(", ")}) (target < 1 s) ${median(r.commitToFirstStepMs) < 1000 ? "✓" : "✗"}`,
  ].join("\n");
}
