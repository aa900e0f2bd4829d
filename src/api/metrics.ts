import type { FastifyInstance } from "fastify";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { droppedLogLines } from "../log/index.js";

/**
 * Prometheus exposition for the control plane. One registry per server instance (no global default
 * registry) so two servers in one process — as in tests — never share counters.
 */
export function registerMetrics(app: FastifyInstance): Registry {
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

  app.addHook("onResponse", async (request, reply) => {
    // The route pattern, not the URL, keeps label cardinality bounded (ids stay out of labels).
    const route = request.routeOptions.url ?? "unmatched";
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });
  return registry;
}
