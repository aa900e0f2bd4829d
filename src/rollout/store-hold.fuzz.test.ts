import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { initialState, plan } from "./planner.js";
import { holdTimers } from "./store-hold.js";
import type { Observed, PlannerRollout, RolloutPlanSpec } from "./types.js";

const RUNS = { numRuns: 400, interruptAfterTimeLimit: 5_000 };
const T0 = 1_700_000_000_000;
const S = 1_000;

/** A canary at one of its steps, any pause (or none, or until-promote) and any progress deadline. */
const canaryAtStep = fc
  .record({
    steps: fc.array(
      fc.record({
        weight: fc.integer({ min: 1, max: 99 }),
        pauseMs: fc.oneof(
          fc.constant(null),
          fc.constant("until-promote" as const),
          fc.integer({ min: 1, max: 600 * S }),
        ),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    step: fc.nat(3),
    deadlineMs: fc.integer({ min: S, max: 900 * S }),
    paused: fc.boolean(),
    instances: fc.integer({ min: 1, max: 5 }),
  })
  .map(({ steps, step, deadlineMs, paused, instances }): PlannerRollout => {
    const spec: RolloutPlanSpec = {
      instances,
      maxSurge: 1,
      maxUnavailable: 0,
      steps,
      analysis: null,
      watchMs: 0,
      keepWarmMs: 60 * S,
      progressDeadlineMs: deadlineMs,
    };
    const at = Math.min(step, steps.length - 1);
    const base = { strategy: "canary" as const, release: "v2", previous: "v1" };
    const canary = Math.max(1, Math.ceil((instances * steps[at]!.weight) / 100));
    const state = {
      ...initialState(base, spec, T0),
      phase: "step" as const,
      step: at,
      weight: steps[at]!.weight,
      canaryInstances: canary,
      canaryReady: canary,
      ...(paused ? { pausedBy: "user" as const, pausedAt: T0 } : {}),
    };
    return { ...base, status: paused ? "paused" : "progressing", state };
  });

const ready = (r: PlannerRollout): Observed => ({
  canary: { ready: r.state.canaryInstances, total: r.state.canaryInstances, failed: [] },
  stable: { ready: r.state.stableInstances, total: r.state.stableInstances, failed: [] },
});

describe("a rollout held by the store (property)", () => {
  it("decides after any outage exactly what it would have decided when the store refused, clocks moved on", () => {
    fc.assert(
      fc.property(
        canaryAtStep,
        fc.integer({ min: 0, max: 900 * S }),
        fc.integer({ min: 0, max: 3_600 * S }),
        (rollout, refusedAfter, outage) => {
          const refusedAt = T0 + refusedAfter;
          const then = plan(rollout, ready(rollout), refusedAt);
          const later = plan(
            { ...rollout, state: holdTimers(rollout.state, outage) },
            ready(rollout),
            refusedAt + outage,
          );
          expect(later.status).toBe(then.status);
          expect(later.reason).toBe(then.reason);
          expect(later.events).toEqual(then.events);
          expect(later.state).toEqual(holdTimers(then.state, outage));
          expect(later.slot?.stable).toEqual(then.slot?.stable);
        },
      ),
      RUNS,
    );
  });
});
