/**
 * Merging what several router processes saw (the edge's primary and its workers, which share one
 * listener: the kernel spreads connections among them) into one window for the judge, and one
 * Prometheus text for the scrape. Pure, with the randomness passed in, so table tests pin it down.
 *
 * Counts add up exactly. Latency samples: each process's sample is uniform over its own requests, so a
 * uniform sample of all requests takes from each process at one common rate (a share proportional to
 * its request count), capped by the process sampled most thinly; percentiles are then read from that
 * merged sample. Trap: a single router's p50/p95/p99 come from its HDR histogram over every request;
 * the merged ones come from the sample (≤ 4096 values), as the router does not export its histogram.
 */
import type { EdgeStatsJson } from "./types.js";

/** As a router window caps its sample. */
export const MERGED_SAMPLES = 4_096;

/** One process's window, as it answered. */
export type WindowPart = Omit<EdgeStatsJson, "byProcess" | "partial" | "partialWorkers">;

export function emptyWindow(): WindowPart {
  return {
    requests: 0,
    errors: 0,
    aborted: 0,
    upgrades: 0,
    latenciesMs: [],
    statusClasses: { "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 },
    p50: null,
    p95: null,
    p99: null,
  };
}

/**
 * @example
 *   mergeWindows([primaryWindow, workerWindow], createSeededRandom(1)) // counts summed, one sample
 */
export function mergeWindows(
  parts: readonly WindowPart[],
  random: () => number,
  limit = MERGED_SAMPLES,
): WindowPart {
  // One process with traffic (the others idle): its own window, percentiles from its full histogram.
  const busy = parts.filter((p) => p.requests > 0 || p.aborted > 0);
  if (busy.length <= 1) return busy[0] ?? parts[0] ?? emptyWindow();
  const out = emptyWindow();
  for (const p of parts) {
    out.requests += p.requests;
    out.errors += p.errors;
    out.aborted += p.aborted;
    out.upgrades += p.upgrades;
    for (const cls of ["2xx", "3xx", "4xx", "5xx"] as const) out.statusClasses[cls] += p.statusClasses[cls];
  }
  out.latenciesMs = mergeSamples(parts, random, limit);
  const sorted = Float64Array.from(out.latenciesMs).sort();
  out.p50 = percentile(sorted, 50);
  out.p95 = percentile(sorted, 95);
  out.p99 = percentile(sorted, 99);
  return out;
}

/** How many values to take from each part: one rate for all, stochastically rounded (exact on average). */
export function sampleShares(
  parts: readonly { requests: number; size: number }[],
  random: () => number,
  limit: number,
): number[] {
  let total = 0;
  for (const p of parts) total += p.requests;
  if (total === 0 || limit <= 0) return parts.map(() => 0);
  let rate = Math.min(1, limit / total);
  // A part sampled more thinly than the rate caps it: taking more from the others would over-weigh them.
  for (const p of parts) if (p.requests > 0) rate = Math.min(rate, p.size / p.requests);
  let left = limit;
  return parts.map((p) => {
    const want = rate * p.requests;
    let take = Math.floor(want);
    if (random() < want - take) take++;
    take = Math.max(0, Math.min(take, p.size, left));
    left -= take;
    return take;
  });
}

function mergeSamples(parts: readonly WindowPart[], random: () => number, limit: number): number[] {
  const shares = sampleShares(
    parts.map((p) => ({ requests: p.requests, size: p.latenciesMs.length })),
    random,
    limit,
  );
  const out: number[] = [];
  parts.forEach((p, i) => {
    const take = shares[i] ?? 0;
    // Partial Fisher–Yates over a copy: `take` distinct values, uniformly.
    const pool = p.latenciesMs.slice();
    for (let k = 0; k < take; k++) {
      const j = k + Math.floor(random() * (pool.length - k));
      const picked = pool[j] ?? 0;
      pool[j] = pool[k] ?? 0;
      out.push(picked);
    }
  });
  return out;
}

/** Nearest rank over sorted values; null when there are none. */
export function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? null;
}

/**
 * Sums Prometheus text from several processes per metric line (name and label set): the counters and
 * histogram series of the routers are cumulative per process, so the node's figure is their sum. The
 * comment lines (HELP, TYPE) of the first text that has a family are kept, in first-seen order.
 */
export function mergeMetricsText(texts: readonly string[]): string {
  if (texts.length === 1 && texts[0] !== undefined) return texts[0];
  const order: string[] = [];
  const comments = new Map<string, string[]>();
  const sums = new Map<string, number>();
  const seriesOf = new Map<string, string[]>();
  let family = "";
  for (const text of texts) {
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const comment = /^# (?:HELP|TYPE) (\S+)/.exec(line);
      if (comment !== null) {
        family = comment[1] ?? "";
        if (!comments.has(family)) {
          comments.set(family, []);
          seriesOf.set(family, []);
          order.push(family);
        }
        const lines = comments.get(family);
        if (lines !== undefined && !lines.includes(line)) lines.push(line);
        continue;
      }
      if (line.startsWith("#")) continue;
      const cut = line.lastIndexOf(" ");
      const series = line.slice(0, cut);
      const value = Number(line.slice(cut + 1));
      if (!sums.has(series)) {
        if (!seriesOf.has(family)) {
          seriesOf.set(family, []);
          comments.set(family, []);
          order.push(family);
        }
        seriesOf.get(family)?.push(series);
      }
      sums.set(series, (sums.get(series) ?? 0) + value);
    }
  }
  const out: string[] = [];
  for (const name of order) {
    out.push(...(comments.get(name) ?? []));
    for (const series of seriesOf.get(name) ?? []) out.push(`${series} ${sums.get(series) ?? 0}`);
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}
