/**
 * What a run's jobs do next, decided from data alone: the run's state, its spec, the jobs already in
 * flight, whether the run is being stopped, and (for approvals) the time. The engine (run-executor.ts)
 * performs the decisions, saves the state once per pass and awaits the save; nothing here waits, reads
 * a clock or touches the store, so every rule is a table test (job-plan.test.ts).
 *
 * Rules, in the order a pass applies them:
 * - a stopped run starts nothing, and the jobs in flight are left to the run's abort signal. Its pending
 *   jobs are cancelled when it was cancelled or the engine shuts down (`stop: "cancel"`); they stay
 *   pending when a save failed (`stop: "interrupt"`), so that `resume` runs them (engine.ts);
 * - a pending job whose needs are all final is decided by its `if` (default: every need succeeded):
 *   start it, skip it, or fail it when the expression cannot be evaluated;
 * - a job in flight is never started again;
 * - when nothing is in flight and nothing can start, the pending jobs left can never start (their needs
 *   cannot finish; a validated DAG has none) and are skipped, and the jobs are done.
 */
import type { PipelineRun } from "../store/index.js";
import { evaluateCondition, type ExpressionContext } from "./expressions.js";
import type { PipelineSpec } from "./spec.js";
import { FINAL_WORK, type JobState, type RunState } from "./types.js";

export type JobDecision =
  | { type: "start"; job: string }
  /** `if` false; `event`: record `pipeline.job.skipped` (not for the can-never-start guard). */
  | { type: "skip"; job: string; reason: string | undefined; event: boolean }
  /** The `if` could not be evaluated. */
  | { type: "fail"; job: string; reason: string }
  | { type: "cancel"; job: string; reason: string };

export type RunStop = "none" | "cancel" | "interrupt";

export interface JobPlanInput {
  state: RunState;
  spec: PipelineSpec;
  run: Pick<PipelineRun, "id" | "number" | "trigger">;
  /** Jobs started and not finished yet. */
  inFlight: ReadonlySet<string>;
  /** Whether the run is being stopped, and what becomes of its pending jobs then. */
  stop: RunStop;
}

export interface JobPlan {
  decisions: JobDecision[];
  /** No job is pending or in flight after these decisions: the run's jobs are over. */
  done: boolean;
}

export const STOPPED_BEFORE_START = "the run was stopped before this job started";

/** The context expressions of a job see (`trigger`, `env`, `needs`/`jobs`, `job`, `run`). */
export function expressionContext(
  spec: PipelineSpec,
  run: Pick<PipelineRun, "id" | "number" | "trigger">,
  job: JobState | null,
  state: RunState,
): ExpressionContext {
  return {
    trigger: run.trigger,
    env: { ...(spec.env ?? {}) },
    jobs: state.jobs,
    job,
    run: { id: run.id, number: run.number },
  };
}

/** Decides one pass; apply the decisions, then plan again until a plan has none. */
export function planJobs(input: JobPlanInput): JobPlan {
  const { state, spec, run, inFlight, stop } = input;
  const jobs = state.jobs;
  const pending = jobs.filter((j) => j.status === "pending" && !inFlight.has(j.name));
  switch (stop) {
    case "none":
      break;
    case "cancel":
      return {
        decisions: pending.map((j) => ({ type: "cancel", job: j.name, reason: STOPPED_BEFORE_START })),
        done: inFlight.size === 0,
      };
    case "interrupt":
      return { decisions: [], done: inFlight.size === 0 };
    default: {
      const never: never = stop;
      throw new Error(`unknown stop ${JSON.stringify(never)}`);
    }
  }
  const decisions: JobDecision[] = [];
  for (const job of pending) {
    const needs = job.needs.map((n) => jobs.find((j) => j.name === n));
    if (needs.some((n) => n === undefined || !FINAL_WORK.includes(n.status))) continue;
    const jobSpec = spec.jobs[job.name];
    if (jobSpec === undefined) continue;
    decisions.push(decideReady(job, jobSpec.if, expressionContext(spec, run, job, state)));
  }
  if (decisions.length > 0) return { decisions, done: false };
  if (inFlight.size > 0) return { decisions, done: false };
  return {
    decisions: pending.map((j) => ({ type: "skip", job: j.name, reason: undefined, event: false })),
    done: true,
  };
}

function decideReady(job: JobState, condition: string | undefined, context: ExpressionContext): JobDecision {
  let go: boolean;
  try {
    go = evaluateCondition(condition, context, "job");
  } catch (err) {
    return { type: "fail", job: job.name, reason: `if: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (go) return { type: "start", job: job.name };
  const reason = condition === undefined ? "a job it needs did not succeed" : `if: ${condition} was false`;
  return { type: "skip", job: job.name, reason, event: true };
}

/** Applies decisions other than `start` to the state (the executor starts jobs itself). */
export function applyDecisions(state: RunState, decisions: readonly JobDecision[]): void {
  for (const decision of decisions) {
    const job = state.jobs.find((j) => j.name === decision.job);
    if (job === undefined) continue;
    switch (decision.type) {
      case "start":
        break;
      case "skip":
        job.status = "skipped";
        if (decision.reason !== undefined) job.reason = decision.reason;
        break;
      case "fail":
        job.status = "failed";
        job.reason = decision.reason;
        break;
      case "cancel":
        job.status = "cancelled";
        job.reason = decision.reason;
        break;
      default: {
        const never: never = decision;
        throw new Error(`unknown decision ${JSON.stringify(never)}`);
      }
    }
  }
}

export type ApprovalVerdict = "approved" | "timed-out" | "waiting";

/** Where a waiting approval stands at `now`: enough approvals, past its deadline, or still waiting. */
export function approvalVerdict(job: JobState, now: number): ApprovalVerdict {
  const w = job.waiting;
  if (w === undefined) return "waiting";
  if ((job.approvals?.length ?? 0) >= w.count) return "approved";
  if (w.until !== null && now >= Date.parse(w.until)) return "timed-out";
  return "waiting";
}
