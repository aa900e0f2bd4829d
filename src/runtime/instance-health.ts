/**
 * The probes of one running process: readiness decides whether it is in rotation, liveness whether it
 * is restarted. Both run from spawn until exit (a new pair for every restart, starting from "unknown").
 */
import type { ProbeSpec } from "../health/index.js";
import { createProbe, startHealthMonitor, type HealthMonitor, type ProbeTarget } from "../health/index.js";

export interface InstanceHealthOptions {
  readiness?: ProbeSpec | undefined;
  liveness?: ProbeSpec | undefined;
  target: ProbeTarget;
  /** Readiness changed: `ready` false means out of rotation. */
  onReadiness: (ready: boolean, detail: string) => void;
  /** Liveness went unhealthy: the process should be restarted. */
  onLivenessFailed: (detail: string) => void;
  onError: (error: unknown) => void;
}

export interface InstanceHealth {
  stop(): void;
}

export function startInstanceHealth(options: InstanceHealthOptions): InstanceHealth {
  const monitors: HealthMonitor[] = [];
  const { readiness, liveness, target, onError } = options;
  if (readiness !== undefined) {
    monitors.push(
      startHealthMonitor({
        probe: createProbe(readiness, target),
        config: readiness,
        onError,
        onChange: ({ to, streak }, result) => {
          if (to === "healthy") options.onReadiness(true, result.detail);
          if (to === "unhealthy") {
            options.onReadiness(false, `readiness probe failed ${streak} times in a row: ${result.detail}`);
          }
        },
      }),
    );
  }
  if (liveness !== undefined) {
    monitors.push(
      startHealthMonitor({
        probe: createProbe(liveness, target),
        config: liveness,
        onError,
        onChange: ({ to, streak }, result) => {
          if (to === "unhealthy") {
            options.onLivenessFailed(`liveness probe failed ${streak} times in a row: ${result.detail}`);
          }
        },
      }),
    );
  }
  return {
    stop() {
      for (const monitor of monitors) monitor.stop();
    },
  };
}
