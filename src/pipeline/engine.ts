/**
 * The pipeline engine, in the control plane (or in the CLI process for `pipeline run --local`): the
 * public operations on runs, and the scheduler loop.
 *
 * A run is created `queued`; the scheduler (a loop, src/loop) starts it once its concurrency group has
 * no other active run, and on every tick re-checks waiting approvals for their deadline. Running a run
 * is run-executor.ts: check out the commit, then its jobs as a DAG as decided by job-plan.ts, at most
 * `parallelism` jobs at once across all runs. Every transition is written to the store (the run's
 * `state`, through its codec, compare-and-set) before anyone is told; logs go to files and to live
 * subscribers (run-logs.ts).
 *
 * After a restart, whatever was running or waiting is marked interrupted and the process groups it
 * left are killed (engine-recovery.ts); `resume` queues the same run again, and only the interrupted
 * and unfinished jobs run. Queued runs just wait for the scheduler, as before.
 *
 * A save that fails mid-run stops the run (active-run.ts): its jobs are stopped and nothing further
 * starts. The run is then recorded `interrupted`, with the reason in its `error`, as soon as the store
 * answers again (`recordStoppedRun`, retried on every scheduler tick). Interrupted, not failed: it is
 * what the restart path (durability.test.ts) makes of a run the control plane stopped under, and it
 * keeps the run resumable: `resume` runs its interrupted and never-started jobs again (those stay
 * pending: job-plan.ts). If the process stops before the store answers, the restart path records the
 * same thing from the last saved state.
 */
import { createLoop, type Loop, type LoopStats } from "../loop/index.js";
import type { PipelineRun } from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import { activeRun, FINAL_RUNS, recordStoppedRun, saveRun, type ActiveRun } from "./active-run.js";
import { appliedPipeline } from "./applied-config.js";
import { PipelineSpecCodec, RunStateCodec, storedForm } from "./codecs.js";
import { recoverRuns } from "./engine-recovery.js";
import type {
  EngineOptions,
  PipelineEngine,
  RunLogLine,
  RunLogQuery,
  StartRunInput,
} from "./engine-types.js";
import { expressionContext } from "./job-plan.js";
import { JobSlots } from "./job-slots.js";
import { interpolateText } from "./expressions.js";
import { maskError } from "./mask/index.js";
import { RunLogs } from "./run-logs.js";
import { executeRun, type ExecutorDeps } from "./run-executor.js";
import { CancelledBy, initialState, personOf, resetJob, runEvent } from "./run-state.js";
import { FINAL_WORK, type RunState } from "./types.js";

export type { EngineOptions } from "./engine-types.js";

const DEFAULT_PARALLELISM = 2;
const SCHEDULER_TICK_MS = 1_000;

export function createPipelineEngine(options: EngineOptions): PipelineEngine {
  return new Engine(options);
}

class Engine implements PipelineEngine {
  readonly #o: EngineOptions;
  readonly #active = new Map<number, ActiveRun>();
  /** Runs stopped by a failed save whose end is not recorded yet (see the header). */
  readonly #unrecorded = new Map<number, ActiveRun>();
  readonly #finished = new Map<number, Set<() => void>>();
  readonly #logs: RunLogs;
  readonly #deps: ExecutorDeps;
  readonly #scheduler: Loop;
  #stopped = true;

  constructor(options: EngineOptions) {
    this.#o = options;
    this.#logs = new RunLogs(options.dataDir, options.logMaxBytes);
    this.#deps = {
      options,
      now: this.#now,
      slots: new JobSlots(options.parallelism ?? DEFAULT_PARALLELISM),
      logs: this.#logs,
      save: (active, status, events, markStarted) =>
        saveRun(options.store, options.logger, active, status, events, markStarted),
    };
    this.#scheduler = createLoop({
      name: "pipelines",
      intervalMs: SCHEDULER_TICK_MS,
      tick: () => this.#tick(),
      onError: (err) => {
        this.#o.logger.error({ err }, "pipeline scheduler failed");
      },
    });
  }

  get #now(): () => number {
    return this.#o.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await recoverRuns(this.#o);
    this.#scheduler.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#scheduler.stop();
    const active = [...this.#active.values()];
    for (const a of active) a.abort.abort(new Error("control plane stopping"));
    await Promise.all(active.map((a) => a.done));
  }

  loops(): { stats(): LoopStats }[] {
    return [this.#scheduler];
  }

  // ---- runs -------------------------------------------------------------------------------------

  async startRun(input: StartRunInput): Promise<PipelineRun> {
    const { spec, revision } = await appliedPipeline(this.#o.store, input.pipeline);
    const state = initialState(spec);
    const context = expressionContext(spec, { id: 0, number: 0, trigger: input.trigger }, null, state);
    const group = spec.concurrency === undefined ? null : interpolateText(spec.concurrency.group, context);
    if (group !== null && spec.concurrency?.cancelInProgress === true) {
      const others = await this.#o.store.pipelines.listRuns({
        concurrencyGroup: group,
        statuses: ["queued", "running", "waiting"],
        limit: 1000,
      });
      for (const other of others)
        await this.cancel(other.id, `system:concurrency ${group}`).catch(() => undefined);
    }
    const run = await this.#o.store.pipelines.createRun({
      pipeline: input.pipeline,
      trigger: input.trigger,
      spec: storedForm(PipelineSpecCodec, spec),
      configRevision: revision,
      concurrencyGroup: group,
      state: storedForm(RunStateCodec, state),
    });
    this.#scheduler.poke();
    return run;
  }

  async cancel(runId: number, actor: string): Promise<PipelineRun> {
    const active = this.#active.get(runId);
    if (active !== undefined) {
      active.abort.abort(new CancelledBy(actor));
      await active.done;
      return this.#o.store.pipelines.getRun(runId);
    }
    const run = await this.#o.store.pipelines.getRun(runId);
    if (FINAL_RUNS.includes(run.status)) {
      throw new SlipwayError(
        "run_not_cancellable",
        `run ${run.pipeline} #${run.number} is ${run.status}; nothing to cancel`,
      );
    }
    const state = stateOf(run);
    for (const job of state.jobs) {
      if (!FINAL_WORK.includes(job.status)) {
        job.status = "cancelled";
        job.reason = `cancelled by ${actor}`;
      }
    }
    return this.#o.store.pipelines.updateRun({
      id: run.id,
      expectedRevision: run.revision,
      status: "cancelled",
      state: storedForm(RunStateCodec, state),
      events: [runEvent(run, "pipeline.run.cancelled", { by: actor })],
    });
  }

  async approve(runId: number, actor: string, jobName?: string): Promise<PipelineRun> {
    const active = this.#active.get(runId);
    const run = active?.run ?? (await this.#o.store.pipelines.getRun(runId));
    const state = active?.state ?? stateOf(run);
    const waiting = state.jobs.filter(
      (j) => j.waiting !== undefined && (jobName === undefined || j.name === jobName),
    );
    const job = waiting[0];
    if (active === undefined || job?.waiting === undefined) {
      throw new SlipwayError(
        "no_approval_waiting",
        `run ${run.pipeline} #${run.number} is ${run.status}: no approval is waiting${jobName === undefined ? "" : ` in job ${jobName}`}`,
      );
    }
    if (waiting.length > 1 && jobName === undefined) {
      throw new SlipwayError(
        "approval_ambiguous",
        `several jobs wait for approval (${waiting.map((j) => j.name).join(", ")}); name one`,
      );
    }
    const who = personOf(actor);
    const w = job.waiting;
    if (w.approvers !== null && !w.approvers.includes(who)) {
      throw new SlipwayError(
        "forbidden",
        `${who} may not approve ${job.name}: approvers are ${w.approvers.join(", ")}`,
      );
    }
    if (!w.allowSelfApproval && who === personOf(run.trigger.actor)) {
      throw new SlipwayError("forbidden", `${who} started this run and may not approve it`, {
        hint: "someone else must approve (the environment does not allow self-approval)",
      });
    }
    job.approvals ??= [];
    if (job.approvals.some((a) => a.by === who)) {
      throw new SlipwayError("already_approved", `${who} approved ${job.name} already`);
    }
    job.approvals.push({ by: who, at: new Date(this.#now()).toISOString() });
    await this.#deps.save(active, run.status, [
      runEvent(run, "pipeline.approval.given", { job: job.name, by: who }),
    ]);
    // The approval is not stored: the run is stopping; tell the approver what the store said.
    if (active.saveFailure !== undefined) throw active.saveFailure.cause;
    active.approvalChecks.get(job.name)?.();
    return active.run;
  }

  async rerun(runId: number, actor: string, options: { failedOnly: boolean }): Promise<PipelineRun> {
    const old = await this.#o.store.pipelines.getRun(runId);
    if (!FINAL_RUNS.includes(old.status)) {
      throw new SlipwayError(
        "run_not_finished",
        `run ${old.pipeline} #${old.number} is ${old.status}; wait for it to finish or cancel it`,
      );
    }
    const { spec, revision } = await appliedPipeline(this.#o.store, old.pipeline);
    const state = initialState(spec);
    if (options.failedOnly) {
      const before = stateOf(old);
      for (const job of state.jobs) {
        const prior = before.jobs.find((j) => j.name === job.name);
        if (prior?.status === "succeeded") {
          Object.assign(job, { ...prior, carriedFrom: prior.carriedFrom ?? old.id });
        }
      }
    }
    const run = await this.#o.store.pipelines.createRun({
      pipeline: old.pipeline,
      trigger: { ...old.trigger, kind: "rerun", actor, rerunOf: old.id },
      spec: storedForm(PipelineSpecCodec, spec),
      configRevision: revision,
      concurrencyGroup: old.concurrencyGroup,
      state: storedForm(RunStateCodec, state),
    });
    this.#scheduler.poke();
    return run;
  }

  async resume(runId: number, actor: string): Promise<PipelineRun> {
    const run = await this.#o.store.pipelines.getRun(runId);
    if (run.status !== "interrupted") {
      throw new SlipwayError(
        "run_not_resumable",
        `run ${run.pipeline} #${run.number} is ${run.status}; only an interrupted run can be resumed`,
      );
    }
    const state = stateOf(run);
    for (const job of state.jobs) {
      if (job.status === "interrupted" || job.status === "pending") resetJob(job);
    }
    const resumed = await this.#o.store.pipelines.updateRun({
      id: run.id,
      expectedRevision: run.revision,
      status: "queued",
      state: storedForm(RunStateCodec, state),
      events: [runEvent(run, "pipeline.run.resumed", { by: actor })],
    });
    this.#scheduler.poke();
    return resumed;
  }

  async logs(runId: number, query: RunLogQuery = {}): Promise<RunLogLine[]> {
    const run = await this.#o.store.pipelines.getRun(runId);
    const state = this.#active.get(runId)?.state ?? stateOf(run);
    const out: RunLogLine[] = [];
    for (const job of state.jobs) {
      if (query.job !== undefined && job.name !== query.job) continue;
      for (const step of job.steps) {
        if (query.step !== undefined && step.index !== query.step) continue;
        for (let attempt = 1; attempt <= step.attempt; attempt += 1) {
          out.push(...(await this.#logs.read(runId, job.name, step.index, attempt)));
        }
      }
    }
    return out;
  }

  subscribe(runId: number, listener: (line: RunLogLine) => void): () => void {
    return this.#logs.subscribe(runId, listener);
  }

  async waitForRun(runId: number, signal?: AbortSignal): Promise<PipelineRun> {
    for (;;) {
      const run = await this.#o.store.pipelines.getRun(runId);
      if (FINAL_RUNS.includes(run.status)) return run;
      if (signal?.aborted === true) return run;
      await new Promise<void>((resolve) => {
        let set = this.#finished.get(runId);
        if (set === undefined) {
          set = new Set();
          this.#finished.set(runId, set);
        }
        const done = () => {
          clearTimeout(timer);
          set.delete(done);
          // Removed, not left to `once`: a long wait would pile one listener per round on the signal.
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, 500);
        set.add(done);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
  }

  // ---- scheduling -------------------------------------------------------------------------------

  /** One scheduler pass: approval deadlines, runs whose end is still to record, queued runs. */
  async #tick(): Promise<void> {
    for (const active of this.#active.values()) for (const check of active.approvalChecks.values()) check();
    for (const active of [...this.#unrecorded.values()]) {
      await recordStoppedRun(this.#o.store, active);
      this.#unrecorded.delete(active.run.id);
      this.#wake(active.run.id);
    }
    await this.#startQueued();
  }

  async #startQueued(): Promise<void> {
    const queued = (await this.#o.store.pipelines.listRuns({ statuses: ["queued"], limit: 1000 })).reverse();
    if (queued.length === 0) return;
    const busyGroups = new Set(
      (await this.#o.store.pipelines.listRuns({ statuses: ["running", "waiting"], limit: 1000 }))
        .map((r) => r.concurrencyGroup)
        .filter((g): g is string => g !== null),
    );
    for (const run of queued) {
      if (this.#stopped || this.#active.has(run.id)) continue;
      if (run.concurrencyGroup !== null && busyGroups.has(run.concurrencyGroup)) continue;
      if (run.concurrencyGroup !== null) busyGroups.add(run.concurrencyGroup);
      this.#launch(run);
    }
  }

  #launch(run: PipelineRun): void {
    const where = `pipeline run ${run.id}`;
    const active = activeRun(run, RunStateCodec.decode(run.state, where));
    this.#active.set(run.id, active);
    active.done = (async () => {
      await executeRun(this.#deps, active, PipelineSpecCodec.decode(run.spec, where));
      if (active.saveFailure !== undefined) await this.#recordOrRetry(active);
    })()
      .catch((err: unknown) => {
        this.#o.logger.error(
          { err: maskError(err, active.mask), run: run.id },
          "pipeline run failed unexpectedly",
        );
      })
      .finally(() => {
        this.#active.delete(run.id);
        if (!this.#unrecorded.has(run.id)) this.#wake(run.id);
        this.#scheduler.poke();
      });
  }

  #wake(runId: number): void {
    for (const wake of this.#finished.get(runId) ?? []) wake();
  }

  // ---- a run stopped by a failed save -----------------------------------------------------------

  async #recordOrRetry(active: ActiveRun): Promise<void> {
    try {
      await recordStoppedRun(this.#o.store, active);
    } catch (err) {
      this.#o.logger.warn(
        { err: maskError(err, active.mask), run: active.run.id },
        "could not record the stopped pipeline run yet: retrying on the next scheduler tick",
      );
      this.#unrecorded.set(active.run.id, active);
    }
  }
}

/** A stored run's state, checked (`state_unreadable` naming the run otherwise). */
function stateOf(run: PipelineRun): RunState {
  return RunStateCodec.decode(run.state, `pipeline run ${run.id}`);
}
