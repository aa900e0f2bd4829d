/**
 * Whether the agent should respawn its edge: a pure decision (state, what was observed, now → next state
 * and action) so the backoff is table-tested without processes or sleeps. The executor is the agent's
 * Environments (src/agent/environments.ts): it observes the edge's pid, performs the respawn, re-puts
 * every table, and reports the outcome back through `edgeUp` / `respawnFailed`.
 */

export interface EdgeWatch {
  phase: "up" | "down";
  /** Respawns that failed or died young in a row; drives the backoff. */
  failures: number;
  /** When the current edge was seen up (epoch ms). */
  upSince: number;
  /** Down: no respawn before this (epoch ms). */
  retryAt: number;
}

export type EdgeWatchAction = "none" | "respawn";

export interface EdgeBackoff {
  /** Delay after the second failure in a row; doubles after each. The first respawn is immediate. */
  initialMs: number;
  maxMs: number;
  /** An edge up this long resets the failure count. */
  resetAfterMs: number;
}

export const DEFAULT_EDGE_BACKOFF: EdgeBackoff = { initialMs: 250, maxMs: 10_000, resetAfterMs: 30_000 };

export function initialWatch(now: number): EdgeWatch {
  return { phase: "up", failures: 0, upSince: now, retryAt: 0 };
}

/** 0 for the first respawn (every request fails while the edge is down), then initial·2^(n-1), capped. */
export function respawnDelay(failures: number, policy: EdgeBackoff): number {
  if (failures <= 0) return 0;
  return Math.min(policy.maxMs, policy.initialMs * 2 ** (failures - 1));
}

export function decideEdge(
  watch: EdgeWatch,
  observed: { alive: boolean },
  now: number,
  policy: EdgeBackoff = DEFAULT_EDGE_BACKOFF,
): { next: EdgeWatch; action: EdgeWatchAction } {
  switch (watch.phase) {
    case "up": {
      if (observed.alive) {
        const settled = watch.failures > 0 && now - watch.upSince >= policy.resetAfterMs;
        return { next: settled ? { ...watch, failures: 0 } : watch, action: "none" };
      }
      // Died: one that had not stayed up for the reset time counts as a failure in a row.
      const young = now - watch.upSince < policy.resetAfterMs;
      const failures = young ? watch.failures : 0;
      const retryAt = now + respawnDelay(failures, policy);
      const next: EdgeWatch = { phase: "down", failures, upSince: watch.upSince, retryAt };
      return { next, action: retryAt <= now ? "respawn" : "none" };
    }
    case "down":
      return { next: watch, action: now >= watch.retryAt ? "respawn" : "none" };
    default: {
      const never: never = watch.phase;
      return never;
    }
  }
}

/** The respawn worked: up from now; the failure count stays until the edge has lasted. */
export function edgeUp(watch: EdgeWatch, now: number): EdgeWatch {
  return {
    phase: "up",
    failures: watch.failures + (watch.phase === "down" ? 1 : 0),
    upSince: now,
    retryAt: 0,
  };
}

/** The respawn failed: wait longer before the next. */
export function respawnFailed(
  watch: EdgeWatch,
  now: number,
  policy: EdgeBackoff = DEFAULT_EDGE_BACKOFF,
): EdgeWatch {
  const failures = watch.failures + 1;
  return { phase: "down", failures, upSince: watch.upSince, retryAt: now + respawnDelay(failures, policy) };
}
