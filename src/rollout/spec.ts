/**
 * From a service's applied config to the numbers the planner works with, once, when a rollout starts.
 */
import { parseDuration, UNTIL_PROMOTE, type ServiceConfig } from "../config/index.js";
import { resolveAnalysis } from "./analysis-spec.js";
import type { RolloutPlanSpec } from "./types.js";

/** Kubernetes' rule: a surge percentage rounds up, an unavailable percentage rounds down. */
function resolveCount(value: number | string, instances: number, round: (n: number) => number): number {
  // From the text, multiplying before dividing: 7% of 100 must be exactly 7, not 7.000000000000001.
  return typeof value === "number" ? value : round((Number(value.slice(0, -1)) * instances) / 100);
}

export function resolvePlanSpec(service: ServiceConfig): RolloutPlanSpec {
  const r = service.rollout;
  const instances = service.run.instances;
  let maxSurge = resolveCount(r.maxSurge, instances, Math.ceil);
  const maxUnavailable = Math.min(instances, resolveCount(r.maxUnavailable, instances, Math.floor));
  // 0 and 0 is refused by the schema, but a percentage can round to 0 on a small service.
  if (maxSurge === 0 && maxUnavailable === 0) maxSurge = 1;
  const analysis = r.analysis === undefined ? null : resolveAnalysis(r.analysis);
  return {
    instances,
    maxSurge,
    maxUnavailable,
    steps: (r.steps ?? []).map((step) => ({
      weight: step.weight,
      pauseMs:
        step.pause === undefined
          ? null
          : step.pause === UNTIL_PROMOTE
            ? "until-promote"
            : parseDuration(step.pause),
    })),
    analysis,
    watchMs: r.watch === undefined ? 0 : parseDuration(r.watch),
    keepWarmMs: parseDuration(r.keepWarm),
    progressDeadlineMs: parseDuration(r.progressDeadline),
  };
}
