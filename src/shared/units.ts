/**
 * Parsers for the units people write in slipway.yaml (durations, percentages, percentage points, ratios,
 * sizes). They live here, outside the config domain, because both planes need them: the control plane
 * checks and resolves a config, and the data plane (probes, the judge, the runtime's messages) turns the
 * strings it is given into numbers without loading the config loader, its YAML parser or its schemas.
 * `src/config` re-exports all of this; the zod helpers that publish the patterns stay there.
 */
import { SlipwayError } from "../util/index.js";

const MS_PER_UNIT = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type DurationUnit = keyof typeof MS_PER_UNIT;
/** Largest first; a duration must list its parts in this order, each at most once. */
const DURATION_UNITS: readonly DurationUnit[] = ["d", "h", "m", "s", "ms"];

/** Structural shape only (for JSON Schema); unit order is checked by {@link parseDuration}. */
export const DURATION_PATTERN = "^(?:\\d+(?:\\.\\d+)?(?:ms|s|m|h|d))+$";
export const PERCENT_PATTERN = "^\\d+(?:\\.\\d+)?%$";
export const PERCENTAGE_POINTS_PATTERN = "^\\+?\\d+(?:\\.\\d+)?pp$";
export const RATIO_PATTERN = "^x\\d+(?:\\.\\d+)?$";
export const SIZE_PATTERN = "^\\d+(?:\\.\\d+)?(?:B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$";

export const DURATION_EXPECTED = "expected a duration such as 500ms, 30s, 5m, 1h30m";
export const PERCENT_EXPECTED = "expected a percentage such as 1% or 0.5%";
export const POINTS_EXPECTED = "expected a change in percentage points such as +0.5pp";
export const RATIO_EXPECTED = "expected a ratio such as x1.25";
export const SIZE_EXPECTED = "expected a size such as 512KiB, 10MB, 1GiB";

const SIZE_FACTORS: Readonly<Record<string, number>> = {
  B: 1,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
};

function invalid(expected: string, found: string): SlipwayError {
  return new SlipwayError("invalid_config", `${expected}; found ${JSON.stringify(found)}`);
}

/** Milliseconds, or undefined when `text` is not a duration. */
export function tryParseDuration(text: string): number | undefined {
  if (!new RegExp(DURATION_PATTERN).test(text)) return undefined;
  let total = 0;
  let nextUnit = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
    const index = DURATION_UNITS.indexOf(unit as DurationUnit);
    // "30s5m" or "5m5m" are almost certainly typos; refuse rather than guess.
    if (index < nextUnit) return undefined;
    nextUnit = index + 1;
    total += Number(amount) * MS_PER_UNIT[unit as DurationUnit];
  }
  return Number.isSafeInteger(Math.round(total)) ? Math.round(total) : undefined;
}

/**
 * Parses a duration into milliseconds.
 *
 * @example
 *   parseDuration("1h30m"); // 5_400_000
 *   parseDuration("500ms"); // 500
 *   parseDuration("5 minutes"); // throws: expected a duration such as 500ms, 30s, 5m, 1h30m; found "5 minutes"
 */
export function parseDuration(text: string): number {
  const ms = tryParseDuration(text);
  if (ms === undefined) throw invalid(DURATION_EXPECTED, text);
  return ms;
}

/**
 * Formats milliseconds the way people write them; `parseDuration(formatDuration(ms)) === ms` for whole ms.
 *
 * @example
 *   formatDuration(5_400_000); // "1h30m"
 *   formatDuration(0); // "0s"
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`cannot format ${ms} as a duration`);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  let rest = Math.round(ms);
  if (rest === 0) return "0s";
  let out = "";
  for (const unit of DURATION_UNITS) {
    const amount = Math.floor(rest / MS_PER_UNIT[unit]);
    if (amount > 0) out += `${amount}${unit}`;
    rest -= amount * MS_PER_UNIT[unit];
  }
  return out;
}

/** A fraction (1% → 0.01), or undefined when `text` is not a percentage. */
export function tryParsePercent(text: string): number | undefined {
  return new RegExp(PERCENT_PATTERN).test(text) ? Number(text.slice(0, -1)) / 100 : undefined;
}

/**
 * Parses a percentage into a fraction.
 *
 * @example
 *   parsePercent("1%"); // 0.01
 *   parsePercent("0.5%"); // 0.005
 */
export function parsePercent(text: string): number {
  const fraction = tryParsePercent(text);
  if (fraction === undefined) throw invalid(PERCENT_EXPECTED, text);
  return fraction;
}

/** A fraction (+0.5pp → 0.005), or undefined when `text` is not a percentage-point change. */
export function tryParsePercentagePoints(text: string): number | undefined {
  const match = /^([+-]?)(\d+(?:\.\d+)?)pp$/.exec(text);
  if (!match) return undefined;
  const points = Number(match[2]) / 100;
  return match[1] === "-" ? -points : points;
}

/**
 * Parses an absolute change in percentage points into a fraction of the whole. An error rate of 1% with
 * `+0.5pp` allowed may reach 1.5%, not 1.005%.
 *
 * @example
 *   parsePercentagePoints("+0.5pp"); // 0.005
 */
export function parsePercentagePoints(text: string): number {
  const fraction = tryParsePercentagePoints(text);
  if (fraction === undefined) throw invalid(POINTS_EXPECTED, text);
  return fraction;
}

export function tryParseRatio(text: string): number | undefined {
  return new RegExp(RATIO_PATTERN).test(text) ? Number(text.slice(1)) : undefined;
}

/**
 * Parses a multiplier written with a leading `x`.
 *
 * @example
 *   parseRatio("x1.25"); // 1.25
 */
export function parseRatio(text: string): number {
  const ratio = tryParseRatio(text);
  if (ratio === undefined) throw invalid(RATIO_EXPECTED, text);
  return ratio;
}

export function tryParseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([A-Za-z]+)$/.exec(text);
  const factor = match ? SIZE_FACTORS[match[2] ?? ""] : undefined;
  if (!match || factor === undefined) return undefined;
  return Math.round(Number(match[1]) * factor);
}

/**
 * Parses a size into bytes; `kB`/`MB`/`GB`/`TB` are powers of 1000, `KiB`/`MiB`/`GiB`/`TiB` of 1024.
 *
 * @example
 *   parseSize("10MB"); // 10_000_000
 *   parseSize("512KiB"); // 524_288
 */
export function parseSize(text: string): number {
  const bytes = tryParseSize(text);
  if (bytes === undefined) throw invalid(SIZE_EXPECTED, text);
  return bytes;
}
