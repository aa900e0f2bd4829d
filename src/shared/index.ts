/**
 * What both planes need and neither owns: problem documents, names and listen addresses, and the unit
 * parsers. The data plane (agent, router, runtime, health, judge) imports these from here so that a node
 * agent never loads the control plane (config loader, store, API server); the control plane's domains
 * re-export them so their importers did not change. Keep it small and free of heavy dependencies.
 */
export { problemStatus, toProblem, type Problem } from "./problem.js";
export { HOST_NAME_PATTERN, LABEL_PATTERN, isHostName, isLabel, parseListenAddress } from "./names.js";
export {
  DURATION_EXPECTED,
  DURATION_PATTERN,
  PERCENT_EXPECTED,
  PERCENT_PATTERN,
  PERCENTAGE_POINTS_PATTERN,
  POINTS_EXPECTED,
  RATIO_EXPECTED,
  RATIO_PATTERN,
  SIZE_EXPECTED,
  SIZE_PATTERN,
  formatDuration,
  parseDuration,
  parsePercent,
  parsePercentagePoints,
  parseRatio,
  parseSize,
  tryParseDuration,
  tryParsePercent,
  tryParsePercentagePoints,
  tryParseRatio,
  tryParseSize,
} from "./units.js";
