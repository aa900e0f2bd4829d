/**
 * The analysis part of a rollout's plan: judging the open traffic window (or setting it aside when the
 * data plane was disrupted during it), recording the verdict and moving the window on. Pure, like the
 * planner it belongs to (planner.ts calls `judgeWindow` before the strategy's own step).
 */
import { judge, type SampleWindow, type Verdict } from "../judge/index.js";
import type { RolloutStatus } from "../store/index.js";
import type { Decision, Observed, PlannedEvent, RolloutState, StoredWindow } from "./types.js";

/** Latencies kept from the last passing baseline window, for the watch. */
const BASELINE_SAMPLES = 2_000;

/** Windows start on a whole second: the router's 1 s buckets then never fall into two windows. */
export function nextWindowStart(end: number): number {
  return Math.ceil(end / 1000) * 1000;
}

/** A decision being built: the planner's and this file's functions change it in place. */
export interface Draft {
  status: RolloutStatus;
  state: RolloutState;
  reason: string | null;
  slot?: Decision["slot"];
  verdict?: Decision["verdict"];
  events: PlannedEvent[];
}

/**
 * Judges the open window (or sets it aside) and records the verdict in `draft`. A fail answers the
 * reason to roll back with; the planner rolls back.
 */
export function judgeWindow(
  draft: Draft,
  window: NonNullable<Observed["window"]>,
  now: number,
): { result: "pass" | "inconclusive" } | { result: "fail"; reason: string } {
  const s = draft.state;
  const analysis = s.spec.analysis;
  const start = s.windowStart;
  if (analysis === null || start === undefined) return { result: "inconclusive" };
  const watching = s.phase === "watching";
  const baseline: SampleWindow | null = watching ? (s.baseline ?? null) : window.baseline;
  if (baseline === null) return { result: "inconclusive" };
  if (window.disrupted !== undefined) {
    setAside(draft, { ...window, disrupted: window.disrupted }, baseline, now);
    return { result: "inconclusive" };
  }
  const verdict = judge(analysis, window.canary, baseline);
  s.verdicts[verdict.result] += 1;
  s.lastVerdict = { at: now, result: verdict.result, message: verdict.message };
  const step = s.phase === "step" ? s.step : null;
  draft.verdict = { verdict, windowStart: start, windowEnd: window.end, phase: s.phase, step };
  draft.events.push({
    type: "rollout.analysis",
    payload: {
      result: verdict.result,
      phase: s.phase,
      step: step === null ? null : step + 1,
      message: verdict.message,
    },
  });
  if (verdict.result === "fail") {
    const what = watching
      ? "after promotion, during the watch"
      : s.phase === "preview"
        ? "before the switch"
        : `at step ${s.step + 1}`;
    return { result: "fail", reason: `analysis failed ${what}: ${verdict.message}` };
  }
  if (verdict.result === "pass") {
    s.stepPassed = true;
    s.progressAt = now;
    s.windowStart = nextWindowStart(window.end);
    if (!watching && window.baseline !== null) s.baseline = trimWindow(window.baseline);
  }
  return { result: verdict.result };
}

/**
 * A window that spans a disruption of the data plane is not judged: the refused connections and 502s of
 * an agent restart are the infrastructure's, and a rollback on them would undo a good release. It is
 * recorded (a verdict with reason `set-aside`, an event) and the next window opens after it.
 */
function setAside(
  draft: Draft,
  window: NonNullable<Observed["window"]> & { disrupted: { at: number; what: string } },
  baseline: SampleWindow,
  now: number,
): void {
  const s = draft.state;
  const start = s.windowStart ?? window.end;
  const analysis = s.spec.analysis;
  const when = new Date(window.disrupted.at).toISOString();
  const message = `window set aside: ${window.disrupted.what} at ${when}; judging resumes on the next window`;
  s.verdicts.setAside += 1;
  s.lastVerdict = { at: now, result: "inconclusive", message, setAside: true };
  s.windowStart = nextWindowStart(Math.max(now, window.disrupted.at));
  const step = s.phase === "step" ? s.step : null;
  const counts = (w: SampleWindow) => ({
    requests: w.requests,
    errors: w.errors,
    latencySamples: w.latenciesMs.length,
  });
  const verdict: Verdict = {
    result: "inconclusive",
    reason: "set-aside",
    message,
    confidence: analysis?.confidence ?? 0,
    minSamples: analysis?.minSamples ?? 0,
    samples: { canary: counts(window.canary), baseline: counts(baseline) },
    checks: [],
  };
  draft.verdict = { verdict, windowStart: start, windowEnd: window.end, phase: s.phase, step };
  draft.events.push({
    type: "rollout.analysis",
    payload: {
      result: "set-aside",
      phase: s.phase,
      step: step === null ? null : step + 1,
      message,
    },
  });
}

function trimWindow(w: SampleWindow): StoredWindow {
  const all = Array.from(w.latenciesMs);
  const step = Math.max(1, all.length / BASELINE_SAMPLES);
  const latenciesMs: number[] = [];
  for (let i = 0; i < all.length && latenciesMs.length < BASELINE_SAMPLES; i += step) {
    latenciesMs.push(all[Math.floor(i)] ?? 0);
  }
  return { requests: w.requests, errors: w.errors, latenciesMs };
}
