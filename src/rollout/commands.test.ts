import { describe, expect, it } from "vitest";
import type { RolloutStatus, RolloutStrategy } from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import {
  applyCommand,
  rollBackActive,
  ROLLOUT_COMMANDS,
  type CommandTarget,
  type RolloutCommand,
} from "./commands.js";
import { initialState, plan } from "./planner.js";
import type { Decision, RolloutPlanSpec } from "./types.js";

const T0 = 1_700_000_000_000;
const S = 1_000;
const M = 60_000;

function spec(over: Partial<RolloutPlanSpec> = {}): RolloutPlanSpec {
  return {
    instances: 2,
    maxSurge: 1,
    maxUnavailable: 0,
    steps: [
      { weight: 50, pauseMs: 30 * S },
      { weight: 80, pauseMs: "until-promote" },
    ],
    analysis: null,
    watchMs: 0,
    keepWarmMs: 5 * M,
    progressDeadlineMs: 10 * M,
    ...over,
  };
}

function target(
  options: {
    strategy?: RolloutStrategy;
    status?: RolloutStatus;
    previous?: string | null;
    planSpec?: RolloutPlanSpec;
  } = {},
): CommandTarget {
  const strategy = options.strategy ?? "canary";
  const base = {
    strategy,
    release: "v2",
    previous: options.previous === undefined ? "v1" : options.previous,
  };
  const planSpec = options.planSpec ?? spec(strategy === "canary" ? {} : { steps: [] });
  return {
    ...base,
    id: 7,
    service: "web",
    env: "production",
    status: options.status ?? "progressing",
    state: initialState(base, planSpec, T0),
  };
}

/** The target after a decision, as the API would store it. */
function after(r: CommandTarget, d: Decision): CommandTarget {
  return { ...r, status: d.status, state: d.state };
}

function conflictOf(fn: () => unknown): SlipwayError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SlipwayError);
    const e = error as SlipwayError;
    expect(e.code).toBe("rollout_not_active");
    return e;
  }
  throw new Error("expected a conflict");
}

const ACTOR = { actor: "alice" };

describe("applyCommand", () => {
  it("lists its commands", () => {
    expect(ROLLOUT_COMMANDS).toEqual(["promote", "pause", "resume", "abort"]);
  });

  it("refuses every command on a finished rollout, naming the status", () => {
    for (const status of ["succeeded", "rolled-back", "aborted", "failed"] as const) {
      const r = target({ status });
      for (const command of ROLLOUT_COMMANDS) {
        const e = conflictOf(() => applyCommand(r, command, ACTOR, T0));
        expect(e.message).toBe(`rollout 7 (web v2 in production) is ${status}: nothing to ${command}`);
        expect(e.details).toEqual({ rolloutId: 7, status });
        expect(e.hint).toMatch(/slipway deploy/);
      }
    }
  });

  it("refuses promote, pause and resume on a watching rollout, pointing at rollback", () => {
    const r = target({ status: "watching" });
    for (const command of ["promote", "pause", "resume"] as const) {
      const e = conflictOf(() => applyCommand(r, command, ACTOR, T0));
      expect(e.message).toBe(
        `rollout 7 (web v2 in production) is watching: it was promoted already; nothing to ${command}`,
      );
      expect(e.hint).toMatch(/slipway rollback/);
    }
  });

  describe("promote", () => {
    it("asks the planner to end the current step", () => {
      const r = target();
      const d = applyCommand(r, "promote", ACTOR, T0 + S);
      expect(d.status).toBe("progressing");
      expect(d.state.promote).toBe("step");
      expect(d.reason).toBeNull();
      expect(d.slot).toBeUndefined();
      expect(d.events).toEqual([
        { type: "rollout.promote-requested", payload: { by: "alice", full: false } },
      ]);
      // A person deciding counts as progress for the deadline; nothing else moves.
      expect(d.state.progressAt).toBe(T0 + S);
      expect({ ...d.state, promote: undefined, progressAt: 0 }).toEqual({
        ...r.state,
        promote: undefined,
        progressAt: 0,
      });
    });

    it("with full, asks to skip the remaining steps", () => {
      const d = applyCommand(target(), "promote", { actor: "bob", full: true }, T0);
      expect(d.state.promote).toBe("full");
      expect(d.events).toEqual([{ type: "rollout.promote-requested", payload: { by: "bob", full: true } }]);
    });

    it("applies to blue-green", () => {
      const d = applyCommand(target({ strategy: "blue-green" }), "promote", ACTOR, T0);
      expect(d.state.promote).toBe("step");
    });

    it("refuses other strategies", () => {
      for (const strategy of ["rolling", "initial", "rollback"] as const) {
        const e = conflictOf(() => applyCommand(target({ strategy }), "promote", ACTOR, T0));
        expect(e.message).toBe(
          `rollout 7 (web v2 in production) is progressing: promote applies to canary and blue-green rollouts, not ${strategy}`,
        );
      }
    });

    it("resumes a paused rollout, shifting its timers", () => {
      const paused = after(target(), applyCommand(target(), "pause", ACTOR, T0 + 10 * S));
      const d = applyCommand(paused, "promote", ACTOR, T0 + 70 * S);
      expect(d.status).toBe("progressing");
      expect(d.state.promote).toBe("step");
      expect(d.state.phaseSince).toBe(T0 + 60 * S);
      expect(d.state.progressAt).toBe(T0 + 70 * S); // the promote itself is progress
      expect(d.state.pausedAt).toBeUndefined();
      expect(d.state.pausedBy).toBeUndefined();
    });
  });

  describe("pause and resume", () => {
    it("pause records who and when", () => {
      const d = applyCommand(target(), "pause", ACTOR, T0 + 5 * S);
      expect(d.status).toBe("paused");
      expect(d.state.pausedBy).toBe("user");
      expect(d.state.pausedAt).toBe(T0 + 5 * S);
      expect(d.reason).toBe("paused by alice");
      expect(d.events).toEqual([{ type: "rollout.paused", payload: { by: "alice" } }]);
    });

    it("pausing twice is a conflict", () => {
      const paused = after(target(), applyCommand(target(), "pause", ACTOR, T0));
      const e = conflictOf(() => applyCommand(paused, "pause", ACTOR, T0 + S));
      expect(e.message).toBe("rollout 7 (web v2 in production) is paused: it is paused already");
      expect(e.hint).toMatch(/slipway rollout resume/);
    });

    it("resume when not paused is a conflict", () => {
      const e = conflictOf(() => applyCommand(target(), "resume", ACTOR, T0));
      expect(e.message).toBe("rollout 7 (web v2 in production) is progressing: it is not paused");
      expect(e.details).toEqual({ rolloutId: 7, status: "progressing" });
    });

    it("resume shifts phaseSince and progressAt by the time paused", () => {
      const r = target();
      const paused = after(r, applyCommand(r, "pause", ACTOR, T0 + 10 * S));
      const d = applyCommand(paused, "resume", { actor: "bob" }, T0 + 10 * S + 5 * M);
      expect(d.status).toBe("progressing");
      expect(d.state.phaseSince).toBe(r.state.phaseSince + 5 * M);
      expect(d.state.progressAt).toBe(r.state.progressAt + 5 * M);
      expect(d.state.pausedAt).toBeUndefined();
      expect(d.state.pausedBy).toBeUndefined();
      expect(d.events).toEqual([{ type: "rollout.resumed", payload: { by: "bob" } }]);
    });

    it("resuming a pause without a recorded time shifts nothing", () => {
      const r = { ...target(), status: "paused" as const };
      const d = applyCommand(r, "resume", ACTOR, T0 + M);
      expect(d.status).toBe("progressing");
      expect(d.state.phaseSince).toBe(T0);
      expect(d.state.progressAt).toBe(T0);
    });

    it("resumes a pause the planner made on an inconclusive step", () => {
      const r = { ...target(), status: "paused" as const };
      r.state = { ...r.state, pausedBy: "inconclusive", pausedAt: T0 + M };
      const d = applyCommand(r, "resume", ACTOR, T0 + 3 * M);
      expect(d.state.phaseSince).toBe(T0 + 2 * M);
      expect(d.state.pausedBy).toBeUndefined();
    });
  });

  describe("abort", () => {
    it("sends traffic back to the previous release", () => {
      const r = target();
      const d = applyCommand(r, "abort", ACTOR, T0 + M);
      expect(d.status).toBe("aborted");
      expect(d.reason).toBe("aborted by alice");
      expect(d.slot).toEqual({ stable: "v1", warm: [] });
      expect(d.state).toMatchObject({ phase: "done", weight: 0, canaryInstances: 0, stableInstances: 2 });
      expect(d.state.phaseSince).toBe(T0 + M);
      expect(d.events).toEqual([
        { type: "rollout.aborted", payload: { reason: "aborted by alice", to: "v1" } },
      ]);
    });

    it("aborts a paused rollout, dropping the pause", () => {
      const paused = after(target(), applyCommand(target(), "pause", ACTOR, T0));
      const d = applyCommand(paused, "abort", ACTOR, T0 + S);
      expect(d.status).toBe("aborted");
      expect(d.state.pausedAt).toBeUndefined();
      expect(d.state.pausedBy).toBeUndefined();
    });

    it("aborting a first release leaves nothing stable", () => {
      const r = target({ strategy: "initial", previous: null });
      const d = applyCommand(r, "abort", ACTOR, T0);
      expect(d.status).toBe("aborted");
      expect(d.slot).toEqual({ stable: null, warm: [] });
      expect(d.events).toEqual([
        { type: "rollout.aborted", payload: { reason: "aborted by alice", to: null } },
      ]);
    });

    it("aborting a watching rollout is a conflict", () => {
      const e = conflictOf(() => applyCommand(target({ status: "watching" }), "abort", ACTOR, T0));
      expect(e.message).toBe(
        "rollout 7 (web v2 in production) is watching: it was promoted already; nothing to abort",
      );
      expect(e.hint).toMatch(/slipway rollback/);
    });

    it("the planner leaves an aborted rollout alone", () => {
      const r = target();
      const aborted = after(r, applyCommand(r, "abort", ACTOR, T0));
      const d = plan(
        aborted,
        { canary: { ready: 2, total: 2, failed: [] }, stable: { ready: 2, total: 2, failed: [] } },
        T0 + S,
      );
      expect(d.status).toBe("aborted");
      expect(d.events).toEqual([]);
    });
  });

  it("never mutates its input", () => {
    const inputs: [CommandTarget, RolloutCommand, boolean][] = [
      [target(), "promote", false],
      [target(), "promote", true],
      [target(), "pause", false],
      [target(), "abort", false],
      [
        { ...target(), status: "paused", state: { ...target().state, pausedAt: T0, pausedBy: "user" } },
        "resume",
        false,
      ],
      [
        { ...target(), status: "paused", state: { ...target().state, pausedAt: T0, pausedBy: "user" } },
        "promote",
        false,
      ],
    ];
    for (const [r, command, full] of inputs) {
      const before = structuredClone(r);
      const d = applyCommand(r, command, { actor: "alice", full }, T0 + M);
      expect(r).toEqual(before);
      expect(d.state).not.toBe(r.state);
    }
  });
});

describe("rollBackActive", () => {
  it("stops an unfinished rollout, traffic back to the previous release", () => {
    const d = rollBackActive(target(), "carol", T0 + M);
    expect(d.status).toBe("rolled-back");
    expect(d.reason).toBe("rolled back by carol");
    expect(d.slot).toEqual({ stable: "v1", warm: [] });
    expect(d.state).toMatchObject({ phase: "done", weight: 0, canaryInstances: 0, stableInstances: 2 });
    expect(d.events).toEqual([
      { type: "rollout.rolled-back", payload: { reason: "rolled back by carol", to: "v1" } },
    ]);
  });

  it("undoes a watching rollout the same way, clearing the warm list", () => {
    const r = target({ status: "watching" });
    r.state = { ...r.state, phase: "watching", weight: 100, watchUntil: T0 + 10 * M, windowStart: T0 };
    const d = rollBackActive(r, "carol", T0 + M);
    expect(d.status).toBe("rolled-back");
    expect(d.slot).toEqual({ stable: "v1", warm: [] });
    expect(d.state.weight).toBe(0);
    expect(d.state.windowStart).toBeUndefined();
  });

  it("works on a paused rollout", () => {
    const paused = after(target(), applyCommand(target(), "pause", ACTOR, T0));
    const d = rollBackActive(paused, "carol", T0 + S);
    expect(d.status).toBe("rolled-back");
    expect(d.state.pausedBy).toBeUndefined();
  });

  it("refuses a first release: nothing to go back to", () => {
    const e = conflictOf(() => rollBackActive(target({ strategy: "initial", previous: null }), "carol", T0));
    expect(e.message).toBe(
      "rollout 7 (web v2 in production) is progressing: it is the first release of this service here; there is nothing to go back to",
    );
    expect(e.hint).toMatch(/slipway rollout abort/);
  });

  it("refuses a finished rollout", () => {
    for (const status of ["succeeded", "rolled-back", "aborted", "failed"] as const) {
      const e = conflictOf(() => rollBackActive(target({ status }), "carol", T0));
      expect(e.message).toBe(`rollout 7 (web v2 in production) is ${status}: it has finished`);
    }
  });

  it("never mutates its input", () => {
    const r = target({ status: "watching" });
    const before = structuredClone(r);
    rollBackActive(r, "carol", T0 + M);
    expect(r).toEqual(before);
  });
});
