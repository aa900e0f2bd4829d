/**
 * The rollout planner: a pure function from (rollout, observed world, now) to the next state, the
 * verdict to record, the slot to write and the events to append. No clock, no I/O: the driver
 * (controller.ts) gathers `Observed`, calls `plan`, persists the decision with compare-and-set, and
 * only then makes the agent match it. A restart between two ticks loses nothing: the next tick plans
 * again from the stored state and what the agent reports.
 *
 * Rules every strategy shares, checked before the strategy's own step, in this order:
 * 1. A failed instance of the canary (crash loop, port in use) rolls back at once, with the
 *    instance's message (its last log lines) as the reason.
 * 2. An analysis window that is due is judged (the canary vs the stable release over the same window;
 *    during the watch, vs the stable release's last passing figures). A fail rolls back. A pass
 *    closes the window and opens the next one (disjoint windows, so no request is judged twice). An
 *    inconclusive verdict keeps the window open: it grows until it holds enough traffic.
 * 3. No progress (an instance becoming ready, a step advancing, a verdict passing) for
 *    `progressDeadline` rolls back. Time spent paused, or held until someone promotes, does not count.
 *
 * Trap: one failed verdict is enough to roll back. That is safe only because a check fails when its
 * value is over the limit AND the excess is significant (see docs/judge.md): a healthy canary is rarely
 * over its limit at all, so repeated looks do not add up to many false rollbacks the way repeated
 * significance tests alone would.
 */
import type { RolloutStatus } from "../store/index.js";
import type { Decision, Observed, PlannerRollout, RolloutState } from "./types.js";
import { judgeWindow, nextWindowStart, type Draft } from "./window-verdict.js";

export { nextWindowStart } from "./window-verdict.js";

const FINAL: readonly RolloutStatus[] = ["succeeded", "rolled-back", "aborted", "failed"];

export function isFinal(status: RolloutStatus): boolean {
  return FINAL.includes(status);
}

/** The start of the window to measure when one is due now, else undefined. */
export function windowWanted(rollout: PlannerRollout, now: number): number | undefined {
  const s = rollout.state;
  const analysis = s.spec.analysis;
  if (analysis === null || s.windowStart === undefined || isFinal(rollout.status)) return undefined;
  if (s.phase !== "step" && s.phase !== "preview" && s.phase !== "watching") return undefined;
  const last = Math.max(s.windowStart, s.lastVerdict?.at ?? 0);
  return now - last >= analysis.intervalMs ? s.windowStart : undefined;
}

/** The first state of a rollout. */
export function initialState(
  rollout: Omit<PlannerRollout, "state" | "status">,
  spec: RolloutState["spec"],
  now: number,
): RolloutState {
  const phase =
    rollout.strategy === "canary" ? "scaling" : rollout.strategy === "rolling" ? "rolling" : "starting";
  return {
    v: 2,
    spec,
    phase,
    step: rollout.strategy === "canary" ? 0 : -1,
    // The very first release has nothing to share traffic with.
    weight: rollout.strategy === "initial" ? 100 : 0,
    canaryInstances: 0,
    stableInstances: rollout.previous === null ? 0 : spec.instances,
    phaseSince: now,
    progressAt: now,
    canaryReady: 0,
    stepPassed: false,
    verdicts: { pass: 0, fail: 0, inconclusive: 0, setAside: 0 },
  };
}

export function plan(rollout: PlannerRollout, observed: Observed, now: number): Decision {
  const draft: Draft = {
    status: rollout.status,
    state: structuredClone(rollout.state),
    reason: null,
    events: [],
  };
  if (isFinal(rollout.status)) return draft;
  const s = draft.state;

  if (observed.canary.ready > s.canaryReady) s.progressAt = now;
  s.canaryReady = observed.canary.ready;

  const failed = observed.canary.failed[0];
  if (failed !== undefined && s.phase !== "watching") {
    return rollBack(rollout, draft, now, `instance ${failed.id} failed: ${failed.message}`);
  }

  if (observed.window !== undefined && s.windowStart !== undefined && s.spec.analysis !== null) {
    const outcome = judgeWindow(draft, observed.window, now);
    if (outcome.result === "fail") return rollBack(rollout, draft, now, outcome.reason);
  }

  if (draft.status === "paused") return draft;

  const holding =
    s.phase === "step" && s.spec.steps[s.step]?.pauseMs === "until-promote" && s.promote === undefined;
  if (draft.status === "progressing" && !holding && now - s.progressAt > s.spec.progressDeadlineMs) {
    return rollBack(
      rollout,
      draft,
      now,
      `no progress for ${formatMs(s.spec.progressDeadlineMs)} (progress deadline) in phase ${s.phase}` +
        `: ${observed.canary.ready} of ${s.canaryInstances} new instances ready`,
    );
  }

  switch (s.phase) {
    case "starting":
      return planStarting(rollout, draft, observed, now);
    case "scaling":
      return planScaling(rollout, draft, observed, now);
    case "step":
      return planStep(rollout, draft, now);
    case "preview":
      if (s.stepPassed || s.promote !== undefined) return promote(rollout, draft, now);
      return draft;
    case "rolling":
      return planRolling(rollout, draft, observed, now);
    case "promoting":
      s.canaryInstances = s.spec.instances;
      if (observed.canary.ready >= s.spec.instances) return promote(rollout, draft, now);
      return draft;
    case "watching":
      if (s.watchUntil !== undefined && now >= s.watchUntil) {
        draft.status = "succeeded";
        s.phase = "done";
        draft.reason = `watched for ${formatMs(s.spec.watchMs)} without a failed verdict`;
        draft.events.push({ type: "rollout.succeeded", payload: { reason: draft.reason } });
      }
      return draft;
    case "done":
      return draft;
  }
}

function planStarting(rollout: PlannerRollout, draft: Draft, observed: Observed, now: number): Decision {
  const s = draft.state;
  s.canaryInstances = s.spec.instances;
  if (observed.canary.ready < s.spec.instances) return draft;
  if (rollout.strategy === "blue-green" && s.spec.analysis !== null && rollout.previous !== null) {
    enterPhase(s, "preview", now);
    s.windowStart = nextWindowStart(now);
    s.stepPassed = false;
    draft.events.push({ type: "rollout.preview", payload: { instances: s.spec.instances } });
    return draft;
  }
  return promote(rollout, draft, now);
}

function planScaling(rollout: PlannerRollout, draft: Draft, observed: Observed, now: number): Decision {
  const s = draft.state;
  const step = s.spec.steps[s.step];
  if (step === undefined) {
    enterPhase(s, "promoting", now);
    return draft;
  }
  s.canaryInstances = Math.max(s.canaryInstances, canaryInstances(s.spec.instances, step.weight));
  if (observed.canary.ready < s.canaryInstances) return draft;
  s.weight = step.weight;
  enterPhase(s, "step", now);
  s.stepPassed = s.spec.analysis === null;
  if (s.spec.analysis !== null) s.windowStart = nextWindowStart(now);
  s.progressAt = now;
  draft.events.push({
    type: "rollout.step",
    payload: { step: s.step + 1, steps: s.spec.steps.length, weight: step.weight },
  });
  return draft;
}

function planStep(rollout: PlannerRollout, draft: Draft, now: number): Decision {
  const s = draft.state;
  const step = s.spec.steps[s.step];
  if (step === undefined || s.promote === "full") {
    delete s.promote;
    enterPhase(s, "promoting", now);
    return draft;
  }
  const forced = s.promote === "step";
  // The step's pause is over: promoted by hand, no pause at all, or its time has passed.
  const pauseOver =
    forced ||
    step.pauseMs === null ||
    (typeof step.pauseMs === "number" && now - s.phaseSince >= step.pauseMs);
  if (!pauseOver) return draft;
  // A step without a pause but with analysis lasts until its first passing verdict.
  if (!s.stepPassed && !forced && step.pauseMs === null) return draft;
  if (!s.stepPassed && !forced) {
    // The last window was the infrastructure's, not the release's: wait for a clean one, whatever
    // onInconclusive says (a paused or failed step would blame the release for the agent's restart).
    if (s.lastVerdict?.setAside === true) return draft;
    const analysis = s.spec.analysis;
    const last = s.lastVerdict?.message ?? "no verdict yet";
    switch (analysis?.onInconclusive ?? "extend") {
      case "extend":
        return draft;
      case "pause":
        draft.status = "paused";
        s.pausedBy = "inconclusive";
        s.pausedAt = now;
        draft.reason = `step ${s.step + 1} ended without a passing verdict (${last}); promote or abort`;
        draft.events.push({ type: "rollout.paused", payload: { by: "inconclusive", reason: draft.reason } });
        return draft;
      case "fail":
        return rollBack(rollout, draft, now, `step ${s.step + 1} ended without a passing verdict: ${last}`);
    }
  }
  delete s.promote;
  s.step += 1;
  s.progressAt = now;
  if (s.step >= s.spec.steps.length) enterPhase(s, "promoting", now);
  else enterPhase(s, "scaling", now);
  delete s.windowStart;
  return draft;
}

/**
 * Kubernetes' rolling update, counted in ready instances: never more than instances + maxSurge
 * running, never fewer than instances − maxUnavailable ready. Old instances leave the route table in
 * the same tick they are asked to stop, so the router stops sending them requests first.
 */
function planRolling(rollout: PlannerRollout, draft: Draft, observed: Observed, now: number): Decision {
  const s = draft.state;
  const n = s.spec.instances;
  const stableReady = Math.min(observed.stable.ready, s.stableInstances);
  const removable = stableReady + observed.canary.ready - (n - s.spec.maxUnavailable);
  if (removable > 0 && s.stableInstances > 0) {
    s.stableInstances = Math.max(0, s.stableInstances - removable);
    s.progressAt = now;
  }
  s.canaryInstances = Math.min(n, Math.max(s.canaryInstances, n + s.spec.maxSurge - s.stableInstances));
  const keptStable = Math.min(observed.stable.ready, s.stableInstances);
  const serving = keptStable + observed.canary.ready;
  s.weight =
    serving === 0
      ? keptStable === 0 && s.stableInstances === 0
        ? 100
        : 0
      : Math.round((100 * observed.canary.ready) / serving);
  if (observed.canary.ready >= n && s.stableInstances === 0) return promote(rollout, draft, now);
  return draft;
}

/** The canary takes all traffic and becomes the slot's stable release. */
function promote(rollout: PlannerRollout, draft: Draft, now: number): Decision {
  const s = draft.state;
  delete s.promote;
  s.weight = 100;
  s.canaryInstances = s.spec.instances;
  s.stableInstances = 0;
  s.progressAt = now;
  const watch =
    s.spec.analysis !== null && s.spec.watchMs > 0 && s.baseline !== undefined && rollout.previous !== null
      ? s.spec.watchMs
      : 0;
  const warmMs =
    rollout.strategy === "blue-green"
      ? Math.max(s.spec.keepWarmMs, watch)
      : rollout.strategy === "canary"
        ? watch
        : 0;
  draft.slot = {
    stable: rollout.release,
    warm:
      rollout.previous !== null && warmMs > 0
        ? [{ version: rollout.previous, until: new Date(now + warmMs).toISOString() }]
        : [],
  };
  draft.events.push({ type: "rollout.promoted", payload: { release: rollout.release, watchMs: watch } });
  if (watch > 0) {
    draft.status = "watching";
    enterPhase(s, "watching", now);
    s.watchUntil = now + watch;
    s.windowStart = nextWindowStart(now);
    draft.reason = `promoted; watching for ${formatMs(watch)}`;
  } else {
    draft.status = "succeeded";
    enterPhase(s, "done", now);
    delete s.windowStart;
    draft.reason = "promoted";
    draft.events.push({ type: "rollout.succeeded", payload: { reason: "promoted" } });
  }
  return draft;
}

/** Traffic back to the stable release, the canary's instances stopped. */
export function rollBack(rollout: PlannerRollout, draft: Draft, now: number, reason: string): Decision {
  const s = draft.state;
  const to = rollout.previous;
  draft.status = to === null ? "failed" : "rolled-back";
  draft.reason = reason;
  enterPhase(s, "done", now);
  delete s.windowStart;
  delete s.promote;
  delete s.pausedBy;
  delete s.pausedAt;
  s.weight = 0;
  s.canaryInstances = 0;
  s.stableInstances = to === null ? 0 : s.spec.instances;
  draft.slot = { stable: to, warm: [] };
  draft.events.push({
    type: to === null ? "rollout.failed" : "rollout.rolled-back",
    payload: { reason, to },
  });
  return draft;
}

function enterPhase(s: RolloutState, phase: RolloutState["phase"], now: number): void {
  s.phase = phase;
  s.phaseSince = now;
}

/** Canary instances for a step: its share of `instances`, rounded up, at least one. */
export function canaryInstances(instances: number, weight: number): number {
  return Math.min(instances, Math.max(1, Math.ceil((instances * weight) / 100)));
}

export function formatMs(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
