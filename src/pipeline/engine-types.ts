/**
 * The pipeline engine's public face, used by the API routes, the triggers and `pipeline run --local`.
 */
import type { Logger } from "pino";
import type { LoopStats } from "../loop/index.js";
import type { PipelineRun, PipelineTrigger, Store } from "../store/index.js";
import type { LogLine } from "./exec/step-log.js";
import type { Deployer } from "./steps.js";

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

export interface StartRunInput {
  pipeline: string;
  trigger: PipelineTrigger;
}

/** One stored or live log line of a run, with where it belongs. */
export interface RunLogLine extends LogLine {
  job: string;
  /** 0-based step index. */
  step: number;
  attempt: number;
  /** 1-based position in its step attempt's log (stored lines and live ones share the numbering). */
  seq: number;
}

export interface RunLogQuery {
  job?: string;
  step?: number;
}

export interface PipelineEngine {
  /** Recovers after a restart (interrupts what was in flight, kills its process groups), then schedules. */
  start(): Promise<void>;
  /** Stops scheduling; running steps are cancelled and their runs marked interrupted. */
  stop(): Promise<void>;
  /**
   * Creates a run of a declared pipeline (`not_found` otherwise), applying its concurrency group
   * (queue behind the group's active run, or cancel it with `cancelInProgress`). Runs start as soon as
   * their group is free.
   */
  startRun(input: StartRunInput): Promise<PipelineRun>;
  /** Cancels a queued, running or waiting run: process groups terminated, a deploy's rollout aborted. */
  cancel(runId: number, actor: string): Promise<PipelineRun>;
  /**
   * Approves the waiting approval step of a run (of `job` when several wait). `forbidden` when the actor
   * may not approve (not an approver, or the person who triggered it when self-approval is off),
   * `conflict` when nothing waits or the actor approved already.
   */
  approve(runId: number, actor: string, job?: string): Promise<PipelineRun>;
  /** A new run of the same pipeline and commit; with `failedOnly`, jobs that succeeded are kept with their outputs and artifacts. */
  rerun(runId: number, actor: string, options: { failedOnly: boolean }): Promise<PipelineRun>;
  /** An interrupted run goes back to the queue; its interrupted and not-yet-run jobs run again, the rest are kept. */
  resume(runId: number, actor: string): Promise<PipelineRun>;
  /** Stored lines, oldest first. */
  logs(runId: number, query?: RunLogQuery): Promise<RunLogLine[]>;
  /** Live lines of a run as they are written; returns an unsubscribe function. */
  subscribe(runId: number, listener: (line: RunLogLine) => void): () => void;
  /** Resolves when the run is final (tests, `--wait`). */
  waitForRun(runId: number, signal?: AbortSignal): Promise<PipelineRun>;
  /** The engine's loops (the scheduler), for /metrics. */
  loops(): { stats(): LoopStats }[];
}
