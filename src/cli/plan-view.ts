import { renderPlan, type Plan } from "../config/index.js";
import type { Output } from "./output.js";

/** Response of POST /api/v1/config/plan. */
export interface PlanResponse {
  baseRevision: number;
  sourceHash: string;
  plan: Plan;
}

/** A plan saved with `plan --out`, applied later with `apply FILE` exactly as it was reviewed. */
export interface SavedPlan {
  kind: "slipway-plan";
  version: 1;
  file: string;
  source: string;
  sourceHash: string;
  gitCommit?: string | undefined;
  baseRevision: number;
  plan: Plan;
}

export function printPlan(output: Output, response: PlanResponse): void {
  output.out(output.c.dim(`Planned against config revision ${response.baseRevision}.`));
  output.out(renderPlan(response.plan, { color: output.color }));
}

export function hasChanges(plan: Plan): boolean {
  return plan.changes.length > 0;
}
