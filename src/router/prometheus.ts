import { Counter, Histogram, type Registry } from "prom-client";

import { CODE_CLASSES, DURATION_BOUNDS, type ReleaseStatsImpl } from "./release-stats.js";

/**
 * Prometheus exposition of the router's per-release figures, computed at scrape time from counters the
 * hot path already keeps. Why not `counter.labels(...).inc()` per request: prom-client hashes and
 * validates the labels on every call (~1.6 µs per request for both metrics, measured), which is 4 %
 * of our CPU budget per proxied request.
 *
 * Trap: the histogram overrides `get`/`getForPromString`, which prom-client's Registry calls to
 * render a metric. prometheus.test.ts checks the rendered text, so an upgrade that changes this
 * contract fails a test instead of silently exporting nothing.
 */
export const REQUESTS_METRIC = "slipway_router_requests_total";
export const DURATION_METRIC = "slipway_router_request_duration_seconds";

/** One router's releases, labelled with its environment. */
export interface MetricsSource {
  readonly env: string;
  releases(): Iterable<ReleaseStatsImpl>;
}

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

class RequestsCounter extends Counter<"service" | "env" | "release" | "code_class"> {
  readonly sources = new Set<MetricsSource>();

  override async get() {
    const base = await super.get();
    const values: Sample[] = [];
    for (const source of this.sources) {
      for (const s of source.releases()) {
        CODE_CLASSES.forEach((cls, i) => {
          const value = s.classTotals[i] ?? 0;
          if (value > 0) {
            values.push({
              labels: { service: s.service, env: source.env, release: s.release, code_class: cls },
              value,
            });
          }
        });
      }
    }
    return { ...base, values };
  }
}

type HistogramData = Awaited<ReturnType<Histogram["get"]>>;
const DURATION_HELP = "Time from request to complete response (to headers for SSE and upgrades), by release.";

class DurationHistogram extends Histogram<"service" | "env" | "release"> {
  readonly sources = new Set<MetricsSource>();

  override async get() {
    return this.getForPromString();
  }

  /**
   * What the Registry renders. Not `super.get()` for the frame: the base `get` calls this method,
   * so that would recurse.
   */
  async getForPromString(): Promise<HistogramData> {
    const values: Sample[] = [];
    for (const source of this.sources) {
      for (const s of source.releases()) addRelease(values, source.env, s);
    }
    await Promise.resolve();
    // prom-client's d.ts types `type` as a numeric enum, but the Registry compares the string.
    const data = { name: DURATION_METRIC, help: DURATION_HELP, type: "histogram", values, aggregator: "sum" };
    return data as unknown as HistogramData;
  }
}

function addRelease(values: Sample[], env: string, s: ReleaseStatsImpl): void {
  const labels = { service: s.service, env, release: s.release };
  let total = 0;
  for (const count of s.durationCounts) total += count;
  if (total === 0) return;
  let below = 0;
  DURATION_BOUNDS.forEach((le, i) => {
    below += s.durationCounts[i] ?? 0;
    values.push({ labels: { ...labels, le }, value: below, metricName: `${DURATION_METRIC}_bucket` });
  });
  values.push({ labels: { ...labels, le: "+Inf" }, value: total, metricName: `${DURATION_METRIC}_bucket` });
  values.push({ labels, value: s.durationSum, metricName: `${DURATION_METRIC}_sum` });
  values.push({ labels, value: total, metricName: `${DURATION_METRIC}_count` });
}

function existing<T>(registry: Registry, name: string, kind: new (...args: never[]) => T): T | undefined {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  if (metric instanceof kind) return metric;
  throw new Error(`metric ${name} is already registered by someone else`);
}

/**
 * Adds a router to the registry's router metrics (created on first use, shared by every router —
 * one per environment — registered on the same registry). Returns the detach function for stop().
 */
export function attachRouterMetrics(registry: Registry, source: MetricsSource): () => void {
  const requests =
    existing(registry, REQUESTS_METRIC, RequestsCounter) ??
    new RequestsCounter({
      name: REQUESTS_METRIC,
      help: "Requests proxied by the router, by service, environment, release and status class.",
      labelNames: ["service", "env", "release", "code_class"],
      registers: [registry],
    });
  const duration =
    existing(registry, DURATION_METRIC, DurationHistogram) ??
    new DurationHistogram({
      name: DURATION_METRIC,
      help: DURATION_HELP,
      labelNames: ["service", "env", "release"],
      buckets: [...DURATION_BOUNDS],
      registers: [registry],
    });
  requests.sources.add(source);
  duration.sources.add(source);
  return () => {
    requests.sources.delete(source);
    duration.sources.delete(source);
  };
}
