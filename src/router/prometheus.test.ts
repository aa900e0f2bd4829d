import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";

import { send, startBackend, startRouter, target } from "./test-fixtures.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("prometheus metrics", () => {
  it("exposes requests by code class and a duration histogram per release and environment", async () => {
    const b = await startBackend("b", (req, res) => {
      res.statusCode = req.url === "/fail" ? 503 : 200;
      res.end();
    });
    cleanups.push(() => b.close());
    const registry = new Registry();
    const table = {
      services: [
        {
          name: "web",
          pathPrefix: "/",
          releases: [{ name: "v1", weight: 100, targets: [target("b", b.port)] }],
        },
      ],
    };
    const production = await startRouter(table, { metrics: registry, env: "production" });
    cleanups.push(() => production.close());
    const staging = await startRouter(table, { metrics: registry, env: "staging" });
    cleanups.push(() => staging.close());
    await send(production.url);
    await send(production.url);
    await send(`${production.url}/fail`);
    await send(staging.url);

    const text = await registry.metrics();
    expect(text).toContain("# TYPE slipway_router_requests_total counter");
    expect(text).toContain(
      'slipway_router_requests_total{service="web",env="production",release="v1",code_class="2xx"} 2',
    );
    expect(text).toContain(
      'slipway_router_requests_total{service="web",env="production",release="v1",code_class="5xx"} 1',
    );
    expect(text).toContain(
      'slipway_router_requests_total{service="web",env="staging",release="v1",code_class="2xx"} 1',
    );
    expect(text).toContain("# TYPE slipway_router_request_duration_seconds histogram");
    expect(text).toContain(
      'slipway_router_request_duration_seconds_bucket{service="web",env="production",release="v1",le="+Inf"} 3',
    );
    expect(text).toContain(
      'slipway_router_request_duration_seconds_count{service="web",env="production",release="v1"} 3',
    );
    expect(text).toMatch(
      /slipway_router_request_duration_seconds_sum\{service="web",env="production",release="v1"\} [0-9.e-]+/,
    );
    const json = await registry.getMetricsAsJSON();
    expect(json.map((m) => m.name).sort()).toEqual([
      "slipway_router_request_duration_seconds",
      "slipway_router_requests_total",
    ]);

    // A stopped router's series go away with it.
    await staging.close();
    expect(await registry.metrics()).not.toContain('env="staging"');
  });
});
