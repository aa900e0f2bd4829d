/**
 * The pipeline engine, in the control plane (or in the CLI process for `pipeline run --local`).
 *
 * A run is created `queued`; the scheduler starts it once its concurrency group has no other active
 * run. Running a run: check out the commit, then run its jobs as a DAG — a job starts when every job it
 * needs is final and its `if` holds (default: all of them succeeded), at most `parallelism` jobs at once
 * across all runs — each job's steps in order. Every transition is written to the store (the run's
 * `state` JSON, compare-and-set) before anyone is told; logs go to files and to live subscribers.
 *
 * After a restart, whatever was running or waiting is marked interrupted and the process groups it
 * left are killed (their pgids are in the state); `resume` queues the same run again, and only the
 * interrupted and unfinished jobs run. Queued runs just wait for the scheduler, as before.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { defaultBaseEnv, isGroupAlive, terminateGroup } from "../runtime/index.js";
import type {
  EventInput,
  JsonValue,
  PipelineRun,
  PipelineRunStatus,
  Store,
  StoredObject,
} from "../store/index.js";
import { SlipwayError } from "../util/errors.js";
import { evaluateCondition, interpolateText, type ExpressionContext } from "./expressions.js";
import type { PipelineEngine, RunLogLine, RunLogQuery, StartRunInput } from "./engine-types.js";
import { readStepLog, StepLog, type LogLine } from "./exec/step-log.js";
import { checkout, removeCheckout } from "./workspace.js";
import { restoreArtifact } from "./artifacts.js";
import { runJob, type JobRuntime } from "./job-runner.js";
import type { Deployer } from "./steps.js";
import type { PipelineSpec } from "./spec.js";
import {
  CancelledBy,
  finalStatus,
  initialState,
  liveStatus,
  personOf,
  resetJob,
  resolveSecrets,
  runEvent,
} from "./run-state.js";
import { FINAL_WORK, type JobState, type RunState } from "./types.js";
import { createMasker, maskError, maskEvents, maskRunState } from "./mask/index.js";

const DEFAULT_PARALLELISM = 2;
const APPROVAL_TICK_MS = 1_000;

export interface EngineOptions {
  store: Store;
  logger: Logger;
  dataDir: string;
  /** Deploy steps go through it; without one they fail with a clear message. */
  deployer?: Deployer;
  /** Jobs running at once, across runs. */
  parallelism?: number;
  /** Values of `secrets:`; default the control plane's environment. */
  secret?: (name: string) => string | undefined;
  /** Per step; default 10 MiB. */
  logMaxBytes?: number;
  /** `--local`: run in this directory instead of a checkout. */
  localWorkspace?: string;
  now?: () => number;
}

interface Active {
  run: PipelineRun;
  state: RunState;
  abort: AbortController;
  /** Serialises writes of this run. */
  writing: Promise<unknown>;
  /** Wakes a waiting approval step. */
  approvalWaiters: Map<string, () => void>;
  /** The run's secrets masker, once they are resolved; applied to everything the run stores. */
  mask: (text: string) => string;
  done: Promise<void>;
}

const FINAL_RUNS: readonly PipelineRunStatus[] = ["succeeded", "failed", "cancelled", "interrupted"];

export function createPipelineEngine(options: EngineOptions): PipelineEngine {
  return new Engine(options);
}

class Engine implements PipelineEngine {
  readonly #o: EngineOptions;
  readonly #active = new Map<number, Active>();
  readonly #listeners = new Map<number, Set<(line: RunLogLine) => void>>();
  readonly #finished = new Map<number, Set<() => void>>();
  readonly #slots: { free: number; queue: (() => void)[] };
  #stopped = true;
  #pumping: Promise<void> | undefined;
  #pumpAgain = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: EngineOptions) {
    this.#o = options;
    this.#slots = { free: options.parallelism ?? DEFAULT_PARALLELISM, queue: [] };
  }

  get #now(): () => number {
    return this.#o.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.#recover();
    this.#timer = setInterval(() => {
      this.#pump();
    }, APPROVAL_TICK_MS);
    this.#timer.unref();
    this.#pump();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    const active = [...this.#active.values()];
    for (const a of active) a.abort.abort(new Error("control plane stopping"));
    await Promise.all(active.map((a) => a.done));
    await this.#pumping;
  }

  // ---- runs -------------------------------------------------------------------------------------

  async startRun(input: StartRunInput): Promise<PipelineRun> {
    const { spec, revision } = await this.#pipeline(input.pipeline);
    const state = initialState(spec);
    const context = this.#context(spec, { id: 0, number: 0, trigger: input.trigger }, null, state);
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
      spec: spec as unknown as JsonValue,
      configRevision: revision,
      concurrencyGroup: group,
      state: state as unknown as JsonValue,
    });
    this.#pump();
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
    const state = run.state as unknown as RunState;
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
      state: state as unknown as JsonValue,
      events: [runEvent(run, "pipeline.run.cancelled", { by: actor })],
    });
  }

  async approve(runId: number, actor: string, jobName?: string): Promise<PipelineRun> {
    const active = this.#active.get(runId);
    const run = active?.run ?? (await this.#o.store.pipelines.getRun(runId));
    const state = active?.state ?? (run.state as unknown as RunState);
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
    await this.#save(active, run.status, [
      runEvent(run, "pipeline.approval.given", { job: job.name, by: who }),
    ]);
    active.approvalWaiters.get(job.name)?.();
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
    const { spec, revision } = await this.#pipeline(old.pipeline);
    const state = initialState(spec);
    if (options.failedOnly) {
      const before = old.state as unknown as RunState;
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
      spec: spec as unknown as JsonValue,
      configRevision: revision,
      concurrencyGroup: old.concurrencyGroup,
      state: state as unknown as JsonValue,
    });
    this.#pump();
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
    const state = run.state as unknown as RunState;
    for (const job of state.jobs) {
      if (job.status === "interrupted" || job.status === "pending") resetJob(job);
    }
    const resumed = await this.#o.store.pipelines.updateRun({
      id: run.id,
      expectedRevision: run.revision,
      status: "queued",
      state: state as unknown as JsonValue,
      events: [runEvent(run, "pipeline.run.resumed", { by: actor })],
    });
    this.#pump();
    return resumed;
  }

  async logs(runId: number, query: RunLogQuery = {}): Promise<RunLogLine[]> {
    const run = await this.#o.store.pipelines.getRun(runId);
    const state = this.#active.get(runId)?.state ?? (run.state as unknown as RunState);
    const out: RunLogLine[] = [];
    for (const job of state.jobs) {
      if (query.job !== undefined && job.name !== query.job) continue;
      for (const step of job.steps) {
        if (query.step !== undefined && step.index !== query.step) continue;
        for (let attempt = 1; attempt <= step.attempt; attempt += 1) {
          out.push(...(await this.#readStepLog(runId, job.name, step.index, attempt)));
        }
      }
    }
    return out;
  }

  subscribe(runId: number, listener: (line: RunLogLine) => void): () => void {
    let set = this.#listeners.get(runId);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(runId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(runId);
    };
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
          resolve();
        };
        const timer = setTimeout(done, 500);
        set.add(done);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
  }

  // ---- scheduling -------------------------------------------------------------------------------

  #pump(): void {
    if (this.#stopped) return;
    if (this.#pumping !== undefined) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = this.#startQueued()
      .catch((err: unknown) => {
        this.#o.logger.error({ err }, "pipeline scheduler failed");
      })
      .finally(() => {
        this.#pumping = undefined;
        if (this.#pumpAgain) {
          this.#pumpAgain = false;
          this.#pump();
        }
      });
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
    const abort = new AbortController();
    const active: Active = {
      run,
      state: run.state as unknown as RunState,
      abort,
      writing: Promise.resolve(),
      approvalWaiters: new Map(),
      mask: (text) => text,
      done: Promise.resolve(),
    };
    this.#active.set(run.id, active);
    active.done = this.#execute(active)
      .catch((err: unknown) => {
        this.#o.logger.error(
          { err: maskError(err, active.mask), run: run.id },
          "pipeline run failed unexpectedly",
        );
      })
      .finally(() => {
        this.#active.delete(run.id);
        for (const wake of this.#finished.get(run.id) ?? []) wake();
        this.#pump();
      });
  }

  async #acquire(signal: AbortSignal): Promise<() => void> {
    if (this.#slots.free > 0) {
      this.#slots.free -= 1;
    } else {
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal.removeEventListener("abort", stop);
          resolve();
        };
        const stop = () => {
          this.#slots.queue = this.#slots.queue.filter((q) => q !== go);
          reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
        };
        this.#slots.queue.push(go);
        signal.addEventListener("abort", stop, { once: true });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#slots.queue.shift();
      if (next !== undefined) next();
      else this.#slots.free += 1;
    };
  }

  // ---- execution --------------------------------------------------------------------------------

  async #execute(active: Active): Promise<void> {
    const { run } = active;
    const spec = run.spec as unknown as PipelineSpec;
    const runDir = join(this.#o.dataDir, "pipelines", "runs", String(run.id));
    await this.#save(active, "running", [runEvent(run, "pipeline.run.started", {})], true);

    const { secrets, missing } = resolveSecrets(spec, (name) => this.#o.secret?.(name) ?? process.env[name]);
    if (missing.length > 0) {
      return this.#failRun(
        active,
        `secret ${missing.join(", ")} is not defined: set it in the control plane's environment`,
      );
    }
    const masker = createMasker(Object.values(secrets));
    active.mask = masker.mask;
    // Now, not at the next save: what a rerun kept (outputs of an earlier run) is read by conditions
    // and templates before anything is saved again.
    maskRunState(active.state, active.mask);

    let prepared: { workspace: string; repo: { location: string; kind: "path" | "url" } | undefined };
    try {
      prepared = await this.#prepareWorkspace(active, runDir);
    } catch (err) {
      return this.#failRun(active, `checkout failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    const { workspace, repo } = prepared;
    try {
      await this.#runJobs(active, spec, workspace, runDir, secrets, masker.mask);
    } finally {
      if (repo !== undefined)
        await removeCheckout(repo.location, repo.kind, workspace).catch(() => undefined);
      // Outputs are read and removed after each step; a step cut short may have left its file.
      await rm(join(runDir, "outputs"), { recursive: true, force: true }).catch(() => undefined);
    }
    const status = finalStatus(active.state, active.abort.signal);
    const failedJobs = active.state.jobs.filter((j) => j.status === "failed").map((j) => j.name);
    await this.#save(active, status, [
      runEvent(active.run, `pipeline.run.${status}`, { failedJobs: failedJobs.join(",") || null }),
    ]);
  }

  /**
   * The run's checkout (or the local working tree), with the artifacts of jobs a rerun kept put back
   * where later jobs expect them.
   */
  async #prepareWorkspace(
    active: Active,
    runDir: string,
  ): Promise<{ workspace: string; repo: { location: string; kind: "path" | "url" } | undefined }> {
    const { run } = active;
    let workspace: string;
    let repo: { location: string; kind: "path" | "url" } | undefined;
    if (this.#o.localWorkspace !== undefined) {
      workspace = this.#o.localWorkspace;
    } else {
      repo = await this.#repositoryOf(run);
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
          this.#o.logger.warn(
            { err: maskError(err, active.mask), run: run.id, artifact: artifact.name },
            "could not restore a kept artifact",
          );
        });
      }
    }
    return { workspace, repo };
  }

  async #runJobs(
    active: Active,
    spec: PipelineSpec,
    workspace: string,
    runDir: string,
    secrets: Record<string, string>,
    mask: (text: string) => string,
  ): Promise<void> {
    const running = new Map<string, Promise<void>>();
    for (;;) {
      const jobs = active.state.jobs;
      if (active.abort.signal.aborted) {
        for (const job of jobs) {
          if (job.status === "pending") {
            job.status = "cancelled";
            job.reason = "the run was stopped before this job started";
          }
        }
      }
      for (const job of jobs) {
        if (job.status !== "pending" || running.has(job.name)) continue;
        const needs = job.needs.map((n) => jobs.find((j) => j.name === n));
        if (needs.some((n) => n === undefined || !FINAL_WORK.includes(n.status))) continue;
        const jobSpec = spec.jobs[job.name];
        if (jobSpec === undefined) continue;
        const context = this.#context(spec, active.run, job, active.state);
        let go: boolean;
        try {
          go = evaluateCondition(jobSpec.if, context, "job");
        } catch (err) {
          job.status = "failed";
          job.reason = `if: ${err instanceof Error ? err.message : String(err)}`;
          await this.#save(active, "running");
          continue;
        }
        if (!go) {
          job.status = "skipped";
          job.reason =
            jobSpec.if === undefined ? "a job it needs did not succeed" : `if: ${jobSpec.if} was false`;
          await this.#save(active, "running", [
            runEvent(active.run, "pipeline.job.skipped", { job: job.name }),
          ]);
          continue;
        }
        running.set(
          job.name,
          this.#runOneJob(active, spec, job, workspace, runDir, secrets, mask).finally(() =>
            running.delete(job.name),
          ),
        );
      }
      if (running.size === 0) {
        if (jobs.every((j) => j.status !== "pending")) return;
        // Pending jobs whose needs will never finish cannot exist in a DAG; guard anyway.
        for (const job of jobs) if (job.status === "pending") job.status = "skipped";
        return;
      }
      await Promise.race(running.values());
    }
  }

  async #runOneJob(
    active: Active,
    spec: PipelineSpec,
    job: JobState,
    workspace: string,
    runDir: string,
    secrets: Record<string, string>,
    mask: (text: string) => string,
  ): Promise<void> {
    const jobSpec = spec.jobs[job.name];
    if (jobSpec === undefined) return;
    let release: (() => void) | undefined;
    try {
      release = await this.#acquire(active.abort.signal);
    } catch {
      job.status = "cancelled";
      job.reason = "the run was stopped before this job started";
      return;
    }
    try {
      const runtime: JobRuntime = {
        dataDir: this.#o.dataDir,
        runDir,
        workspace,
        run: active.run,
        spec,
        jobSpec,
        job,
        secrets,
        mask,
        signal: active.abort.signal,
        baseEnv: defaultBaseEnv(),
        logMaxBytes: this.#o.logMaxBytes,
        deployer: this.#o.deployer,
        protection: await this.#protection(jobSpec.environment),
        now: this.#now,
        context: (forJob) => this.#context(spec, active.run, forJob, active.state),
        save: (events) => this.#save(active, liveStatus(active.state), events ?? []),
        openLog: (step, attempt) => this.#openLog(active.run.id, runDir, job.name, step, attempt, mask),
        waitForApproval: (signal) => this.#waitForApproval(active, job, signal),
        event: (type, payload) => runEvent(active.run, type, payload),
      };
      await runJob(runtime);
    } finally {
      release();
    }
    await this.#save(active, liveStatus(active.state), [
      runEvent(active.run, `pipeline.job.${job.status}`, { job: job.name, reason: job.reason ?? null }),
    ]);
  }

  /** Resolves when the job has its approvals, rejects on timeout or when the run stops. */
  #waitForApproval(active: Active, job: JobState, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const w = job.waiting;
        if (w === undefined) return;
        if ((job.approvals?.length ?? 0) >= w.count) {
          cleanup();
          resolve();
        } else if (w.until !== null && this.#now() >= Date.parse(w.until)) {
          cleanup();
          reject(new SlipwayError("approval_timed_out", `approval timed out after waiting since ${w.since}`));
        }
      };
      const timer = setInterval(check, APPROVAL_TICK_MS);
      const onAbort = () => {
        cleanup();
        reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
      };
      const cleanup = () => {
        clearInterval(timer);
        signal.removeEventListener("abort", onAbort);
        active.approvalWaiters.delete(job.name);
      };
      active.approvalWaiters.set(job.name, check);
      signal.addEventListener("abort", onAbort, { once: true });
      check();
    });
  }

  #openLog(
    runId: number,
    runDir: string,
    job: string,
    step: number,
    attempt: number,
    mask: (t: string) => string,
  ): StepLog {
    let seq = 0;
    return new StepLog({
      path: join(runDir, "logs", job, `${step}-${attempt}.log`),
      ...(this.#o.logMaxBytes === undefined ? {} : { maxBytes: this.#o.logMaxBytes }),
      mask,
      publish: (line: LogLine) => {
        seq += 1;
        const full: RunLogLine = { ...line, job, step, attempt, seq };
        for (const listener of this.#listeners.get(runId) ?? []) {
          try {
            listener(full);
          } catch {
            // A broken listener must not stop the step.
          }
        }
      },
    });
  }

  async #readStepLog(runId: number, job: string, step: number, attempt: number): Promise<RunLogLine[]> {
    const path = join(
      this.#o.dataDir,
      "pipelines",
      "runs",
      String(runId),
      "logs",
      job,
      `${step}-${attempt}.log`,
    );
    return (await readStepLog(path)).map((line, i) => ({ ...line, job, step, attempt, seq: i + 1 }));
  }

  async #failRun(active: Active, error: string): Promise<void> {
    active.state.error = error;
    for (const job of active.state.jobs) {
      if (job.status === "pending") {
        job.status = "skipped";
        job.reason = "the run failed before its jobs started";
      }
    }
    await this.#save(active, "failed", [runEvent(active.run, "pipeline.run.failed", { error })]);
  }

  /**
   * Writes the run's state; the engine is the only writer of an active run, so a conflict is a bug.
   * The one way a running run reaches the store: the state and the events are masked here, at the
   * moment they are written (not when the write was asked for: the state may have changed since).
   */
  #save(
    active: Active,
    status: PipelineRunStatus,
    events: EventInput[] = [],
    markStarted = false,
  ): Promise<void> {
    const write = active.writing.then(async () => {
      maskRunState(active.state, active.mask);
      active.run = await this.#o.store.pipelines.updateRun({
        id: active.run.id,
        expectedRevision: active.run.revision,
        status,
        state: active.state as unknown as JsonValue,
        markStarted,
        events: maskEvents(events, active.mask),
      });
    });
    active.writing = write.catch((err: unknown) => {
      this.#o.logger.error(
        { err: maskError(err, active.mask), run: active.run.id },
        "could not save the pipeline run",
      );
    });
    return write;
  }

  // ---- recovery ---------------------------------------------------------------------------------

  async #recover(): Promise<void> {
    const stale = await this.#o.store.pipelines.listRuns({ statuses: ["running", "waiting"], limit: 1000 });
    for (const run of stale) {
      const state = run.state as unknown as RunState;
      const killed: number[] = [];
      for (const job of state.jobs) {
        for (const step of job.steps) {
          if (step.pgid !== undefined && step.status === "running") {
            if (await isGroupAlive(step.pgid)) {
              await terminateGroup(step.pgid, 2_000).catch(() => undefined);
              killed.push(step.pgid);
            }
            delete step.pgid;
          }
          if (step.status === "running" || step.status === "waiting") {
            step.status = "interrupted";
            step.summary = "the control plane stopped while this step ran";
          }
        }
        if (job.status === "running" || job.status === "waiting") {
          job.status = "interrupted";
          job.reason = "the control plane stopped while this job ran";
          delete job.waiting;
        }
      }
      if (state.workspace !== undefined && this.#o.localWorkspace === undefined) {
        await rm(state.workspace, { recursive: true, force: true }).catch(() => undefined);
      }
      // A step cut short by the stop may have left its outputs file, with values in clear.
      const outputs = join(this.#o.dataDir, "pipelines", "runs", String(run.id), "outputs");
      await rm(outputs, { recursive: true, force: true }).catch(() => undefined);
      await this.#o.store.pipelines.updateRun({
        id: run.id,
        expectedRevision: run.revision,
        status: "interrupted",
        state: state as unknown as JsonValue,
        events: [runEvent(run, "pipeline.run.interrupted", { killedProcessGroups: killed.length })],
      });
      this.#o.logger.warn({ run: run.id, killed }, "pipeline run interrupted by a restart");
    }
  }

  // ---- helpers ----------------------------------------------------------------------------------

  async #pipeline(name: string): Promise<{ spec: PipelineSpec; revision: number }> {
    const objects: StoredObject[] = await this.#o.store.config.listObjects();
    const found = objects.find((o) => o.kind === "pipeline" && o.name === name);
    if (found === undefined) {
      const names = objects.filter((o) => o.kind === "pipeline").map((o) => o.name);
      throw new SlipwayError("not_found", `no pipeline ${JSON.stringify(name)} in the applied config`, {
        hint:
          names.length === 0
            ? "declare one under pipelines: in slipway.yaml and apply it"
            : `declared pipelines: ${names.join(", ")}`,
      });
    }
    return { spec: found.spec as unknown as PipelineSpec, revision: found.revision };
  }

  async #protection(
    env: string | undefined,
  ): Promise<{ approvals: number; approvers: string[] | null } | undefined> {
    if (env === undefined) return undefined;
    const objects = await this.#o.store.config.listObjects();
    const spec = objects.find((o) => o.kind === "environment" && o.name === env)?.spec as
      { protection?: { approvals?: number; approvers?: string[] } } | undefined;
    return { approvals: spec?.protection?.approvals ?? 0, approvers: spec?.protection?.approvers ?? null };
  }

  async #repositoryOf(run: PipelineRun): Promise<{ location: string; kind: "path" | "url" }> {
    const repos = await this.#o.store.pipelines.listRepositories();
    const id = run.trigger.repository;
    const repo =
      id === null
        ? repos.length === 1
          ? repos[0]
          : undefined
        : repos.find((r) => r.id === id || r.name === id);
    if (repo === undefined) {
      throw new SlipwayError(
        "not_found",
        id === null
          ? "no repository to check out: add one with `slipway repo add PATH`" +
              (repos.length > 1 ? " (several are watched: name one)" : "")
          : `repository ${id} is not watched`,
      );
    }
    return repo;
  }

  #context(
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
}
