/**
 * Units people write in slipway.yaml: durations, percentages, percentage points, ratios and sizes.
 *
 * The parsed config keeps the strings exactly as written (`"30s"`, `"1%"`), the way Kubernetes and Argo
 * keep `"30s"` in their objects: a plan then shows what the person typed, and a spec round-trips through
 * the store unchanged. Code that needs a number calls the parse helpers here at the point of use.
 */
import { z } from "zod";
import {
  DURATION_EXPECTED,
  DURATION_PATTERN,
  PERCENT_PATTERN,
  PERCENTAGE_POINTS_PATTERN,
  POINTS_EXPECTED,
  RATIO_EXPECTED,
  RATIO_PATTERN,
  SIZE_EXPECTED,
  SIZE_PATTERN,
  tryParseDuration,
  tryParsePercent,
  tryParsePercentagePoints,
  tryParseRatio,
  tryParseSize,
} from "../shared/index.js";

// The parsers moved to src/shared (the data plane needs them too); re-exported so importers keep working.
export {
  DURATION_EXPECTED,
  DURATION_PATTERN,
  PERCENT_PATTERN,
  PERCENTAGE_POINTS_PATTERN,
  RATIO_PATTERN,
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
} from "../shared/index.js";

// Zod helpers. Each validates with one check (so a bad value yields one issue, not two) and publishes its
// pattern to JSON Schema through metadata, so editors flag typos as the person types.

/** Messages starting with "expected" get ", found <value>" appended by the loader. */
function unitString(expected: string, pattern: string, isValid: (text: string) => boolean) {
  return z.string({ error: expected }).refine(isValid, { error: expected }).meta({ pattern });
}

export interface DurationOptions {
  /** Refuse "0s", e.g. for probe intervals where zero would mean a busy loop. */
  positive?: boolean;
}

/** A duration string, kept as written. */
export function duration(options: DurationOptions = {}) {
  const expected = options.positive
    ? DURATION_EXPECTED.replace("a duration", "a positive duration")
    : DURATION_EXPECTED;
  return unitString(expected, DURATION_PATTERN, (text) => {
    const ms = tryParseDuration(text);
    return ms !== undefined && (!options.positive || ms > 0);
  });
}

export interface PercentOptions {
  /** Inclusive bounds in percent (not fractions); default 0 and 100. */
  min?: number;
  max?: number;
}

/** A percentage string such as "1%", kept as written. */
export function percent(options: PercentOptions = {}) {
  const { min = 0, max = 100 } = options;
  return unitString(`expected a percentage from ${min}% to ${max}%`, PERCENT_PATTERN, (text) => {
    const fraction = tryParsePercent(text);
    return fraction !== undefined && fraction * 100 >= min && fraction * 100 <= max;
  });
}

/** A non-negative percentage-point change such as "+0.5pp", kept as written. */
export function percentagePoints() {
  return unitString(POINTS_EXPECTED, PERCENTAGE_POINTS_PATTERN, (text) => {
    const fraction = tryParsePercentagePoints(text);
    return fraction !== undefined && fraction >= 0 && fraction <= 1;
  });
}

/** A positive multiplier such as "x1.25", kept as written. */
export function ratio() {
  return unitString(RATIO_EXPECTED, RATIO_PATTERN, (text) => (tryParseRatio(text) ?? 0) > 0);
}

/** A size such as "10MB", kept as written. */
export function size() {
  return unitString(SIZE_EXPECTED, SIZE_PATTERN, (text) => tryParseSize(text) !== undefined);
}
