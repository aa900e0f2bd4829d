import { Writable } from "node:stream";

import { pino } from "pino";
import { describe, expect, it } from "vitest";

import { SlipwayError } from "../util/index.js";
import { initialState, plan } from "./planner.js";
import { holdTimers, isStoreUnavailable, StoreHold } from "./store-hold.js";
import type { Observed, PlannerRollout, RolloutPlanSpec } from "./types.js";

const T0 = 1_700_000_000_000;
const S = 1_000;

const SPEC: RolloutPlanSpec = {
  instances: 2,
  maxSurge: 1,
  maxUnavailable: 0,
  steps: [{ weight: 50, pauseMs: 3 * S }],
  analysis: null,
  watchMs: 0,
  keepWarmMs: 60 * S,
  progressDeadlineMs: 5 * S,
};

/** A canary holding its first step since `since`, with its one canary instance ready. */
function atStep(since: number): PlannerRollout {
  const base = { strategy: "canary" as const, release: "v2", previous: "v1" };
  const state = {
    ...initialState(base, SPEC, since),
    phase: "step" as const,
    weight: 50,
    canaryInstances: 1,
  };
  return { ...base, status: "progressing", state: { ...state, canaryReady: 1 } };
}

const world: Observed = {
  canary: { ready: 1, total: 1, failed: [] },
  stable: { ready: 2, total: 2, failed: [] },
};

const full = (cause = "SQLITE_FULL") =>
  new SlipwayError("store_unavailable", `cannot write: the disk is full (${cause})`, {
    details: { cause, reason: "the disk is full" },
  });

function captured(): { hold: StoreHold; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
      done();
    },
  });
  return { hold: new StoreHold(pino({ level: "info" }, sink)), lines };
}

describe("holdTimers", () => {
  it("moves the phase's start, the last progress and a pause's start on; not the traffic window", () => {
    const r = atStep(T0);
    const state = { ...r.state, windowStart: T0, pausedAt: T0 + S };
    const held = holdTimers(state, 7 * S);
    expect(held).toEqual({
      ...state,
      phaseSince: T0 + 7 * S,
      progressAt: T0 + 7 * S,
      pausedAt: T0 + 8 * S,
    });
    expect(holdTimers(state, 0)).toBe(state);
  });

  it("an outage longer than the step and the progress deadline neither rolls back nor skips ahead", () => {
    const r = atStep(T0);
    // The store refused the step's end at T0 + 3 s; it can be written again at T0 + 11 s.
    const blockedAt = T0 + 3 * S;
    const back = T0 + 11 * S;
    expect(plan(r, world, back).status).toBe("rolled-back"); // what happened before: the deadline tripped
    const held = plan({ ...r, state: holdTimers(r.state, back - blockedAt) }, world, back);
    expect(held.status).toBe("progressing");
    // It does what it was about to do when the store refused: end the step and promote.
    expect(held).toEqual({ ...plan(r, world, blockedAt), state: expect.anything() as unknown });
    expect(held.state.phase).toBe(plan(r, world, blockedAt).state.phase);
  });
});

describe("StoreHold", () => {
  it("says it once per outage and once when it ends, holds the rollout, and backs off to a cap", () => {
    const { hold, lines } = captured();
    expect(hold.waiting(T0)).toBe(false);
    let now = T0;
    const delays: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      hold.failed(full(), now, 7);
      let next = now;
      while (hold.waiting(next)) next += 100;
      delays.push(next - now);
      now = next;
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
    expect(lines.filter((l) => l.msg.includes("cannot record rollout decisions"))).toHaveLength(1);
    expect(hold.heldFor(7, now)).toBe(now - T0);
    expect(hold.view()).toMatchObject({ held: 1, since: new Date(T0).toISOString(), unrecorded: 7 });

    // Another cause is worth a second line (a full disk that became an I/O error).
    hold.failed(full("SQLITE_IOERR_WRITE"), now, 7);
    expect(lines.filter((l) => l.msg.includes("cannot record"))).toHaveLength(2);

    hold.recorded(7, now + S);
    expect(lines.filter((l) => l.msg.includes("records rollout decisions again"))).toHaveLength(1);
    expect(hold.view()).toMatchObject({ held: 0, since: null, reason: null });
    expect(hold.heldFor(7, now + S)).toBe(0);
    // Backoff starts over for the next outage.
    hold.failed(full(), now + 2 * S, 7);
    expect(hold.waiting(now + 2 * S + 499)).toBe(true);
    expect(hold.waiting(now + 2 * S + 500)).toBe(false);
  });

  it("ends an outage that held no rollout after a tick without refusals, and forgets rollouts that ended", () => {
    const { hold, lines } = captured();
    hold.failed(full(), T0, 3);
    hold.failed(full(), T0); // a warm release that could not expire
    hold.tickDone(new Set([3]), T0, T0 + 10);
    expect(hold.view().held).toBe(1);
    // Rollout 3 was aborted by a command meanwhile: nothing waits for it, and the next clean tick ends it.
    hold.tickDone(new Set(), T0 + S, T0 + S + 10);
    expect(hold.view()).toMatchObject({ held: 0, since: null });
    expect(lines.filter((l) => l.msg.includes("records rollout decisions again"))).toHaveLength(1);
  });

  it("ends an outage of failed reads without saying decisions are recorded again (none was refused)", () => {
    const { hold, lines } = captured();
    hold.failed(full("08006"), T0);
    expect(lines.filter((l) => l.msg.includes("cannot record rollout decisions"))).toHaveLength(1);
    hold.tickDone(new Set([3]), T0 + S, T0 + S + 10);
    expect(hold.view()).toMatchObject({ held: 0, since: null });
    expect(lines.filter((l) => l.msg.includes("records rollout decisions again"))).toHaveLength(0);
  });

  it("counts only the store's failures as a hold", () => {
    expect(isStoreUnavailable(full())).toBe(true);
    expect(isStoreUnavailable(new SlipwayError("store_unwritable", "read-only"))).toBe(true);
    expect(isStoreUnavailable(new SlipwayError("stale_write", "lost a race"))).toBe(false);
    expect(isStoreUnavailable(new Error("SQLITE_FULL"))).toBe(false);
  });
});
