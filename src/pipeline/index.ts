/**
 * The pipeline domain's public face: other domains (server, api, cli, rollout, bench) import only this.
 * The engine runs pipeline runs (engine.ts, run-executor.ts, job-plan.ts); the triggers start them
 * (triggers.ts); a run's state and spec are stored through the codecs (codecs.ts).
 */
export { createPipelineEngine } from "./engine.js";
export type {
  EngineOptions,
  PipelineEngine,
  RunLogLine,
  RunLogQuery,
  StartRunInput,
} from "./engine-types.js";
export {
  createTriggers,
  defaultInputs,
  refFields,
  validateInputs,
  POLL_INTERVAL_MS,
  type ManualRunInput,
  type PushOutcome,
  type ScheduleView,
  type TriggerPush,
  type Triggers,
  type TriggersOptions,
} from "./triggers.js";
export { PipelineSpecCodec, RunStateCodec } from "./codecs.js";
export { initialState, personOf } from "./run-state.js";
export type { Deployer } from "./steps.js";
export type { PipelineSpec } from "./spec.js";
export {
  FINAL_WORK,
  WORK_STATUSES,
  type JobState,
  type RunState,
  type StepState,
  type WorkStatus,
} from "./types.js";
export { describeWorkingTree } from "./workspace.js";
export { HOOK_HEADER, LEGACY_HOOK_HEADER } from "./hook-script.js";
export { hookTokenMatches } from "./repositories.js";
export { deliveryIdentity, parsePush, verifyWebhook, type WebhookHeaders } from "./webhooks/index.js";
