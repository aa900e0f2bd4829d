/**
 * One job: its steps in order, each with its `if`, retry and timeout, inside the job's own timeout and
 * retry. The job's outputs are read from what its steps wrote to `$SLIPWAY_OUTPUT`; its `artifacts:` are
 * saved once it succeeded; caches it restored are saved at its end.
 */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseDuration } from "../config/index.js";
import type { EventInput, PipelineRun } from "../store/index.js";
import { saveArtifact, saveCache } from "./artifacts.js";
import type { StepLog } from "./exec/step-log.js";
import { evaluateCondition, type ExpressionContext } from "./expressions.js";
import { CancelledBy } from "./run-state.js";
import type { JobSpec, PipelineSpec, RetrySpec, StepSpec } from "./spec.js";
import { runStep, type Deployer, type StepOutcome } from "./steps.js";
import type { JobState, StepState } from "./types.js";

export const DEFAULT_JOB_TIMEOUT = "30m";

export interface JobRuntime {
  dataDir: string;
  runDir: string;
  workspace: string;
  run: PipelineRun;
  spec: PipelineSpec;
  jobSpec: JobSpec;
  job: JobState;
  secrets: Record<string, string>;
  mask: (text: string) => string;
  /** The run's: aborted on cancel or shutdown. */
  signal: AbortSignal;
  baseEnv: Record<string, string>;
  logMaxBytes: number | undefined;
  deployer: Deployer | undefined;
  /** The protection rules of the job's `environment:`, the defaults of its approval steps. */
  protection: { approvals: number; approvers: string[] | null } | undefined;
  now: () => number;
  context(job: JobState): ExpressionContext;
  save(events?: EventInput[]): Promise<void>;
  openLog(step: number, attempt: number): StepLog;
  waitForApproval(signal: AbortSignal): Promise<void>;
  event(type: string, payload: Record<string, string | number | boolean | null>): EventInput;
}

/** Context a step runs in: the job runtime plus what earlier steps left behind. */
export interface StepRuntime extends JobRuntime {
  step: StepState;
  stepSpec: StepSpec;
  log: StepLog;
  /** Aborted on cancel, shutdown, or the job's or step's timeout. */
  stepSignal: AbortSignal;
  /** Where this step writes `key=value` outputs. */
  outputFile: string;
  /** Caches restored by the job, saved when it ends (if it succeeded). */
  pendingCaches: { key: string; paths: string[] }[];
  /** Set by a deploy step for later steps: the environment's router URL. */
  jobEnv: Record<string, string>;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function backoffMs(retry: RetrySpec | undefined, attempt: number): number {
  if (retry === undefined) return 0;
  return parseDuration(retry.backoff) * 2 ** Math.max(0, attempt - 2);
}

async function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return;
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}

export async function runJob(rt: JobRuntime): Promise<void> {
  const { job, jobSpec } = rt;
  const attempts = jobSpec.retry?.attempts ?? 1;
  const timeoutMs = parseDuration(jobSpec.timeout ?? DEFAULT_JOB_TIMEOUT);
  job.status = "running";
  job.startedAt = iso(rt.now());
  delete job.reason;
  await rt.save([rt.event("pipeline.job.started", { job: job.name })]);

  let outcome: "succeeded" | "failed" | "timed-out" | "stopped" = "failed";
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    job.attempt = attempt;
    if (attempt > 1) {
      for (const step of job.steps) {
        step.status = "pending";
        delete step.summary;
        delete step.exitCode;
      }
      job.outputs = {};
      delete job.skippedOutputs;
      await rt.save([rt.event("pipeline.job.retried", { job: job.name, attempt })]);
      await sleepUnlessAborted(backoffMs(jobSpec.retry, attempt), rt.signal);
    }
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([rt.signal, timeout]);
    outcome = await runSteps(rt, signal);
    if (timeout.aborted && !rt.signal.aborted) outcome = "timed-out";
    if (outcome === "succeeded" || rt.signal.aborted) break;
  }

  if (rt.signal.aborted) {
    const reason = rt.signal.reason as unknown;
    const cancelled = reason instanceof CancelledBy;
    job.status = cancelled ? "cancelled" : "interrupted";
    job.reason = reason instanceof Error ? reason.message : "stopped";
  } else if (outcome === "succeeded") {
    job.status = "succeeded";
    await finishSucceeded(rt);
  } else {
    const why =
      outcome === "timed-out"
        ? `timed out after ${jobSpec.timeout ?? DEFAULT_JOB_TIMEOUT}`
        : (failureReason(job) ?? "a step failed");
    if (jobSpec.continueOnError === true) {
      job.status = "succeeded";
      job.reason = `failed (${why}), allowed by continueOnError`;
    } else {
      job.status = "failed";
      job.reason = why;
    }
  }
  delete job.waiting;
  job.finishedAt = iso(rt.now());
}

/** Read through a function: the compiler narrows `job.reason` to undefined after the delete above. */
function failureReason(job: JobState): string | undefined {
  return job.reason;
}

async function runSteps(rt: JobRuntime, signal: AbortSignal): Promise<"succeeded" | "failed" | "stopped"> {
  const { job, jobSpec } = rt;
  let failed = false;
  const pendingCaches: { key: string; paths: string[] }[] = [];
  const jobEnv: Record<string, string> = {};
  for (const [index, stepSpec] of jobSpec.steps.entries()) {
    const step = job.steps[index];
    if (step === undefined) continue;
    if (signal.aborted) {
      step.status = rt.signal.aborted ? "cancelled" : "skipped";
      continue;
    }
    const context = {
      ...rt.context(job),
      stepStatus: failed ? ("failure" as const) : ("success" as const),
      workspace: rt.workspace,
    };
    let go: boolean;
    try {
      go = evaluateCondition(stepSpec.if, context, "step");
    } catch (err) {
      step.status = "failed";
      step.summary = `if: ${err instanceof Error ? err.message : String(err)}`;
      failed = true;
      continue;
    }
    if (!go) {
      step.status = "skipped";
      step.summary = stepSpec.if === undefined ? "an earlier step failed" : `if: ${stepSpec.if} was false`;
      await rt.save();
      continue;
    }
    const result = await runWithRetry(rt, step, stepSpec, signal, pendingCaches, jobEnv);
    if (result.status === "failed" && stepSpec.continueOnError !== true) {
      failed = true;
      job.reason = `step ${index + 1} (${step.name}) failed: ${result.summary}`;
      job.tail = result.tail;
    }
    if (result.status === "stopped") return "stopped";
  }
  if (!failed) {
    for (const cache of pendingCaches) {
      await saveCache(rt.dataDir, cache.key, rt.workspace, cache.paths).catch(() => false);
    }
  }
  return failed ? "failed" : "succeeded";
}

async function runWithRetry(
  rt: JobRuntime,
  step: StepState,
  stepSpec: StepSpec,
  jobSignal: AbortSignal,
  pendingCaches: { key: string; paths: string[] }[],
  jobEnv: Record<string, string>,
): Promise<StepOutcome & { tail?: string[] }> {
  const attempts = stepSpec.retry?.attempts ?? 1;
  let last: StepOutcome & { tail?: string[] } = { status: "failed", summary: "did not run" };
  for (let i = 1; i <= attempts; i += 1) {
    if (i > 1) await sleepUnlessAborted(backoffMs(stepSpec.retry, i), jobSignal);
    if (jobSignal.aborted) return { status: "stopped", summary: "stopped" };
    step.attempt += 1;
    step.status = "running";
    step.startedAt = iso(rt.now());
    delete step.finishedAt;
    delete step.exitCode;
    delete step.summary;
    await rt.save();
    const log = rt.openLog(step.index, step.attempt);
    if (i > 1) log.system(`retry ${i - 1} of ${attempts - 1}`);
    const timeoutMs = stepSpec.timeout === undefined ? undefined : parseDuration(stepSpec.timeout);
    const timeout = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
    const stepSignal = timeout === undefined ? jobSignal : AbortSignal.any([jobSignal, timeout]);
    const outputFile = join(rt.runDir, "outputs", `${rt.job.name}-${step.index}-${step.attempt}`);
    let outcome: StepOutcome;
    try {
      outcome = await runStep({ ...rt, step, stepSpec, log, stepSignal, outputFile, pendingCaches, jobEnv });
    } catch (err) {
      outcome = { status: "failed", summary: err instanceof Error ? err.message : String(err) };
    }
    if (timedOut(timeout) && !isAborted(jobSignal)) {
      outcome = { status: "failed", summary: `timed out after ${stepSpec.timeout ?? ""}` };
    } else if (isAborted(jobSignal) && outcome.status !== "succeeded") {
      outcome = { status: "stopped", summary: rt.signal.aborted ? "cancelled" : "the job timed out" };
    }
    const skipped = await collectOutputs(rt, outputFile, log);
    log.system(`${outcome.status}: ${outcome.summary}`);
    await log.close();
    delete step.pgid;
    step.finishedAt = iso(rt.now());
    step.summary = outcome.summary;
    step.logBytes = log.bytes;
    if (log.truncated) step.truncated = true;
    if (outcome.details !== undefined) step.details = outcome.details;
    if (outcome.exitCode !== undefined) step.exitCode = outcome.exitCode;
    step.status =
      outcome.status === "stopped"
        ? rt.signal.aborted
          ? "cancelled"
          : "failed"
        : outcome.status === "failed" && stepSpec.continueOnError === true
          ? "failed"
          : outcome.status;
    last = { ...outcome, tail: log.tail(10) };
    await rt.save(
      skipped.map((output) =>
        rt.event("pipeline.output.skipped", { job: rt.job.name, step: step.index, output }),
      ),
    );
    if (outcome.status !== "failed") return last;
  }
  return last;
}

/** Signals change under awaits; read them through a call so the compiler does not narrow them. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function timedOut(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/**
 * `key=value` lines from `$SLIPWAY_OUTPUT`; a job with `outputs:` keeps only those keys. A line holding
 * a secret in any form the masker knows is refused, as GitHub Actions does ("Skip output 'key' since it
 * may contain secret"): a masked value would be useless to the jobs that read it, and a clear one would
 * reach their commands, the store and the API. The refusal is logged, kept on the job (with the name
 * masked, should the name hold the secret) and returned for the event log. The file is removed: it
 * held the values in clear.
 */
async function collectOutputs(rt: JobRuntime, file: string, log: StepLog): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return [];
  }
  await rm(file, { force: true });
  const wanted = rt.jobSpec.outputs;
  const skipped: string[] = [];
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    if (wanted !== undefined && !wanted.includes(key)) continue;
    if (rt.mask(line) === line) {
      rt.job.outputs[key] = line.slice(eq + 1);
      continue;
    }
    // An earlier value of the same key is stale now: no later job may read it as the current one.
    const { [key]: _stale, ...rest } = rt.job.outputs;
    rt.job.outputs = rest;
    const name = rt.mask(key);
    log.system(`Skip output '${name}' since it may contain secret`);
    if (!skipped.includes(name)) skipped.push(name);
  }
  if (skipped.length > 0) {
    rt.job.skippedOutputs = [...new Set([...(rt.job.skippedOutputs ?? []), ...skipped])];
  }
  return skipped;
}

async function finishSucceeded(rt: JobRuntime): Promise<void> {
  const paths = rt.jobSpec.artifacts;
  if (paths === undefined || paths.length === 0) return;
  try {
    const ref = await saveArtifact(rt.dataDir, rt.workspace, rt.job.name, paths);
    rt.job.artifacts = [...rt.job.artifacts.filter((a) => a.name !== ref.name), ref];
  } catch (err) {
    rt.job.status = "failed";
    rt.job.reason = `saving artifacts failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}
