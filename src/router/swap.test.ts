import { afterEach, describe, expect, it } from "vitest";

import { SlipwayError } from "../util/index.js";
import { type Backend, send, sendMany, startBackend, startRouter, target } from "./test-fixtures.js";
import type { RouteTable } from "./types.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function backend(name: string): Promise<Backend> {
  const b = await startBackend(name);
  cleanups.push(() => b.close());
  return b;
}

function table(...releases: { name: string; weight: number; backends: Backend[] }[]): RouteTable {
  return {
    services: [
      {
        name: "web",
        pathPrefix: "/",
        releases: releases.map((r) => ({
          name: r.name,
          weight: r.weight,
          targets: r.backends.map((b) => target(b.name, b.port)),
        })),
      },
    ],
  };
}

describe("setRoutes under load", () => {
  it("loses no request across 20 swaps that move traffic between targets and releases", async () => {
    const [a, b, c] = await Promise.all([backend("a"), backend("b"), backend("c")]);
    const tables = [
      table({ name: "v1", weight: 100, backends: [a] }),
      table({ name: "v1", weight: 50, backends: [a] }, { name: "v2", weight: 50, backends: [b] }),
      table({ name: "v2", weight: 100, backends: [b, c] }),
      table({ name: "v2", weight: 10, backends: [c] }, { name: "v3", weight: 90, backends: [a] }),
    ];
    const r = await startRouter(tables[0]);
    cleanups.push(() => r.close());
    // Swap every 25 requests served, so the 20 swaps are spread over the whole run.
    const served = () => a.seen.length + b.seen.length + c.seen.length;
    let swaps = 0;
    let done = false;
    const load = sendMany(r.url, 500, 8).finally(() => (done = true));
    while (!done) {
      if (served() >= (swaps + 1) * 25 && swaps < 20) {
        swaps++;
        r.router.setRoutes(tables[swaps % tables.length]!);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const statuses = await load;
    expect(swaps).toBeGreaterThanOrEqual(19);
    expect(statuses.length).toBe(500);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });
});

describe("setRoutes validation", () => {
  const bad: [string, unknown, string][] = [
    [
      "weights not summing to 100",
      { services: [svc([rel("v1", 60), rel("v2", 30)])] },
      "services[0].releases",
    ],
    [
      "a negative weight",
      { services: [svc([rel("v1", 110), rel("v2", -10)])] },
      "services[0].releases[0].weight",
    ],
    [
      "duplicate release names",
      { services: [svc([rel("v1", 50), rel("v1", 50)])] },
      "services[0].releases[1].name",
    ],
    [
      "port 0",
      { services: [svc([{ name: "v1", weight: 100, targets: [{ id: "t", host: "127.0.0.1", port: 0 }] }])] },
      "services[0].releases[0].targets[0].port",
    ],
    [
      "a path without a leading slash",
      { services: [{ ...svc([rel("v1", 100)]), pathPrefix: "api" }] },
      "services[0].pathPrefix",
    ],
    [
      "a release name unfit for a cookie",
      { services: [svc([rel("v 1", 100)])] },
      "services[0].releases[0].name",
    ],
    [
      "two services on the same host and path",
      { services: [svc([rel("v1", 100)]), { ...svc([rel("v1", 100)]), name: "other" }] },
      "services[1].pathPrefix",
    ],
    [
      "an override header the router owns",
      { services: [], overrideHeader: "X-Forwarded-For" },
      "overrideHeader",
    ],
  ];

  it.each(bad)(
    "refuses %s, names the field, and keeps serving the old table",
    async (_what, input, field) => {
      const a = await backend("a");
      const r = await startRouter(table({ name: "v1", weight: 100, backends: [a] }));
      cleanups.push(() => r.close());
      let error: unknown;
      try {
        r.router.setRoutes(input as RouteTable);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SlipwayError);
      expect((error as SlipwayError).code).toBe("invalid_request");
      expect((error as SlipwayError).message).toContain(`${field}:`);
      expect((await send(r.url)).json().backend).toBe("a");
    },
  );

  it("accepts a release with no targets", async () => {
    const r = await startRouter({ services: [svc([rel("v1", 100)])] });
    cleanups.push(() => r.close());
    expect((await send(r.url)).status).toBe(503);
  });
});

function rel(name: string, weight: number) {
  return { name, weight, targets: [] as { id: string; host: string; port: number }[] };
}

function svc(releases: ReturnType<typeof rel>[]) {
  return { name: "web", pathPrefix: "/", releases };
}
