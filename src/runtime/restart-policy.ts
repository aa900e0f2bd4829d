/**
 * When to restart a crashed instance and when to give up. Pure: the instance passes its crash times,
 * the clock and the random source.
 */
import type { RestartPolicy } from "./types.js";

/** 1 s, 2 s, 4 s, 8 s, 16 s: five restarts in about half a minute, then the instance is "failed". */
export const DEFAULT_RESTART_POLICY: Readonly<RestartPolicy> = Object.freeze({
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  maxRestarts: 5,
  windowMs: 60_000,
});

/** ±20 %: enough to spread instances that crashed together (a bad config, a database blip). */
const JITTER = 0.2;

export type RestartDecision =
  { kind: "restart"; delayMs: number; crashes: number[] } | { kind: "give-up"; crashes: number[] };

/**
 * Delay before restart number `attempt` (1-based): initial × 2^(attempt-1), jittered, never above the cap.
 *
 * @example
 *   backoffDelay(3, DEFAULT_RESTART_POLICY, () => 0.5); // 4000
 */
export function backoffDelay(attempt: number, policy: RestartPolicy, random: () => number): number {
  // Capping the exponent first keeps 2 ** n finite for an instance that crashed a thousand times.
  const exponent = Math.min(Math.max(attempt - 1, 0), 40);
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** exponent);
  const factor = 1 + JITTER * (2 * random() - 1);
  return Math.round(Math.min(policy.maxDelayMs, base * factor));
}

/**
 * Records a crash at `now` and decides. Crashes older than the window are forgotten, so an instance that
 * ran quietly for a window starts again at the initial delay.
 *
 * @example
 *   decideRestart([], 0, { initialDelayMs: 1000, maxDelayMs: 30000, maxRestarts: 1, windowMs: 60000 }, () => 0.5);
 *   // { kind: "restart", delayMs: 1000, crashes: [0] }
 */
export function decideRestart(
  previous: readonly number[],
  now: number,
  policy: RestartPolicy,
  random: () => number,
): RestartDecision {
  const crashes = [...previous.filter((at) => now - at < policy.windowMs), now];
  if (crashes.length > policy.maxRestarts) return { kind: "give-up", crashes };
  return { kind: "restart", delayMs: backoffDelay(crashes.length, policy, random), crashes };
}
