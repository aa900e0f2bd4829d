/**
 * An instance's probes arrive as people wrote them (`interval: 5s`): that is the form of the agent's API
 * and of the agent's snapshot on disk, which an agent and a control plane of different versions must
 * both read. The supervisor resolves them here, once, when the instance is started; the health domain
 * then runs on milliseconds and never parses a unit.
 */
import { HealthTracker, probeKind, type ProbeSpec } from "../health/index.js";
import { parseDuration } from "../shared/index.js";
import { SlipwayError } from "../util/index.js";
import type { InstanceProbe, InstanceSpec } from "./types.js";

/** The probes of an instance, resolved; what the instance's health monitors run. */
export interface InstanceProbes {
  readiness?: ProbeSpec | undefined;
  liveness?: ProbeSpec | undefined;
}

/**
 * The probe with its durations in milliseconds; throws the config's message for a bad duration.
 *
 * @example
 *   resolveProbe({ http: "/healthz", interval: "5s", timeout: "2s", grace: "0s", healthyAfter: 1, unhealthyAfter: 3 });
 *   // { http: "/healthz", intervalMs: 5000, timeoutMs: 2000, graceMs: 0, healthyAfter: 1, unhealthyAfter: 3 }
 */
export function resolveProbe(probe: InstanceProbe): ProbeSpec {
  const { interval, timeout, grace, ...rest } = probe;
  return {
    ...rest,
    intervalMs: parseDuration(interval),
    timeoutMs: parseDuration(timeout),
    graceMs: parseDuration(grace),
  };
}

/**
 * Resolves and checks both probes. They arrive validated by the config schema; this re-checks what would
 * otherwise fail only after spawn, as `invalid_request` naming the probe.
 */
export function resolveProbes(spec: InstanceSpec): InstanceProbes {
  const resolved: InstanceProbes = {};
  for (const name of ["readiness", "liveness"] as const) {
    const probe = spec.health?.[name];
    if (probe === undefined) continue;
    try {
      probeKind(probe);
      const spec = resolveProbe(probe);
      new HealthTracker(spec);
      resolved[name] = spec;
    } catch (e) {
      throw new SlipwayError(
        "invalid_request",
        `health.${name}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
  return resolved;
}
