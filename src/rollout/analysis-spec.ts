/**
 * A service's `rollout.analysis` block, from the units people write (`interval: 2s`, `max: 1%`,
 * `vsBaseline: +0.5pp`, `max: 300ms`, `vsBaseline: x1.25`) to the numbers the judge and the planner use.
 * Done once, when a rollout's spec is resolved (and when an old stored state is migrated), so nothing
 * parses units while a rollout runs. The config schema has already refused what does not parse.
 */
import { parseDuration, parsePercent, parsePercentagePoints, parseRatio } from "../config/index.js";
import type { AnalysisCheck, AnalysisConfig, Metric } from "../judge/index.js";

/** The analysis block as the config gives it: units as written. */
export interface WrittenAnalysis {
  interval: string;
  minSamples: number;
  confidence: number;
  checks: { metric: Metric; max?: string | undefined; vsBaseline?: string | undefined }[];
  onInconclusive: AnalysisConfig["onInconclusive"];
}

/** What a rollout's spec keeps: the judge's config plus how often it judges. */
export type ResolvedAnalysis = AnalysisConfig & { intervalMs: number };

export function resolveAnalysis(written: WrittenAnalysis): ResolvedAnalysis {
  return {
    intervalMs: parseDuration(written.interval),
    minSamples: written.minSamples,
    confidence: written.confidence,
    checks: written.checks.map(resolveCheck),
    onInconclusive: written.onInconclusive,
  };
}

function resolveCheck(check: WrittenAnalysis["checks"][number]): AnalysisCheck {
  const isRate = check.metric === "error-rate";
  const resolved: AnalysisCheck = { metric: check.metric };
  if (check.max !== undefined) resolved.max = isRate ? parsePercent(check.max) : parseDuration(check.max);
  if (check.vsBaseline !== undefined) {
    resolved.vsBaseline = isRate ? parsePercentagePoints(check.vsBaseline) : parseRatio(check.vsBaseline);
  }
  return resolved;
}
