import { describe, expect, it } from "vitest";
import {
  backoffMs,
  decideSupervision,
  DEFAULT_RESTART_POLICY,
  initialSupervisorState,
  type SupervisorAction,
  type SupervisorObservation,
  type SupervisorState,
} from "./supervise.js";

const T0 = 1_000_000;
const watching = initialSupervisorState(100, T0);
const poll = (
  answeringPid: number | undefined,
  watchedAlive: boolean,
  exit?: string,
): SupervisorObservation => ({
  kind: "poll",
  answeringPid,
  watchedAlive,
  exit,
});
const waiting = (over: Partial<SupervisorState> = {}): SupervisorState => ({
  phase: "waiting",
  pid: undefined,
  since: undefined,
  failures: 1,
  startAt: T0 + 200,
  lastExit: "agent pid 100 exited (signal SIGKILL)",
  ...over,
});

interface Case {
  name: string;
  state: SupervisorState;
  observation: SupervisorObservation;
  now: number;
  want: Partial<SupervisorState> & { actions?: SupervisorAction[]; wakeAt?: number };
}

const cases: Case[] = [
  {
    name: "a healthy agent: nothing to do",
    state: watching,
    observation: poll(100, true),
    now: T0 + 500,
    want: { phase: "watching", pid: 100, actions: [] },
  },
  {
    name: "alive but not answering (starting, busy, exiting): wait, never start a second",
    state: watching,
    observation: poll(undefined, true),
    now: T0 + 500,
    want: { phase: "watching", pid: 100, actions: [] },
  },
  {
    name: "killed: wait the first backoff before starting",
    state: watching,
    observation: poll(undefined, false, "signal SIGKILL"),
    now: T0 + 500,
    want: { phase: "waiting", pid: undefined, failures: 1, startAt: T0 + 700, actions: [] },
  },
  {
    name: "backoff not over: wait, and wake when it is",
    state: waiting(),
    observation: poll(undefined, false),
    now: T0 + 100,
    want: { phase: "waiting", actions: [], wakeAt: T0 + 200 },
  },
  {
    name: "backoff over: start one agent",
    state: waiting(),
    observation: poll(undefined, false),
    now: T0 + 200,
    want: { phase: "starting", actions: [{ kind: "start" }] },
  },
  {
    name: "a start in flight: no second start, whatever the poll says",
    state: waiting({ phase: "starting", startAt: undefined }),
    observation: poll(undefined, false),
    now: T0 + 5_000,
    want: { phase: "starting", actions: [] },
  },
  {
    name: "started: watch the new pid and say one line with how the last one ended",
    state: waiting({ phase: "starting", startAt: undefined }),
    observation: { kind: "started", pid: 200 },
    now: T0 + 900,
    want: {
      phase: "watching",
      pid: 200,
      since: T0 + 900,
      actions: [{ kind: "say", line: "agent pid 100 exited (signal SIGKILL); restarted as pid 200" }],
    },
  },
  {
    name: "another pid answers (slipway agent restart started it): adopt it, start nothing",
    state: watching,
    observation: poll(300, false),
    now: T0 + 500,
    want: {
      phase: "watching",
      pid: 300,
      actions: [
        { kind: "say", line: "agent pid 100 was replaced by pid 300 (started outside up); watching it" },
      ],
    },
  },
  {
    name: "another pid answers during the backoff: adopt it instead of starting",
    state: waiting(),
    observation: poll(300, false),
    now: T0 + 500,
    want: { phase: "watching", pid: 300, failures: 1 },
  },
  {
    name: "a failed start counts and waits a longer backoff, keeping how the agent ended",
    state: waiting({ phase: "starting", startAt: undefined }),
    observation: { kind: "start-failed", reason: "timed out" },
    now: T0 + 1_000,
    want: {
      phase: "waiting",
      failures: 2,
      startAt: T0 + 1_400,
      lastExit: "agent pid 100 exited (signal SIGKILL)",
      actions: [{ kind: "say", line: "agent did not start (timed out); next try in 0.4 s" }],
    },
  },
  {
    name: "an agent that ran 60 s resets the backoff",
    state: { ...watching, failures: 6 },
    observation: poll(undefined, false, "code 1"),
    now: T0 + 60_000,
    want: { phase: "waiting", failures: 1, startAt: T0 + 60_200 },
  },
  {
    name: "an agent that ran less keeps counting",
    state: { ...watching, failures: 6 },
    observation: poll(undefined, false, "code 1"),
    now: T0 + 59_999,
    want: { phase: "waiting", failures: 7, startAt: T0 + 59_999 + 10_000 },
  },
  {
    name: "too many short-lived restarts: give up",
    state: { ...watching, failures: DEFAULT_RESTART_POLICY.maxRestarts },
    observation: poll(undefined, false, "code 1"),
    now: T0 + 1_000,
    want: {
      phase: "gave-up",
      actions: [
        {
          kind: "give-up",
          reason: "agent pid 100 exited (code 1); gave up after 10 restarts that did not last 60 s",
        },
      ],
    },
  },
  {
    name: "given up: stays given up",
    state: waiting({ phase: "gave-up", startAt: undefined }),
    observation: poll(undefined, false),
    now: T0 + 100_000,
    want: { phase: "gave-up", actions: [] },
  },
];

describe("decideSupervision", () => {
  it.each(cases)("$name", ({ state, observation, now, want }) => {
    const { actions, wakeAt, state: next } = decideSupervision(state, observation, now);
    const { actions: wantActions, wakeAt: wantWake, ...wantState } = want;
    expect(next).toMatchObject(wantState);
    if (wantActions !== undefined) expect(actions).toEqual(wantActions);
    if (wantWake !== undefined) expect(wakeAt).toBe(wantWake);
  });

  it("restarts a crash loop with a doubling backoff capped at 10 s", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffMs(n))).toEqual([
      200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000,
    ]);
  });

  it("never starts twice for one death, however often it polls", () => {
    let state = watching;
    let starts = 0;
    for (let now = T0; now < T0 + 5_000; now += 100) {
      const decision = decideSupervision(state, poll(undefined, false, "signal SIGKILL"), now);
      state = decision.state;
      starts += decision.actions.filter((a) => a.kind === "start").length;
    }
    expect(starts).toBe(1);
    expect(state.phase).toBe("starting");
  });
});
