/**
 * Executes one run: checks out its commit (or uses the local working tree), puts back the artifacts a
 * rerun kept, then drives its jobs. What the jobs do next is decided by `planJobs` (job-plan.ts, pure);
 * this file only performs the decisions: it applies them to the state, saves once per pass (awaited),
 * starts the jobs it was told to start, and waits for one in flight to end before planning again.
 * A save that fails aborts the run (active-run.ts); the next plan then starts nothing.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { defaultBaseEnv } from "../runtime/index.js";
import type { EventInput, PipelineRunStatus } from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import { environmentProtection, repositoryOf } from "./applied-config.js";
import { restoreArtifact } from "./artifacts.js";
import type { EngineOptions } from "./engine-types.js";
import { saveFailed, type ActiveRun } from "./active-run.js";
import {
  applyDecisions,
  approvalVerdict,
  expressionContext,
  planJobs,
  STOPPED_BEFORE_START,
} from "./job-plan.js";
import { runJob, type JobRuntime } from "./job-runner.js";
import type { JobSlots } from "./job-slots.js";
import { createMasker, maskError, maskRunState } from "./mask/index.js";
import type { RunLogs } from "./run-logs.js";
import { finalStatus, liveStatus, resolveSecrets, runEvent } from "./run-state.js";
import type { PipelineSpec } from "./spec.js";
import { checkout, removeCheckout } from "./workspace.js";
import type { JobState } from "./types.js";

export interface ExecutorDeps {
  options: EngineOptions;
  now: () => number;
  slots: JobSlots;
  logs: RunLogs;
  save(
    active: ActiveRun,
    status: PipelineRunStatus,
    events?: EventInput[],
    markStarted?: boolean,
  ): Promise<void>;
}

interface RunContext {
  deps: ExecutorDeps;
  active: ActiveRun;
  spec: PipelineSpec;
  workspace: string;
  runDir: string;
  secrets: Record<string, string>;
}

type Repo = { location: string; kind: "path" | "url" };

/** Runs `active` to its end and saves how it ended (unless a save failed: see engine.ts). */
export async function executeRun(deps: ExecutorDeps, active: ActiveRun, spec: PipelineSpec): Promise<void> {
  const { run } = active;
  const runDir = join(deps.options.dataDir, "pipelines", "runs", String(run.id));
  await deps.save(active, "running", [runEvent(run, "pipeline.run.started", {})], true);
  if (saveFailed(active)) return;

  const lookup = (name: string) => deps.options.secret?.(name) ?? process.env[name];
  const { secrets, missing } = resolveSecrets(spec, lookup);
  if (missing.length > 0) {
    return failRun(
      deps,
      active,
      `secret ${missing.join(", ")} is not defined: set it in the control plane's environment`,
    );
  }
  const masker = createMasker(Object.values(secrets));
  active.mask = masker.mask;
  // Now, not at the next save: what a rerun kept (outputs of an earlier run) is read by conditions
  // and templates before anything is saved again.
  maskRunState(active.state, active.mask);

  let prepared: { workspace: string; repo: Repo | undefined };
  try {
    prepared = await prepareWorkspace(deps, active, runDir);
  } catch (err) {
    return failRun(deps, active, `checkout failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  const { workspace, repo } = prepared;
  try {
    await runJobs({ deps, active, spec, workspace, runDir, secrets });
  } finally {
    if (repo !== undefined) await removeCheckout(repo.location, repo.kind, workspace).catch(() => undefined);
    // Outputs are read and removed after each step; a step cut short may have left its file.
    await rm(join(runDir, "outputs"), { recursive: true, force: true }).catch(() => undefined);
  }
  if (saveFailed(active)) return;
  const status = finalStatus(active.state, active.abort.signal);
  const failedJobs = active.state.jobs.filter((j) => j.status === "failed").map((j) => j.name);
  await deps.save(active, status, [
    runEvent(active.run, `pipeline.run.${status}`, { failedJobs: failedJobs.join(",") || null }),
  ]);
}

/**
 * The run's checkout (or the local working tree), with the artifacts of jobs a rerun kept put back
 * where later jobs expect them.
 */
async function prepareWorkspace(
  deps: ExecutorDeps,
  active: ActiveRun,
  runDir: string,
): Promise<{ workspace: string; repo: Repo | undefined }> {
  const { run } = active;
  let workspace: string;
  let repo: Repo | undefined;
  if (deps.options.localWorkspace !== undefined) {
    workspace = deps.options.localWorkspace;
  } else {
    repo = await repositoryOf(deps.options.store, run);
    const co = await checkout(repo.location, repo.kind, run.trigger.sha, join(runDir, "workspace"));
    workspace = co.dir;
    if (run.trigger.sha === null)
      active.run = { ...active.run, trigger: { ...active.run.trigger, sha: co.sha } };
  }
  active.state.workspace = workspace;
  for (const job of active.state.jobs) {
    if (job.carriedFrom === undefined) continue;
    for (const artifact of job.artifacts) {
      await restoreArtifact(artifact, workspace).catch((err: unknown) => {
        deps.options.logger.warn(
          { err: maskError(err, active.mask), run: run.id, artifact: artifact.name },
          "could not restore a kept artifact",
        );
      });
    }
  }
  return { workspace, repo };
}

/** Plan, apply, save, start; wait for a job to end; again, until the plan says the jobs are done. */
async function runJobs(rc: RunContext): Promise<void> {
  const { deps, active, spec } = rc;
  const inFlight = new Map<string, Promise<void>>();
  for (;;) {
    const plan = planJobs({
      state: active.state,
      spec,
      run: active.run,
      inFlight: new Set(inFlight.keys()),
      stop: !active.abort.signal.aborted ? "none" : saveFailed(active) ? "interrupt" : "cancel",
    });
    applyDecisions(active.state, plan.decisions);
    const recorded = plan.decisions.filter((d) => d.type !== "start" && d.type !== "cancel");
    if (recorded.length > 0) {
      const events = recorded.flatMap((d) =>
        d.type === "skip" && d.event ? [runEvent(active.run, "pipeline.job.skipped", { job: d.job })] : [],
      );
      await deps.save(active, "running", events);
    }
    for (const decision of plan.decisions) {
      if (decision.type !== "start" || active.abort.signal.aborted) continue;
      const job = active.state.jobs.find((j) => j.name === decision.job);
      if (job === undefined) continue;
      inFlight.set(
        job.name,
        runOneJob(rc, job).finally(() => inFlight.delete(job.name)),
      );
    }
    if (plan.done) return;
    if (plan.decisions.length === 0) await Promise.race(inFlight.values());
  }
}

async function runOneJob(rc: RunContext, job: JobState): Promise<void> {
  const { deps, active, spec } = rc;
  const jobSpec = spec.jobs[job.name];
  if (jobSpec === undefined) return;
  let release: (() => void) | undefined;
  try {
    release = await deps.slots.acquire(active.abort.signal);
  } catch {
    job.status = "cancelled";
    job.reason = STOPPED_BEFORE_START;
    return;
  }
  try {
    const runtime: JobRuntime = {
      dataDir: deps.options.dataDir,
      runDir: rc.runDir,
      workspace: rc.workspace,
      run: active.run,
      spec,
      jobSpec,
      job,
      secrets: rc.secrets,
      mask: active.mask,
      signal: active.abort.signal,
      baseEnv: defaultBaseEnv(),
      logMaxBytes: deps.options.logMaxBytes,
      deployer: deps.options.deployer,
      protection: await environmentProtection(deps.options.store, jobSpec.environment),
      now: deps.now,
      context: (forJob) => expressionContext(spec, active.run, forJob, active.state),
      save: (events) => deps.save(active, liveStatus(active.state), events ?? []),
      openLog: (step, attempt) =>
        deps.logs.open(active.run.id, rc.runDir, job.name, step, attempt, active.mask),
      waitForApproval: (signal) => waitForApproval(deps, active, job, signal),
      event: (type, payload) => runEvent(active.run, type, payload),
    };
    await runJob(runtime);
  } finally {
    release();
  }
  await deps.save(active, liveStatus(active.state), [
    runEvent(active.run, `pipeline.job.${job.status}`, { job: job.name, reason: job.reason ?? null }),
  ]);
}

/**
 * Resolves when the job has its approvals, rejects on timeout or when the run stops. Checked when an
 * approval is given and on every engine tick (the deadline), through `active.approvalChecks`.
 */
function waitForApproval(
  deps: ExecutorDeps,
  active: ActiveRun,
  job: JobState,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const verdict = approvalVerdict(job, deps.now());
      if (verdict === "waiting") return;
      cleanup();
      if (verdict === "approved") resolve();
      else
        reject(
          new SlipwayError(
            "approval_timed_out",
            `approval timed out after waiting since ${job.waiting?.since ?? "?"}`,
          ),
        );
    };
    const onAbort = () => {
      cleanup();
      reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    };
    const cleanup = () => {
      signal.removeEventListener("abort", onAbort);
      active.approvalChecks.delete(job.name);
    };
    active.approvalChecks.set(job.name, check);
    signal.addEventListener("abort", onAbort, { once: true });
    check();
  });
}

async function failRun(deps: ExecutorDeps, active: ActiveRun, error: string): Promise<void> {
  active.state.error = error;
  for (const job of active.state.jobs) {
    if (job.status === "pending") {
      job.status = "skipped";
      job.reason = "the run failed before its jobs started";
    }
  }
  await deps.save(active, "failed", [runEvent(active.run, "pipeline.run.failed", { error })]);
}
