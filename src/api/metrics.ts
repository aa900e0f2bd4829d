import type { FastifyInstance } from "fastify";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { droppedLogLines } from "../log/index.js";
import type { LoopStats } from "../loop/index.js";

/** Anything with a loop's counters: the rollout controller, the pipeline scheduler, the poller. */
export interface MeteredLoop {
  stats(): LoopStats;
}

/**
 * Prometheus exposition for the control plane. One registry per server instance (no global default
 * registry) so two servers in one process — as in tests — never share counters.
 */
/**
 * Figures another process keeps, appended to the exposition when scraped: the node agent's and its
 * routers' (agent `GET /v1/metrics`). A source that does not answer adds only
 * `slipway_agent_scrape_success 0`, so a dead agent never fails the control plane's scrape.
 */
export type MetricsSource = () => Promise<string>;

export function registerMetrics(
  app: FastifyInstance,
  loops: readonly MeteredLoop[] = [],
  agent?: MetricsSource,
): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "slipway_" });
  const requests = new Counter({
    name: "slipway_http_requests_total",
    help: "API requests by method, route pattern and status code.",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "slipway_http_request_duration_seconds",
    help: "API request duration by method and route pattern.",
    labelNames: ["method", "route"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  // Read when scraped: the log writer counts what it could not write (a full disk), and says so in the
  // log itself once it can write again.
  let droppedReported = 0;
  new Counter({
    name: "slipway_log_dropped_total",
    help: "Log lines dropped because the log could not be written (a full disk, an I/O error).",
    registers: [registry],
    collect() {
      const dropped = droppedLogLines(app.log);
      this.inc(dropped - droppedReported);
      droppedReported = dropped;
    },
  });

  registerLoopMetrics(registry, loops);

  app.addHook("onResponse", async (request, reply) => {
    // The route pattern, not the URL, keeps label cardinality bounded (ids stay out of labels).
    const route = request.routeOptions.url ?? "unmatched";
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  app.get("/metrics", { schema: { hide: true } }, async (request, reply) => {
    const own = await registry.metrics();
    if (agent === undefined) return reply.type(registry.contentType).send(own);
    const scraped = await agent().then(
      (text) => text,
      (err: unknown) => {
        request.log.warn({ err }, "node agent metrics unavailable");
        return undefined;
      },
    );
    const success =
      "# HELP slipway_agent_scrape_success 1 when the node agent's figures below were read.\n" +
      `# TYPE slipway_agent_scrape_success gauge\nslipway_agent_scrape_success ${scraped === undefined ? 0 : 1}\n`;
    return reply.type(registry.contentType).send(`${own}\n${success}${scraped ?? ""}`);
  });
  return registry;
}

/**
 * Ticks, failed ticks and time in ticks of the control plane's loops (src/loop), labelled by the loop's
 * name. Read from `stats()` when scraped: the loops keep the totals, the counters only show them.
 */
function registerLoopMetrics(registry: Registry, loops: readonly MeteredLoop[]): void {
  const loopCounter = (name: string, help: string, read: (stats: LoopStats) => number) =>
    new Counter({
      name,
      help,
      labelNames: ["loop"] as const,
      registers: [registry],
      collect() {
        // Totals, not increments: set each label to the loop's own count.
        this.reset();
        for (const loop of loops) {
          const stats = loop.stats();
          this.inc({ loop: stats.name }, read(stats));
        }
      },
    });
  loopCounter(
    "slipway_loop_ticks_total",
    "Ticks of each control-plane loop, failed ones included.",
    (s) => s.ticks,
  );
  loopCounter(
    "slipway_loop_tick_errors_total",
    "Ticks of each control-plane loop that failed.",
    (s) => s.errors,
  );
  loopCounter(
    "slipway_loop_tick_seconds_total",
    "Seconds spent in ticks of each control-plane loop.",
    (s) => s.tickSecondsTotal,
  );
}
