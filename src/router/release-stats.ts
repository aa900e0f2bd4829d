import type { Histogram } from "hdr-histogram-js";

import type { ReleaseStats, StatsWindow } from "./types.js";
import { ABANDONED, ABORTED, WindowBucket, createLatencyHistogram, mergeSamples } from "./window-bucket.js";

/**
 * Two rings per release: 1 s buckets for the last minute, 10 s buckets for up to ten minutes.
 * A 1 s bucket is folded into its 10 s bucket when its ring slot is reused (≥ 60 s later), so every
 * observation lives in exactly one bucket. A window starting more than a minute ago is therefore
 * rounded out to 10 s; the judge's recent windows keep 1 s resolution.
 */
const FINE_MS = 1_000;
const FINE_SLOTS = 60;
const COARSE_MS = 10_000;
const COARSE_SLOTS = 60;
export const RETENTION_MS = COARSE_MS * COARSE_SLOTS;
const FINE_SAMPLES = 512;
const COARSE_SAMPLES = 1_024;
export const WINDOW_SAMPLES = 4_096;

/** Upper bounds (seconds) of `slipway_router_request_duration_seconds`; +Inf is implied. */
export const DURATION_BOUNDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/**
 * `code_class` label values; `aborted` = the client left before the response was complete,
 * `abandoned` = the same after the release had held the request past `abandonedAfterMs` (an error).
 */
export const CODE_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx", "aborted", "abandoned"] as const;

export class ReleaseStatsImpl implements ReleaseStats {
  inFlight = 0;
  /** Last time (now()) a request finished here; lets the router forget releases long gone. */
  lastActivity = 0;
  /** Cumulative, for Prometheus, in CODE_CLASSES order. */
  readonly classTotals = new Float64Array(CODE_CLASSES.length);
  /** Cumulative count per DURATION_BOUNDS slot (+Inf last); Prometheus' `le` sums are made at scrape. */
  readonly durationCounts = new Float64Array(DURATION_BOUNDS.length + 1);
  durationSum = 0;
  private readonly fine: (WindowBucket | undefined)[] = new Array<WindowBucket | undefined>(FINE_SLOTS);
  private readonly coarse: (WindowBucket | undefined)[] = new Array<WindowBucket | undefined>(COARSE_SLOTS);
  private scratch: Histogram | undefined;

  constructor(
    readonly service: string,
    readonly release: string,
    private readonly now: () => number,
    private readonly random: () => number,
  ) {}

  /** Hot path: one call per finished request. `status`: ABORTED, ABANDONED, 101 = upgraded, or the response's. */
  record(status: number, latencyMs: number, broken: boolean): void {
    const now = this.now();
    this.lastActivity = now;
    this.bucketAt(now).record(status, latencyMs, broken, this.random);
    const cls = codeClass(status);
    this.classTotals[cls] = (this.classTotals[cls] ?? 0) + 1;
    // An abort's time is the client's: not a duration of the release's (as in the windows).
    if (status === ABORTED) return;
    const seconds = latencyMs / 1000;
    this.durationSum += seconds;
    let i = 0;
    while (i < DURATION_BOUNDS.length && seconds > (DURATION_BOUNDS[i] ?? Infinity)) i++;
    this.durationCounts[i] = (this.durationCounts[i] ?? 0) + 1;
  }

  window(sinceMs: number): StatsWindow {
    const buckets = this.bucketsSince(sinceMs, this.now());
    const merged = (this.scratch ??= createLatencyHistogram());
    merged.reset();
    const result: StatsWindow = {
      requests: 0,
      errors: 0,
      aborted: 0,
      abandoned: 0,
      upgrades: 0,
      latenciesMs: mergeSamples(buckets, WINDOW_SAMPLES, this.random),
      statusClasses: { "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 },
      p50: NaN,
      p95: NaN,
      p99: NaN,
    };
    for (const b of buckets) {
      result.requests += b.requests;
      result.errors += b.errors;
      result.aborted += b.aborted;
      result.abandoned += b.abandoned;
      result.upgrades += b.upgrades;
      result.statusClasses["2xx"] += b.c2xx;
      result.statusClasses["3xx"] += b.c3xx;
      result.statusClasses["4xx"] += b.c4xx;
      result.statusClasses["5xx"] += b.c5xx;
      merged.add(b.histogram);
    }
    if (merged.totalCount > 0) {
      result.p50 = merged.getValueAtPercentile(50) / 1000;
      result.p95 = merged.getValueAtPercentile(95) / 1000;
      result.p99 = merged.getValueAtPercentile(99) / 1000;
    }
    return result;
  }

  private bucketAt(now: number): WindowBucket {
    const second = Math.floor(now / FINE_MS);
    const slot = second % FINE_SLOTS;
    const start = second * FINE_MS;
    const current = this.fine[slot];
    // A bucket from the future means the clock stepped back: keep counting into it rather than lose data.
    if (current !== undefined && current.start >= start) return current;
    if (current !== undefined) this.fold(current, now);
    const fresh = new WindowBucket(start, FINE_MS, FINE_SAMPLES);
    this.fine[slot] = fresh;
    return fresh;
  }

  /** Moves an expired 1 s bucket into its 10 s bucket (or drops it when older than the retention). */
  private fold(bucket: WindowBucket, now: number): void {
    const start = Math.floor(bucket.start / COARSE_MS) * COARSE_MS;
    if (start + COARSE_MS <= now - RETENTION_MS) return;
    const slot = (start / COARSE_MS) % COARSE_SLOTS;
    let coarse = this.coarse[slot];
    if (coarse === undefined || coarse.start < start) {
      coarse = new WindowBucket(start, COARSE_MS, COARSE_SAMPLES);
      this.coarse[slot] = coarse;
    } else if (coarse.start > start) return;
    coarse.absorb(bucket, this.random);
  }

  private bucketsSince(sinceMs: number, now: number): WindowBucket[] {
    const oldest = now - RETENTION_MS;
    const out: WindowBucket[] = [];
    for (const ring of [this.fine, this.coarse]) {
      for (const b of ring) {
        if (b === undefined) continue;
        const end = b.start + b.span;
        if (end > sinceMs && end > oldest) out.push(b);
      }
    }
    return out;
  }
}

/** Index in CODE_CLASSES. */
function codeClass(status: number): number {
  if (status === ABORTED) return 5;
  if (status === ABANDONED) return 6;
  return status < 200 ? 0 : Math.min(4, Math.floor(status / 100) - 1);
}
