/**
 * The config domain's public face: slipway.yaml's schema, loading with located errors, units and freeze
 * windows for runtime use, the desired objects and the plan, and the JSON Schema for editors.
 * Other domains import from here only.
 */
export {
  configSchema,
  NOT_YET_SUPPORTED,
  type EnvironmentConfig,
  type ProbeConfig,
  type RolloutConfig,
  type ServiceConfig,
  type SlipwayConfig,
  type SlipwayConfigInput,
} from "./schema.js";
export { METRICS, ON_INCONCLUSIVE, PAUSE_PATTERN, STRATEGIES, UNTIL_PROMOTE } from "./schema-rollout.js";
export { loadConfigFile, parseConfig, type LoadedConfig } from "./load.js";
export { formatIssues, type FormatIssuesOptions } from "./issues.js";
export { ENV_VAR_PATTERN, LABEL_PATTERN, LISTEN_PATTERN, parseListenAddress } from "./names.js";
export {
  DURATION_PATTERN,
  PERCENT_PATTERN,
  PERCENTAGE_POINTS_PATTERN,
  RATIO_PATTERN,
  SIZE_PATTERN,
  duration,
  formatDuration,
  parseDuration,
  parsePercent,
  parsePercentagePoints,
  parseRatio,
  parseSize,
  percent,
  percentagePoints,
  ratio,
  size,
  type DurationOptions,
  type PercentOptions,
} from "./units.js";
export {
  freezeWindow,
  isFrozen,
  isTimeZone,
  parseFreezeWindow,
  type FreezeStatus,
  type FreezeWindow,
} from "./freeze.js";
export {
  computePlan,
  desiredObjects,
  renderPlan,
  toChangeInputs,
  type DesiredObject,
  type FieldChange,
  type ObjectChange,
  type Plan,
  type PlanSummary,
  type RenderPlanOptions,
} from "./plan.js";
export { CONFIG_SCHEMA_ID, configJsonSchema, type JsonSchema } from "./json-schema.js";
