/**
 * What `slipway up` does about its node agent, decided purely: given what it remembers, what it just
 * observed and the time, which actions to take (start an agent, watch another pid, report, give up).
 * The executor (supervise-agent.ts) polls the socket, performs the actions and feeds their outcome back
 * in. Kept pure so the restart policy (backoff, its reset, giving up, adopting an agent someone else
 * started) is tested by tables, without processes or sleeps.
 *
 * An agent that answers on the socket with another pid than the one watched was started by someone
 * else (`slipway agent restart` with no supervisor record, a person): it is adopted as the current
 * agent, never fought. A dead agent is restarted after a backoff of 0.2 s doubling to 10 s; the backoff
 * resets once an agent has run for 60 s; after `maxRestarts` restarts in a row that did not last, `up`
 * gives up (an agent that cannot start, say its snapshot is unreadable, is not retried forever).
 */

export interface RestartPolicy {
  firstDelayMs: number;
  maxDelayMs: number;
  /** An agent that ran this long resets the backoff. */
  healthyAfterMs: number;
  /** Consecutive short-lived restarts before giving up. */
  maxRestarts: number;
}

export const DEFAULT_RESTART_POLICY: Readonly<RestartPolicy> = Object.freeze({
  firstDelayMs: 200,
  maxDelayMs: 10_000,
  healthyAfterMs: 60_000,
  maxRestarts: 10,
});

export type SupervisorPhase = "watching" | "waiting" | "starting" | "gave-up";

export interface SupervisorState {
  phase: SupervisorPhase;
  /** The agent watched (the current one); undefined while none runs. */
  pid: number | undefined;
  /** When the watched agent started or was adopted (epoch ms): its run length resets the backoff. */
  since: number | undefined;
  /** Restarts in a row of agents that did not run `healthyAfterMs`. */
  failures: number;
  /** `waiting` only: no start before this time. */
  startAt: number | undefined;
  /** Why the last agent ended (for the restart line). */
  lastExit: string | undefined;
}

export type SupervisorObservation =
  /** A poll: the pid answering on the socket (if any), whether the watched pid still exists, and how it exited if known. */
  | { kind: "poll"; answeringPid: number | undefined; watchedAlive: boolean; exit?: string | undefined }
  | { kind: "started"; pid: number }
  | { kind: "start-failed"; reason: string };

export type SupervisorAction =
  { kind: "start" } | { kind: "say"; line: string } | { kind: "give-up"; reason: string };

export interface SupervisorDecision {
  state: SupervisorState;
  actions: SupervisorAction[];
  /** When to poll next at the latest (epoch ms); undefined: the executor's usual interval. */
  wakeAt: number | undefined;
}

export function initialSupervisorState(pid: number, now: number): SupervisorState {
  return { phase: "watching", pid, since: now, failures: 0, startAt: undefined, lastExit: undefined };
}

/** The delay before restart number `failures` (1-based): 0.2 s, 0.4 s, … up to 10 s. */
export function backoffMs(failures: number, policy: RestartPolicy = DEFAULT_RESTART_POLICY): number {
  const exponent = Math.max(0, failures - 1);
  return Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.min(exponent, 30));
}

/**
 * @example
 *   let state = initialSupervisorState(agent.pid, Date.now());
 *   const { state: next, actions } = decideSupervision(state, { kind: "poll", answeringPid: undefined, watchedAlive: false, exit: "signal SIGKILL" }, Date.now());
 *   // actions: [] and next.phase "waiting" until the backoff has passed, then [{ kind: "start" }]
 */
export function decideSupervision(
  state: SupervisorState,
  observation: SupervisorObservation,
  now: number,
  policy: RestartPolicy = DEFAULT_RESTART_POLICY,
): SupervisorDecision {
  switch (observation.kind) {
    case "started":
      return {
        state: { ...state, phase: "watching", pid: observation.pid, since: now, startAt: undefined },
        actions: [{ kind: "say", line: restartLine(state, `restarted as pid ${observation.pid}`) }],
        wakeAt: undefined,
      };
    case "start-failed": {
      const next = afterDeath(
        state,
        now,
        policy,
        state.lastExit ?? `agent could not start (${observation.reason})`,
      );
      if (next.state.phase !== "waiting" || next.wakeAt === undefined) return next;
      const line = `agent did not start (${observation.reason}); next try in ${((next.wakeAt - now) / 1000).toFixed(1)} s`;
      return { ...next, actions: [{ kind: "say", line }, ...next.actions] };
    }
    case "poll":
      return decidePoll(state, observation, now, policy);
    default:
      return assertNever(observation);
  }
}

function decidePoll(
  state: SupervisorState,
  poll: Extract<SupervisorObservation, { kind: "poll" }>,
  now: number,
  policy: RestartPolicy,
): SupervisorDecision {
  const idle = { state, actions: [], wakeAt: undefined };
  switch (state.phase) {
    case "gave-up":
    case "starting":
      return idle;
    case "watching":
    case "waiting":
      break;
    default:
      return assertNever(state.phase);
  }
  if (poll.answeringPid !== undefined && poll.answeringPid !== state.pid) {
    // Someone else started an agent (`slipway agent restart`, a person): it is the current one now.
    const line =
      state.pid === undefined
        ? `agent pid ${poll.answeringPid} answers (started outside up); watching it`
        : `agent pid ${state.pid} was replaced by pid ${poll.answeringPid} (started outside up); watching it`;
    return {
      state: { ...state, phase: "watching", pid: poll.answeringPid, since: now, startAt: undefined },
      actions: [{ kind: "say", line }],
      wakeAt: undefined,
    };
  }
  if (state.phase === "watching") {
    // Alive but not answering: starting up, busy, or exiting; only its death counts.
    if (poll.answeringPid !== undefined || poll.watchedAlive) return idle;
    return afterDeath(state, now, policy, `agent pid ${String(state.pid)} exited (${poll.exit ?? "gone"})`);
  }
  // waiting
  if (state.startAt !== undefined && now < state.startAt) return { ...idle, wakeAt: state.startAt };
  return {
    state: { ...state, phase: "starting", startAt: undefined },
    actions: [{ kind: "start" }],
    wakeAt: undefined,
  };
}

/**
 * The watched agent ended (or a start failed): count it, then wait the backoff or give up. `lastExit`
 * is the line's first half: how the last agent that ran ended (a failed start keeps it).
 */
function afterDeath(
  state: SupervisorState,
  now: number,
  policy: RestartPolicy,
  lastExit: string,
): SupervisorDecision {
  const lasted = state.since !== undefined && now - state.since >= policy.healthyAfterMs;
  const failures = (lasted ? 0 : state.failures) + 1;
  const base = { ...state, pid: undefined, since: undefined, failures, lastExit };
  if (failures > policy.maxRestarts) {
    const reason = `${lastExit}; gave up after ${policy.maxRestarts} restarts that did not last ${policy.healthyAfterMs / 1000} s`;
    return {
      state: { ...base, phase: "gave-up", startAt: undefined },
      actions: [{ kind: "give-up", reason }],
      wakeAt: undefined,
    };
  }
  const startAt = now + backoffMs(failures, policy);
  return { state: { ...base, phase: "waiting", startAt }, actions: [], wakeAt: startAt };
}

function restartLine(state: SupervisorState, what: string): string {
  return state.lastExit === undefined ? `agent ${what}` : `${state.lastExit}; ${what}`;
}

function assertNever(value: never): never {
  throw new Error(`unexpected ${JSON.stringify(value)}`);
}
