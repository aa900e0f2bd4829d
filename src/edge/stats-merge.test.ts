import { describe, expect, it } from "vitest";
import { createSeededRandom } from "../router/index.js";
import {
  emptyWindow,
  mergeMetricsText,
  mergeWindows,
  percentile,
  sampleShares,
  type WindowPart,
} from "./stats-merge.js";
import { parseWorkerCount } from "./workers.js";

function part(requests: number, samples: number[], extra: Partial<WindowPart> = {}): WindowPart {
  return {
    ...emptyWindow(),
    requests,
    latenciesMs: samples,
    statusClasses: { "2xx": requests, "3xx": 0, "4xx": 0, "5xx": 0 },
    ...extra,
  };
}

const range = (n: number, value: number) => Array.from({ length: n }, () => value);

describe("mergeWindows", () => {
  it("sums every count exactly", () => {
    const a = part(10, range(10, 1), {
      errors: 2,
      aborted: 1,
      upgrades: 3,
      statusClasses: { "2xx": 5, "3xx": 1, "4xx": 2, "5xx": 2 },
    });
    const b = part(7, range(7, 2), {
      errors: 1,
      aborted: 4,
      upgrades: 0,
      statusClasses: { "2xx": 6, "3xx": 0, "4xx": 0, "5xx": 1 },
    });
    const merged = mergeWindows([a, b, emptyWindow()], createSeededRandom(1));
    expect(merged).toMatchObject({
      requests: 17,
      errors: 3,
      aborted: 5,
      upgrades: 3,
      statusClasses: { "2xx": 11, "3xx": 1, "4xx": 2, "5xx": 3 },
    });
    // Under the limit, every sample of both is kept.
    expect(merged.latenciesMs).toHaveLength(17);
  });

  it("takes from each process a share proportional to its requests", () => {
    // A: 30,000 requests sampled 4096 times (value 1); B: 10,000 requests sampled 4096 times (value 2).
    const merged = mergeWindows(
      [part(30_000, range(4096, 1)), part(10_000, range(4096, 2))],
      createSeededRandom(7),
    );
    expect(merged.latenciesMs).toHaveLength(4096);
    const fromA = merged.latenciesMs.filter((v) => v === 1).length;
    expect(fromA).toBe(3072); // 4096 · 3/4: the rounding is exact here
  });

  it("is deterministic with a seed", () => {
    const parts = [
      part(
        5000,
        range(4096, 0).map((_, i) => i),
      ),
      part(
        3000,
        range(3000, 0).map((_, i) => -i),
      ),
    ];
    const one = mergeWindows(parts, createSeededRandom(42));
    const two = mergeWindows(parts, createSeededRandom(42));
    expect(one).toEqual(two);
  });

  it("reads percentiles from the merged sample, null when empty", () => {
    const merged = mergeWindows(
      [
        part(
          50,
          range(50, 0).map((_, i) => i + 1),
        ),
        part(
          50,
          range(50, 0).map((_, i) => i + 51),
        ),
      ],
      createSeededRandom(3),
    );
    expect(merged).toMatchObject({ p50: 50, p95: 95, p99: 99 });
    expect(mergeWindows([emptyWindow(), emptyWindow()], createSeededRandom(1))).toMatchObject({
      requests: 0,
      p50: null,
      p95: null,
      p99: null,
    });
  });

  it("returns the one busy process's window unchanged (its percentiles come from the full histogram)", () => {
    const only = part(3, [1, 2, 3], { p50: 2.05, p95: 3.01, p99: 3.01 });
    expect(mergeWindows([only], createSeededRandom(1))).toBe(only);
    expect(mergeWindows([emptyWindow(), only, emptyWindow()], createSeededRandom(1))).toBe(only);
  });
});

describe("sampleShares", () => {
  const cases: [string, { requests: number; size: number }[], number, number[]][] = [
    [
      "all under the limit",
      [
        { requests: 3, size: 3 },
        { requests: 4, size: 4 },
      ],
      10,
      [3, 4],
    ],
    [
      "proportional over the limit",
      [
        { requests: 300, size: 100 },
        { requests: 100, size: 100 },
      ],
      100,
      [75, 25],
    ],
    [
      "capped by the thinnest sample",
      [
        { requests: 1000, size: 10 },
        { requests: 100, size: 100 },
      ],
      500,
      [10, 1],
    ],
    ["nothing seen", [{ requests: 0, size: 0 }], 10, [0]],
  ];
  it.each(cases)("%s", (_name, parts, limit, expected) => {
    // A random that never rounds up: the floors are the expected values.
    expect(sampleShares(parts, () => 0.999999, limit)).toEqual(expected);
  });
});

describe("percentile", () => {
  it.each([
    [[], 50, null],
    [[5], 99, 5],
    [[1, 2, 3, 4], 50, 2],
    [[1, 2, 3, 4], 95, 4],
  ] as [number[], number, number | null][])("%j p%d = %s", (values, p, expected) => {
    expect(percentile(Float64Array.from(values), p)).toBe(expected);
  });
});

describe("mergeMetricsText", () => {
  it("sums each series across processes and keeps one HELP and TYPE per family", () => {
    const a = [
      "# HELP slipway_router_requests_total Requests.",
      "# TYPE slipway_router_requests_total counter",
      'slipway_router_requests_total{service="web",env="p",release="v1",code_class="2xx"} 10',
      "",
    ].join("\n");
    const b = [
      "# HELP slipway_router_requests_total Requests.",
      "# TYPE slipway_router_requests_total counter",
      'slipway_router_requests_total{service="web",env="p",release="v1",code_class="2xx"} 5',
      'slipway_router_requests_total{service="web",env="p",release="v1",code_class="5xx"} 1',
      "",
    ].join("\n");
    expect(mergeMetricsText([a, b])).toBe(
      [
        "# HELP slipway_router_requests_total Requests.",
        "# TYPE slipway_router_requests_total counter",
        'slipway_router_requests_total{service="web",env="p",release="v1",code_class="2xx"} 15',
        'slipway_router_requests_total{service="web",env="p",release="v1",code_class="5xx"} 1',
        "",
      ].join("\n"),
    );
  });
});

describe("parseWorkerCount (--workers)", () => {
  it.each([
    ["1", 2, 1],
    ["3", 2, 3],
    ["auto", 2, 2],
    ["auto", 0, 1],
    ["0", 2, undefined],
    ["-1", 2, undefined],
    ["two", 2, undefined],
    ["1.5", 2, undefined],
    ["65", 2, undefined],
  ] as [string, number, number | undefined][])("%s with %d CPUs → %s", (value, cpus, expected) => {
    expect(parseWorkerCount(value, cpus)).toBe(expected);
  });
});
