/**
 * The config domain's public face: slipway.yaml's schema, loading with located errors, units, freeze
 * windows, cron schedules and pipeline expressions for runtime use, the desired objects and the plan, and
 * the JSON Schema for editors.
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
export {
  INPUT_TYPES,
  type InputConfig,
  type JobConfig,
  type PipelineConfig,
  type PipelineTriggers,
} from "./schema-pipeline.js";
export {
  COVERAGE_FILES,
  COVERAGE_FORMATS,
  SHELLS,
  STEP_KINDS,
  stepKind,
  type CoverageFormat,
  type StepConfig,
  type StepKind,
} from "./schema-pipeline-step.js";
export { IDENTIFIER_PATTERN } from "./pipeline-fields.js";
export {
  ExpressionError,
  FUNCTIONS,
  STATUS_FUNCTIONS,
  evaluate,
  interpolate,
  isTruthy,
  parseCondition,
  parseExpression,
  parseTemplate,
  readsStatus,
  toText,
  visitExpression,
  type Expression,
  type ExpressionContext,
  type ExpressionValue,
  type FunctionName,
  type JobOutcome,
  type JobResult,
  type TemplatePart,
} from "./expression.js";
export { CRON_EXAMPLE, parseCron, tryParseCron, type CronSchedule } from "./cron.js";
export { loadConfigFile, parseConfig, readConfigText, type LoadedConfig } from "./load.js";
export { createConfigParser, type ConfigParser, type ConfigParserOptions } from "./config-parser.js";
export { MAX_CONFIG_BYTES, checkConfigText, decodeConfigBytes } from "./source-text.js";
export { serviceSchema } from "./schema-service.js";
export { WORST_CASES } from "./worst-cases.js";
export { readRegularFile, readRegularFileSync, type ReadFailure, type ReadResult } from "../util/index.js";
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
