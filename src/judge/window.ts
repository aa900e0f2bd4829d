/**
 * A measured window checked and made ready for judging: latencies copied and sorted once, then shared
 * by every latency check (p50, p95, p99 and the U test all read the same sorted sample).
 */
import { SlipwayError } from "../util/index.js";
import { sortedCopy } from "./percentile.js";
import type { SampleCounts, SampleWindow } from "./types.js";

export interface PreparedWindow {
  requests: number;
  errors: number;
  /** Latency sample in milliseconds, ascending. */
  latencies: Float64Array;
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/**
 * Refuses a window no router could have measured. Callers are our own code, so these are programming
 * errors: thrown rather than judged, because a verdict built on impossible numbers would be trusted.
 */
function assertValidWindow(name: string, window: SampleWindow): void {
  const { requests, errors, latenciesMs } = window;
  const invalid = (problem: string) =>
    new SlipwayError("invalid_request", `judge: the ${name} window ${problem}`);
  if (!isCount(requests)) throw invalid(`has requests = ${requests}; expected a whole number ≥ 0`);
  if (!isCount(errors)) throw invalid(`has errors = ${errors}; expected a whole number ≥ 0`);
  if (errors > requests) throw invalid(`has ${errors} errors but only ${requests} requests`);
  if (latenciesMs.length > requests) {
    throw invalid(`has ${latenciesMs.length} latency samples but only ${requests} requests`);
  }
  if (requests > 0 && latenciesMs.length === 0) {
    throw invalid(`has ${requests} requests but no latency samples; the sample must not be empty`);
  }
}

/** Validates a window and sorts its latencies. Throws SlipwayError `invalid_request` on impossible input. */
export function prepareWindow(name: string, window: SampleWindow): PreparedWindow {
  assertValidWindow(name, window);
  const latencies = sortedCopy(window.latenciesMs);
  // After sorting, NaN (which typed-array sort puts last) and negatives (first) are at the ends.
  const lowest = latencies[0];
  const highest = latencies[latencies.length - 1];
  if ((lowest !== undefined && !(lowest >= 0)) || (highest !== undefined && !Number.isFinite(highest))) {
    const bad = lowest !== undefined && !(lowest >= 0) ? lowest : highest;
    throw new SlipwayError(
      "invalid_request",
      `judge: the ${name} window has a latency of ${bad}ms; expected finite values ≥ 0`,
    );
  }
  return { requests: window.requests, errors: window.errors, latencies };
}

export function countSamples(window: PreparedWindow): SampleCounts {
  return { requests: window.requests, errors: window.errors, latencySamples: window.latencies.length };
}
