/**
 * What people do to a running rollout — promote, pause, resume, abort, roll back — as pure
 * transitions on the stored rollout. The API reads the rollout, applies one of these, and writes the
 * result with compare-and-set; the controller then makes the agent match (traffic moves on its next
 * tick, well inside a second). A command that does not apply to the rollout's status is a `conflict`
 * that names the status, and nothing changes.
 */
import { SlipwayError } from "../util/index.js";
import { isFinal, rollBack } from "./planner.js";
import type { Decision, PlannerRollout } from "./types.js";

export const ROLLOUT_COMMANDS = ["promote", "pause", "resume", "abort"] as const;
export type RolloutCommand = (typeof ROLLOUT_COMMANDS)[number];

export interface CommandTarget extends PlannerRollout {
  id: number;
  service: string;
  env: string;
}

function label(r: CommandTarget): string {
  return `rollout ${r.id} (${r.service} ${r.release} in ${r.env})`;
}

function refuse(r: CommandTarget, what: string, hint?: string): SlipwayError {
  return new SlipwayError("rollout_not_active", `${label(r)} is ${r.status}: ${what}`, {
    hint,
    details: { rolloutId: r.id, status: r.status },
  });
}

function start(r: CommandTarget): Decision {
  return { status: r.status, state: structuredClone(r.state), reason: null, events: [] };
}

/** Ends a pause: timers move forward by the time spent paused, so a 30 s hold still holds 30 s. */
function unpause(d: Decision, now: number): void {
  const s = d.state;
  const pausedFor = s.pausedAt === undefined ? 0 : Math.max(0, now - s.pausedAt);
  s.phaseSince += pausedFor;
  s.progressAt += pausedFor;
  delete s.pausedAt;
  delete s.pausedBy;
  d.status = "progressing";
}

export function applyCommand(
  r: CommandTarget,
  command: RolloutCommand,
  options: { actor: string; full?: boolean },
  now: number,
): Decision {
  const { actor } = options;
  if (isFinal(r.status)) {
    throw refuse(r, `nothing to ${command}`, "start a new one with `slipway deploy`");
  }
  if (r.status === "watching" && command !== "abort") {
    throw refuse(r, `it was promoted already; nothing to ${command}`, "to go back, run `slipway rollback`");
  }
  const d = start(r);
  switch (command) {
    case "promote": {
      if (r.strategy !== "canary" && r.strategy !== "blue-green") {
        throw refuse(r, `promote applies to canary and blue-green rollouts, not ${r.strategy}`);
      }
      if (d.status === "paused") unpause(d, now);
      d.state.promote = options.full === true ? "full" : "step";
      // A person deciding is progress: a long hold before it must not trip the progress deadline.
      d.state.progressAt = now;
      d.events.push({
        type: "rollout.promote-requested",
        payload: { by: actor, full: options.full === true },
      });
      return d;
    }
    case "pause": {
      if (r.status === "paused")
        throw refuse(r, "it is paused already", "resume it with `slipway rollout resume`");
      d.status = "paused";
      d.state.pausedBy = "user";
      d.state.pausedAt = now;
      d.reason = `paused by ${actor}`;
      d.events.push({ type: "rollout.paused", payload: { by: actor } });
      return d;
    }
    case "resume": {
      if (r.status !== "paused") throw refuse(r, "it is not paused");
      unpause(d, now);
      d.events.push({ type: "rollout.resumed", payload: { by: actor } });
      return d;
    }
    case "abort": {
      if (r.status === "watching") {
        throw refuse(r, "it was promoted already; nothing to abort", "to go back, run `slipway rollback`");
      }
      const aborted = rollBack(r, { ...d, events: [] }, now, `aborted by ${actor}`);
      return {
        ...aborted,
        status: "aborted",
        events: aborted.events.map((e) => ({ ...e, type: "rollout.aborted" })),
      };
    }
  }
}

/**
 * `slipway rollback` on an active rollout: an unfinished one is stopped (traffic back to the previous
 * release) and a watching one is undone the same way, instantly, since the previous release is warm.
 */
export function rollBackActive(r: CommandTarget, actor: string, now: number): Decision {
  if (isFinal(r.status)) throw refuse(r, "it has finished");
  if (r.previous === null) {
    throw refuse(
      r,
      "it is the first release of this service here; there is nothing to go back to",
      "abort it with `slipway rollout abort`",
    );
  }
  return rollBack(r, start(r), now, `rolled back by ${actor}`);
}
