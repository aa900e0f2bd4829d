/** Small shared helpers for the coverage parsers: counts, errors that name the file. */
import { SlipwayError } from "../../util/index.js";
import type { CoverageCount } from "./types.js";

/**
 * A count with its percentage. Multiplying before dividing keeps whole percentages exact
 * (29 / 50 · 100 is 57.99999999999999 in floating point; 29 · 100 / 50 is 58).
 */
export function coverageCount(covered: number, total: number): CoverageCount {
  return { covered, total, pct: total === 0 ? 100 : (covered * 100) / total };
}

/** The error every malformed report raises: code invalid_request, the file named first. */
export function reportError(file: string, message: string, details?: Record<string, unknown>): SlipwayError {
  return new SlipwayError("invalid_request", `${file}: ${message}`, { details: { file, ...details } });
}

/** A whole number ≥ 0 written in decimal, or undefined. */
export function parseCount(text: string | undefined): number | undefined {
  if (text === undefined || !/^\s*\d+\s*$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}
