/**
 * Which instance phases are final: the supervisor's waiters resolve on them, so a waiter never hangs
 * on an instance that will not change again.
 */
import type { InstanceStatus } from "./types.js";

export function isFinalPhase(phase: InstanceStatus["phase"]): boolean {
  switch (phase) {
    case "stopped":
    case "failed":
      return true;
    case "starting":
    case "running":
    case "ready":
    case "unready":
    case "backoff":
    case "stopping":
      return false;
    default: {
      const unreachable: never = phase;
      throw new Error(`unknown phase ${String(unreachable)}`);
    }
  }
}
