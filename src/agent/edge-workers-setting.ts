/**
 * The edge's worker count as people write it (`--edge-workers`, `SLIPWAY_EDGE_WORKERS`): a whole
 * number from 1 to 64, or `auto` (one per CPU). Anything else is refused with what was expected, so a
 * typo never silently runs one process.
 */
import { SlipwayError } from "../util/index.js";

export const MAX_EDGE_WORKERS = 64;

export function parseEdgeWorkers(text: string, where: string): number | "auto" {
  const value = text.trim();
  if (value === "auto") return "auto";
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (n >= 1 && n <= MAX_EDGE_WORKERS) return n;
  }
  throw new SlipwayError(
    "invalid_request",
    `${where}: expected a number of edge workers from 1 to ${MAX_EDGE_WORKERS}, or auto; found ${JSON.stringify(text)}`,
  );
}
