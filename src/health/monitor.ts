import { setTimeout as sleep } from "node:timers/promises";
import type { ProbeSpec } from "./probe-spec.js";
import type { Probe, ProbeResult } from "./probe.js";
import { HealthTracker, type HealthState, type HealthTransition } from "./tracker.js";

export interface HealthMonitorOptions {
  probe: Probe;
  /** intervalMs, healthyAfter, unhealthyAfter and graceMs come from here (timeoutMs is the probe's). */
  config: ProbeSpec;
  /** Called on every state change, with the result that caused it. */
  onChange: (transition: HealthTransition, result: ProbeResult) => void;
  /** Called after every attempt (metrics, debug logs). */
  onResult?: (result: ProbeResult, counted: boolean) => void;
  /** A callback threw; the loop carries on (a listener bug must not stop health checks). */
  onError?: (error: unknown) => void;
  /** Milliseconds clock for grace and pacing; defaults to `performance.now`. */
  now?: () => number;
}

export interface HealthMonitor {
  readonly state: HealthState;
  /** Ends the loop; an attempt in flight is aborted and its result ignored. Idempotent. */
  stop(): void;
  /** Settles once the loop has ended after `stop()`. */
  readonly done: Promise<void>;
}

/**
 * Probes a target for as long as it lives: every `interval` (measured start to start), forever, not only
 * until the first success. Kamal-proxy stops checking a healthy single target; a process that wedges
 * after start-up must still leave rotation here.
 *
 * `grace` follows the config contract ("start-up time during which failures are not counted"): probes
 * run from the start, so a fast starter becomes ready early, but failures inside the grace period are
 * not fed to the tracker, so a slow starter is neither marked unready nor restarted while it boots.
 * As with Docker's `start_period`, the first pass ends the grace period early: the target has started,
 * and from then on a failure is news.
 *
 * (The brief for this module said "grace delays the first check"; the config reference that users read
 * says failures are not counted. We follow the reference; for liveness both mean the same.)
 *
 * @example
 *   const monitor = startHealthMonitor({ probe, config, onChange: ({ to }) => setReady(to === "healthy") });
 *   // later
 *   monitor.stop();
 */
export function startHealthMonitor(options: HealthMonitorOptions): HealthMonitor {
  const { probe, config, onChange, onResult, onError } = options;
  const now = options.now ?? (() => performance.now());
  const { intervalMs, graceMs } = config;
  const tracker = new HealthTracker(config);
  const controller = new AbortController();
  const { signal } = controller;
  const startedAt = now();
  // A function, not `signal.aborted` inline: TypeScript narrows that to false and forgets awaits change it.
  const stopped = () => signal.aborted;
  let graceOver = false;

  async function loop(): Promise<void> {
    while (!stopped()) {
      const began = now();
      const result = await probe.check(signal);
      if (stopped()) return;
      graceOver ||= result.ok || now() - startedAt >= graceMs;
      const counted = graceOver;
      const transition = counted ? tracker.record(result.ok) : undefined;
      try {
        onResult?.(result, counted);
        if (transition !== undefined) onChange(transition, result);
      } catch (e) {
        onError?.(e);
      }
      const wait = Math.max(0, intervalMs - (now() - began));
      await sleep(wait, undefined, { signal }).catch(() => undefined);
    }
  }

  const done = loop();
  return {
    get state() {
      return tracker.state;
    },
    stop() {
      controller.abort();
    },
    done,
  };
}
