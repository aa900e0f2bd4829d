/**
 * After a restart: every run the store says is running or waiting was left by a control plane that
 * stopped under it. Its process groups still alive are killed (their pgids are in the state), its
 * steps and jobs are marked interrupted, its checkout and outputs files are removed, and the run is
 * `interrupted`, for `resume` to queue again.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { isGroupAlive, terminateGroup } from "../runtime/index.js";
import type { Store } from "../store/index.js";
import { RunStateCodec, storedForm } from "./codecs.js";
import { runEvent } from "./run-state.js";
import type { RunState } from "./types.js";

export interface RecoveryOptions {
  store: Store;
  logger: Logger;
  dataDir: string;
  /** `--local` runs keep their working tree. */
  localWorkspace?: string | undefined;
}

export async function recoverRuns(options: RecoveryOptions): Promise<void> {
  const { store, logger, dataDir } = options;
  const stale = await store.pipelines.listRuns({ statuses: ["running", "waiting"], limit: 1000 });
  for (const run of stale) {
    const state = RunStateCodec.decode(run.state, `pipeline run ${run.id}`);
    const killed = await interruptJobs(state);
    if (state.workspace !== undefined && options.localWorkspace === undefined) {
      await rm(state.workspace, { recursive: true, force: true }).catch(() => undefined);
    }
    // A step cut short by the stop may have left its outputs file, with values in clear.
    const outputs = join(dataDir, "pipelines", "runs", String(run.id), "outputs");
    await rm(outputs, { recursive: true, force: true }).catch(() => undefined);
    await store.pipelines.updateRun({
      id: run.id,
      expectedRevision: run.revision,
      status: "interrupted",
      state: storedForm(RunStateCodec, state),
      events: [runEvent(run, "pipeline.run.interrupted", { killedProcessGroups: killed.length })],
    });
    logger.warn({ run: run.id, killed }, "pipeline run interrupted by a restart");
  }
}

/** Kills what the state says still runs and marks it interrupted; the pgids it killed. */
async function interruptJobs(state: RunState): Promise<number[]> {
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
  return killed;
}
