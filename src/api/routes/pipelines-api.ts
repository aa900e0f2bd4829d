/**
 * What the pipeline routes need from the control plane, and the one way they ask for it: a bare
 * `buildApi` (tests, the OpenAPI generator) has no pipeline engine, and its routes then answer 502
 * `not_configured` instead of failing on an undefined.
 */
import type { PipelineEngine } from "../../pipeline/index.js";
import type { Triggers } from "../../pipeline/index.js";
import { SlipwayError } from "../../util/index.js";

export interface PipelinesApi {
  engine: PipelineEngine;
  triggers: Triggers;
}

/** The engine and triggers, or the 502 `not_configured` that says this control plane runs none. */
export function needPipelines(pipelines: PipelinesApi | undefined): PipelinesApi {
  if (pipelines === undefined) {
    throw new SlipwayError("not_configured", "this control plane runs no pipeline engine", {
      hint: "start the control plane with `slipway server` or `slipway up`",
    });
  }
  return pipelines;
}
