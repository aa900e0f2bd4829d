/**
 * The health domain's public face: probes (HTTP, TCP, command), the pure tracker that turns results into
 * healthy / unhealthy, and the monitor loop that probes an instance for its whole life.
 */
export {
  createProbe,
  probeKind,
  type CancelTimer,
  type Probe,
  type ProbeAttempt,
  type ProbeKind,
  type ProbeOptions,
  type ProbeResult,
  type ProbeTarget,
} from "./probe.js";
export { HealthTracker, type HealthState, type HealthThresholds, type HealthTransition } from "./tracker.js";
export type { ProbeSpec } from "./probe-spec.js";
export { startHealthMonitor, type HealthMonitor, type HealthMonitorOptions } from "./monitor.js";
