import { describe, expect, it } from "vitest";
import {
  applyDecisions,
  approvalVerdict,
  planJobs,
  STOPPED_BEFORE_START,
  type JobDecision,
  type RunStop,
} from "./job-plan.js";
import { initialState } from "./run-state.js";
import type { PipelineSpec } from "./spec.js";
import type { JobState, RunState, WorkStatus } from "./types.js";

const run = {
  id: 1,
  number: 1,
  trigger: {
    kind: "manual" as const,
    actor: "token:alice",
    ref: "refs/heads/main",
    branch: "main",
    tag: null,
    sha: null,
    repository: null,
    inputs: {},
  },
};

/** build → test → deploy (deploy `if:` given per case), lint alone. */
function spec(deployIf?: string): PipelineSpec {
  return {
    jobs: {
      build: { steps: [{ run: "make" }] },
      lint: { steps: [{ run: "lint" }] },
      test: { needs: ["build"], steps: [{ run: "test" }] },
      deploy: {
        needs: ["test"],
        ...(deployIf === undefined ? {} : { if: deployIf }),
        steps: [{ run: "deploy" }],
      },
    },
  };
}

function state(statuses: Partial<Record<string, WorkStatus>>, s = spec()): RunState {
  const st = initialState(s);
  for (const job of st.jobs) job.status = statuses[job.name] ?? job.status;
  return st;
}

describe("planJobs", () => {
  it.each<{
    name: string;
    statuses: Partial<Record<string, WorkStatus>>;
    deployIf?: string;
    inFlight?: string[];
    stop?: RunStop;
    decisions: JobDecision[];
    done: boolean;
  }>([
    {
      name: "starts every job without needs at first",
      statuses: {},
      decisions: [
        { type: "start", job: "build" },
        { type: "start", job: "lint" },
      ],
      done: false,
    },
    {
      name: "never starts a job that is already in flight",
      statuses: {},
      inFlight: ["build", "lint"],
      decisions: [],
      done: false,
    },
    {
      name: "waits while a need is not final",
      statuses: { build: "running", lint: "succeeded" },
      inFlight: ["build"],
      decisions: [],
      done: false,
    },
    {
      name: "starts a job once its needs succeeded",
      statuses: { build: "succeeded", lint: "running" },
      inFlight: ["lint"],
      decisions: [{ type: "start", job: "test" }],
      done: false,
    },
    {
      name: "skips a job whose need failed (default if)",
      statuses: { build: "succeeded", lint: "succeeded", test: "failed" },
      decisions: [{ type: "skip", job: "deploy", reason: "a job it needs did not succeed", event: true }],
      done: false,
    },
    {
      name: "skips a job whose need was skipped",
      statuses: { build: "succeeded", lint: "succeeded", test: "skipped" },
      decisions: [{ type: "skip", job: "deploy", reason: "a job it needs did not succeed", event: true }],
      done: false,
    },
    {
      name: "runs a job whose if holds although its need failed",
      statuses: { build: "succeeded", lint: "succeeded", test: "failed" },
      deployIf: "always()",
      decisions: [{ type: "start", job: "deploy" }],
      done: false,
    },
    {
      name: "skips a job whose if is false, naming the expression",
      statuses: { build: "succeeded", lint: "succeeded", test: "succeeded" },
      deployIf: "failure()",
      decisions: [{ type: "skip", job: "deploy", reason: "if: failure() was false", event: true }],
      done: false,
    },
    {
      name: "fails a job whose if cannot be evaluated",
      statuses: { build: "succeeded", lint: "succeeded", test: "succeeded" },
      deployIf: "nosuchfunction()",
      decisions: [{ type: "fail", job: "deploy", reason: expect.stringMatching(/^if: /) as string }],
      done: false,
    },
    {
      name: "a stopped run cancels what has not started and waits for what is in flight",
      statuses: { build: "running" },
      inFlight: ["build"],
      stop: "cancel",
      decisions: [
        { type: "cancel", job: "lint", reason: STOPPED_BEFORE_START },
        { type: "cancel", job: "test", reason: STOPPED_BEFORE_START },
        { type: "cancel", job: "deploy", reason: STOPPED_BEFORE_START },
      ],
      done: false,
    },
    {
      name: "a run stopped by a failed save starts nothing and keeps its pending jobs for a resume",
      statuses: { build: "succeeded", lint: "running" },
      inFlight: ["lint"],
      stop: "interrupt",
      decisions: [],
      done: false,
    },
    {
      name: "a run stopped by a failed save is done when nothing is in flight, pending jobs and all",
      statuses: { build: "succeeded", lint: "interrupted" },
      stop: "interrupt",
      decisions: [],
      done: true,
    },
    {
      name: "a stopped run with nothing in flight is done",
      statuses: { build: "cancelled", lint: "succeeded", test: "cancelled", deploy: "cancelled" },
      stop: "cancel",
      decisions: [],
      done: true,
    },
    {
      name: "is done when every job is final",
      statuses: { build: "succeeded", lint: "succeeded", test: "succeeded", deploy: "skipped" },
      decisions: [],
      done: true,
    },
  ])("$name", ({ statuses, deployIf, inFlight = [], stop = "none", decisions, done }) => {
    const s = spec(deployIf);
    const plan = planJobs({ state: state(statuses, s), spec: s, run, inFlight: new Set(inFlight), stop });
    expect(plan.decisions).toEqual(decisions);
    expect(plan.done).toBe(done);
  });

  it("skips, without an event, jobs whose needs can never finish (a guard: a valid DAG has none)", () => {
    const s: PipelineSpec = { jobs: { a: { needs: ["ghost"], steps: [{ run: "x" }] } } };
    const st = initialState(s);
    expect(planJobs({ state: st, spec: s, run, inFlight: new Set(), stop: "none" })).toEqual({
      decisions: [{ type: "skip", job: "a", reason: undefined, event: false }],
      done: true,
    });
  });

  it("decides a chain of skips one pass at a time, in dependency order", () => {
    const s = spec();
    const st = state({ build: "failed", lint: "succeeded" }, s);
    const order: string[] = [];
    for (let pass = 0; pass < 5; pass++) {
      const plan = planJobs({ state: st, spec: s, run, inFlight: new Set(), stop: "none" });
      applyDecisions(st, plan.decisions);
      order.push(...plan.decisions.map((d) => `${d.type} ${d.job}`));
      if (plan.done) break;
    }
    expect(order).toEqual(["skip test", "skip deploy"]);
    expect(st.jobs.map((j) => [j.name, j.status, j.reason])).toEqual([
      ["build", "failed", undefined],
      ["lint", "succeeded", undefined],
      ["test", "skipped", "a job it needs did not succeed"],
      ["deploy", "skipped", "a job it needs did not succeed"],
    ]);
  });
});

describe("approvalVerdict", () => {
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  function job(approvals: number, until: string | null): JobState {
    return {
      name: "release",
      needs: [],
      status: "waiting",
      attempt: 1,
      outputs: {},
      artifacts: [],
      steps: [],
      approvals: Array.from({ length: approvals }, (_, i) => ({ by: `p${i}`, at: "x" })),
      waiting: { step: 0, since: "x", until, count: 2, approvers: null, allowSelfApproval: false },
    };
  }
  it.each([
    ["waits with too few approvals and no deadline", job(1, null), t0, "waiting"],
    ["is approved with enough approvals", job(2, null), t0, "approved"],
    [
      "is approved with enough approvals even past the deadline",
      job(2, "2025-12-31T00:00:00Z"),
      t0,
      "approved",
    ],
    ["waits before the deadline", job(1, "2026-01-01T00:00:01Z"), t0, "waiting"],
    ["times out at the deadline", job(1, "2026-01-01T00:00:00Z"), t0, "timed-out"],
    ["times out after the deadline", job(0, "2025-12-31T00:00:00Z"), t0, "timed-out"],
  ] as const)("%s", (_name, j, now, verdict) => {
    expect(approvalVerdict(j, now)).toBe(verdict);
  });
});
