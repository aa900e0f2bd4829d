import { createRequire } from "node:module";
import type { Histogram } from "hdr-histogram-js";

// The one histogram class the router uses, not the package's index: that loads the WebAssembly build
// and the log codecs too, ~15 MB of RSS in every router process (the edge, its workers). Required, not
// imported: the file is CommonJS, and a default import of it differs between Node and vitest.
const { default: Int32Histogram } = createRequire(import.meta.url)(
  "hdr-histogram-js/dist/Int32Histogram.js",
) as typeof import("hdr-histogram-js/dist/Int32Histogram.js");

/**
 * One time slice of a release's traffic: counts, an HDR histogram of latencies (µs, 2 significant
 * digits = 1 % precision) and a reservoir of latency samples for the judge's rank tests.
 *
 * Trap: a 2-digit HDR histogram over 1 µs..1 h is ~10 KB. Buckets exist only for slices that saw
 * traffic, and fine buckets are folded into coarse ones after a minute (see release-stats.ts), so a
 * release under constant load holds ~120 of them (~2 MB), not 600.
 */
export const LATENCY_HIGHEST_US = 3_600_000_000;

/**
 * `record`'s status for a request the client left before the response was complete. ABORTED: not
 * the release's fault (it was not keeping the client waiting for long), counted apart. ABANDONED: the
 * release had held the whole request longer than the router's `abandonedAfterMs` without answering, so
 * it counts as an error (see docs/router.md, "Clients that leave").
 */
export const ABORTED = 0;
export const ABANDONED = -1;

export function createLatencyHistogram(): Histogram {
  // What hdr.build({ bitBucketSize: 32, useWebAssembly: false, ... }) makes, with its autoResize default.
  const histogram = new Int32Histogram(1, LATENCY_HIGHEST_US, 2);
  histogram.autoResize = true;
  return histogram;
}

/** A uniform sample of `seen` observations, held in `samples[0..size)`. */
export interface SampleSet {
  seen: number;
  size: number;
  samples: Float64Array;
}

export class WindowBucket implements SampleSet {
  requests = 0;
  errors = 0;
  aborted = 0;
  abandoned = 0;
  upgrades = 0;
  c2xx = 0;
  c3xx = 0;
  c4xx = 0;
  c5xx = 0;
  seen = 0;
  size = 0;
  samples: Float64Array;
  readonly histogram = createLatencyHistogram();

  constructor(
    readonly start: number,
    readonly span: number,
    capacity: number,
  ) {
    this.samples = new Float64Array(capacity);
  }

  /**
   * `status`: ABORTED, ABANDONED, 101 = upgraded, or the response's. `broken` = failed after the headers
   * went out. An aborted request is only counted in `aborted`: it says nothing about the release (its
   * time is the client's choice), so it must neither dilute the error rate nor the latencies.
   */
  record(status: number, latencyMs: number, broken: boolean, random: () => number): void {
    if (status === ABORTED) {
      this.aborted++;
      return;
    }
    this.requests++;
    if (status >= 500) {
      this.c5xx++;
      this.errors++;
    } else if (status >= 400) this.c4xx++;
    else if (status >= 300) this.c3xx++;
    else if (status >= 200) this.c2xx++;
    else if (status === 101) this.upgrades++;
    else if (status === ABANDONED) {
      this.abandoned++;
      this.errors++;
    }
    if (broken && status < 500) this.errors++;
    const us = Math.round(latencyMs * 1000);
    this.histogram.recordValue(us < 1 ? 1 : us > LATENCY_HIGHEST_US ? LATENCY_HIGHEST_US : us);
    // Algorithm R: every observation so far has the same chance to be in the reservoir.
    const seen = ++this.seen;
    if (this.size < this.samples.length) this.samples[this.size++] = latencyMs;
    else {
      const j = Math.floor(random() * seen);
      if (j < this.samples.length) this.samples[j] = latencyMs;
    }
  }

  /** Folds a finer bucket into this one (counts exact, histogram exact, samples re-drawn uniformly). */
  absorb(other: WindowBucket, random: () => number): void {
    this.requests += other.requests;
    this.errors += other.errors;
    this.aborted += other.aborted;
    this.abandoned += other.abandoned;
    this.upgrades += other.upgrades;
    this.c2xx += other.c2xx;
    this.c3xx += other.c3xx;
    this.c4xx += other.c4xx;
    this.c5xx += other.c5xx;
    this.histogram.add(other.histogram);
    const merged = mergeSamples([this, other], this.samples.length, random);
    this.seen += other.seen;
    this.samples.set(merged);
    this.size = merged.length;
  }
}

/**
 * Draws one uniform sample (≤ `limit` values) from several uniform samples of disjoint sets.
 *
 * Every part is taken at the same rate p, so each underlying observation has the same chance to be
 * in the result. p is capped by the part with the thinnest sample: taking more from well-sampled parts
 * would over-represent them (a quiet second would weigh as much as a busy one). Counts are rounded
 * stochastically so the expected size is exact.
 */
export function mergeSamples(parts: readonly SampleSet[], limit: number, random: () => number): Float64Array {
  let total = 0;
  for (const part of parts) total += part.seen;
  if (total === 0 || limit <= 0) return new Float64Array(0);
  let rate = Math.min(1, limit / total);
  for (const part of parts) if (part.seen > 0) rate = Math.min(rate, part.size / part.seen);
  const out = new Float64Array(limit);
  let n = 0;
  for (const part of parts) {
    const want = rate * part.seen;
    let take = Math.floor(want);
    if (random() < want - take) take++;
    take = Math.min(take, part.size, limit - n);
    n = drawInto(out, n, part, take, random);
  }
  return out.subarray(0, n);
}

/** Partial Fisher–Yates over a copy, so the part's own reservoir stays untouched. */
function drawInto(
  out: Float64Array,
  at: number,
  part: SampleSet,
  take: number,
  random: () => number,
): number {
  if (take <= 0) return at;
  if (take >= part.size) {
    out.set(part.samples.subarray(0, part.size), at);
    return at + part.size;
  }
  const pool = part.samples.slice(0, part.size);
  for (let i = 0; i < take; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    const picked = pool[j] ?? 0;
    pool[j] = pool[i] ?? 0;
    out[at + i] = picked;
  }
  return at + take;
}
