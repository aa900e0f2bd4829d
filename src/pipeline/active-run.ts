/**
 * A run this engine is executing, and the one way its state reaches the store.
 *
 * Saves are serialised per run (compare-and-set on the run's revision; the engine is the only writer
 * of an active run, so a conflict is a bug). A save that fails stops the run: its signal aborts with
 * `RunSaveFailed`, so nothing further starts and the jobs in flight are stopped, and every later save
 * of the run is refused (the revision it would carry may be stale). `save` itself resolves either way:
 * the callers (steps, the job runner) learn of it from the signal, as they do of a cancel, and a
 * fire-and-forget save can never become an unhandled rejection. What the engine records then is
 * described in engine.ts; `recordStoppedRun` below writes it.
 */
import type { Logger } from "pino";
import type { EventInput, PipelineRun, PipelineRunStatus, Store } from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import { RunStateCodec, storedForm } from "./codecs.js";
import { maskError, maskEvents, maskRunState } from "./mask/index.js";
import { runEvent } from "./run-state.js";
import type { RunState } from "./types.js";

export const FINAL_RUNS: readonly PipelineRunStatus[] = ["succeeded", "failed", "cancelled", "interrupted"];

export interface ActiveRun {
  run: PipelineRun;
  state: RunState;
  abort: AbortController;
  /** Serialises writes of this run. */
  writing: Promise<void>;
  /** Re-checks a waiting approval step (on an approval, and on every engine tick for its timeout). */
  approvalChecks: Map<string, () => void>;
  /** The run's secrets masker, once they are resolved; applied to everything the run stores. */
  mask: (text: string) => string;
  done: Promise<void>;
  /** The first save that failed; the run is stopped from then on. */
  saveFailure?: RunSaveFailed;
}

/** The abort reason of a run whose state could not be saved. */
export class RunSaveFailed extends Error {
  constructor(cause: unknown) {
    const what = cause instanceof SlipwayError ? cause.code : "store error";
    super(`stopped: the run's state could not be saved (${what})`, { cause });
  }
}

export function activeRun(run: PipelineRun, state: RunState): ActiveRun {
  return {
    run,
    state,
    abort: new AbortController(),
    writing: Promise.resolve(),
    approvalChecks: new Map(),
    mask: (text) => text,
    done: Promise.resolve(),
  };
}

/**
 * Writes the run's state and events, masked at the moment they are written (not when the write was
 * asked for: the state may have changed since). Resolves after the write, whether it succeeded or not.
 */
export function saveRun(
  store: Store,
  logger: Logger,
  active: ActiveRun,
  status: PipelineRunStatus,
  events: EventInput[] = [],
  markStarted = false,
): Promise<void> {
  const write = active.writing.then(async () => {
    if (active.saveFailure !== undefined) return;
    try {
      maskRunState(active.state, active.mask);
      active.run = await store.pipelines.updateRun({
        id: active.run.id,
        expectedRevision: active.run.revision,
        status,
        state: storedForm(RunStateCodec, active.state),
        markStarted,
        events: maskEvents(events, active.mask),
      });
    } catch (err) {
      logger.error(
        { err: maskError(err, active.mask), run: active.run.id },
        "could not save the pipeline run: stopping it",
      );
      active.saveFailure = new RunSaveFailed(err);
      active.abort.abort(active.saveFailure);
    }
  });
  active.writing = write;
  return write;
}

/**
 * Whether a save of the run failed. A function, not `active.saveFailure !== undefined` inline: the
 * compiler keeps a property narrowed across the awaits that can set it.
 */
export function saveFailed(active: ActiveRun): boolean {
  return active.saveFailure !== undefined;
}

/**
 * Writes a run stopped by a failed save as `interrupted`, with the reason in its `error`, over whatever
 * revision the store has now (the failed write may have been applied before its answer was lost; the
 * engine is this run's only writer, and its state in memory is the newest). A run someone else ended
 * meanwhile is left alone. Throws while the store does not answer (the engine retries on its ticks).
 */
export async function recordStoppedRun(store: Store, active: ActiveRun): Promise<void> {
  const stored = await store.pipelines.getRun(active.run.id);
  if (FINAL_RUNS.includes(stored.status)) return;
  const reason = active.saveFailure?.message ?? "stopped";
  active.state.error = reason;
  maskRunState(active.state, active.mask);
  const events = [runEvent(stored, "pipeline.run.interrupted", { error: reason })];
  await store.pipelines.updateRun({
    id: stored.id,
    expectedRevision: stored.revision,
    status: "interrupted",
    state: storedForm(RunStateCodec, active.state),
    events: maskEvents(events, active.mask),
  });
}
