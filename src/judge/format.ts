/**
 * Numbers as a verdict's messages show them. Messages are for people; the exact values sit beside them
 * in the verdict's fields, so three significant digits are enough here.
 */

function significant(value: number, digits = 3): string {
  return String(Number(value.toPrecision(digits)));
}

/** 0.0123 → "1.23%". */
export function formatRate(fraction: number): string {
  return `${significant(fraction * 100)}%`;
}

/** 0.005 → "+0.5pp". */
export function formatPoints(fraction: number): string {
  return `+${significant(fraction * 100)}pp`;
}

/** 123.456 → "123ms"; 0.0421 → "0.0421ms". */
export function formatMs(ms: number): string {
  return `${significant(ms)}ms`;
}

/** 1.25 → "x1.25". */
export function formatRatio(ratio: number): string {
  return `x${significant(ratio, 4)}`;
}

/** A p-value with its name: "p = 0.26", "p = 0.0031", "p = 1.5e-35", "p < 1e-300" (below doubles' range). */
export function formatP(p: number): string {
  if (p === 0) return "p < 1e-300";
  return `p = ${p < 1e-4 ? p.toExponential(1) : significant(p, 2)}`;
}

/** Thousands separated, as people read request counts: 12345 → "12,345". */
export function formatCount(count: number): string {
  return count.toLocaleString("en-US");
}
