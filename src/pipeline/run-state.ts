/**
 * A run's state as plain data: the first state of a pipeline's run, a job reset for a resume, the
 * run's live status, who an actor is, the event a transition records, and what ended a run. Pure
 * functions; the engine (engine.ts) owns the I/O.
 */
import type { EventInput, PipelineRun, PipelineRunStatus } from "../store/index.js";
import { stepKind, stepName, type PipelineSpec } from "./spec.js";
import type { JobState, RunState } from "./types.js";

/** The abort reason of a run someone cancelled (any other abort reason means the engine stopped). */
export class CancelledBy extends Error {
  constructor(readonly actor: string) {
    super(`cancelled by ${actor}`);
  }
}

/** Jobs in dependency order (a job after everything it needs), ties by name: the order people read. */
function topological(jobs: PipelineSpec["jobs"]): [string, PipelineSpec["jobs"][string]][] {
  const out: [string, PipelineSpec["jobs"][string]][] = [];
  const placed = new Set<string>();
  const remaining = Object.entries(jobs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  while (remaining.length > 0) {
    const index = remaining.findIndex(([, job]) => (job.needs ?? []).every((n) => placed.has(n)));
    // A cycle is refused when the config is validated; keep going rather than loop forever.
    const [entry] = remaining.splice(index < 0 ? 0 : index, 1);
    if (entry === undefined) break;
    placed.add(entry[0]);
    out.push(entry);
  }
  return out;
}

export function initialState(spec: PipelineSpec): RunState {
  return {
    v: 1,
    jobs: topological(spec.jobs).map(([name, job]) => ({
      name,
      needs: job.needs ?? [],
      status: "pending",
      attempt: 0,
      outputs: {},
      artifacts: [],
      steps: job.steps.map((step, index) => ({
        index,
        name: stepName(step, index),
        kind: stepKind(step),
        status: "pending",
        attempt: 0,
        ...(step.continueOnError === true ? { continueOnError: true } : {}),
      })),
    })),
  };
}

export function resetJob(job: JobState): void {
  job.status = "pending";
  job.attempt = 0;
  job.outputs = {};
  delete job.skippedOutputs;
  job.artifacts = [];
  delete job.reason;
  delete job.tail;
  delete job.startedAt;
  delete job.finishedAt;
  delete job.waiting;
  delete job.approvals;
  job.steps = job.steps.map((step) => ({
    index: step.index,
    name: step.name,
    kind: step.kind,
    status: "pending",
    attempt: 0,
    ...(step.continueOnError === true ? { continueOnError: true } : {}),
  }));
}

/** `waiting` when nothing runs and a job waits for an approval. */
export function liveStatus(state: RunState): "running" | "waiting" {
  const waiting = state.jobs.some((j) => j.status === "waiting");
  return waiting && !state.jobs.some((j) => j.status === "running") ? "waiting" : "running";
}

/** `token:alice` → `alice`; the name approvers are listed by. */
export function personOf(actor: string): string {
  const colon = actor.indexOf(":");
  return colon < 0 ? actor : actor.slice(colon + 1);
}

export function runEvent(
  run: Pick<PipelineRun, "id" | "number" | "pipeline">,
  type: string,
  payload: Record<string, string | number | boolean | null>,
): EventInput {
  return {
    type,
    actor: "system:pipeline",
    objectKind: "pipeline",
    objectName: run.pipeline,
    payload: { run: run.id, number: run.number, ...payload },
  };
}

/** Values of the pipeline's `secrets:`, and the names that have none. */
export function resolveSecrets(
  spec: PipelineSpec,
  lookup: (name: string) => string | undefined,
): { secrets: Record<string, string>; missing: string[] } {
  const secrets: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of spec.secrets ?? []) {
    const value = lookup(name);
    if (value === undefined) missing.push(name);
    else secrets[name] = value;
  }
  return { secrets, missing };
}

/** How a run ended once its jobs are done: cancelled or interrupted when it was stopped, else by its jobs. */
export function finalStatus(state: RunState, signal: AbortSignal): PipelineRunStatus {
  if (signal.aborted) return signal.reason instanceof CancelledBy ? "cancelled" : "interrupted";
  return state.jobs.some((j) => j.status === "failed") ? "failed" : "succeeded";
}
