import { describe, expect, it } from "vitest";

import { createSeededRandom } from "../util/index.js";
import { ReleaseStatsImpl } from "./release-stats.js";
import { EMPTY_TABLE, compileRouteTable, validateRouteTable } from "./route-table.js";
import { hostnameOf, nextTargetIndex, pickRelease, stickyRelease, weightedRelease } from "./routing.js";
import type { RouteTable } from "./types.js";
import type { Upstream } from "./upstreams.js";

/** Compiles a table with stand-in upstreams: routing decisions need no sockets. */
function compile(table: RouteTable) {
  const upstreams = new Map<string, Upstream>();
  return compileRouteTable(validateRouteTable(table), {
    upstream: (host, port) => {
      const key = `${host}:${port}`;
      const u = upstreams.get(key) ?? ({ key, host, port, downUntil: 0 } as unknown as Upstream);
      upstreams.set(key, u);
      return u;
    },
    stats: (s, r) => new ReleaseStatsImpl(s, r, () => 0, Math.random),
    previous: EMPTY_TABLE,
  });
}

const t = (id: string, port: number) => ({ id, host: "127.0.0.1", port });
const table = compile({
  services: [
    {
      name: "web",
      pathPrefix: "/",
      releases: [
        { name: "v1", weight: 90, targets: [t("a", 1), t("b", 2), t("c", 3)] },
        { name: "v2", weight: 10, targets: [t("d", 4)] },
        { name: "v3", weight: 0, targets: [t("e", 5)] },
      ],
    },
  ],
});
const web = table.anyHost[0]!;

describe("routing decisions", () => {
  it("draws releases by weight and never a weight-0 one", () => {
    const random = createSeededRandom(11);
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const r = weightedRelease(web, random);
      counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
    }
    expect(counts.get("v3")).toBeUndefined();
    // σ = sqrt(10000 · 0.1 · 0.9) = 30
    expect(Math.abs((counts.get("v2") ?? 0) - 1_000)).toBeLessThan(120);
  });

  it("reads the sticky cookie among others, at cookie boundaries only", () => {
    const find = (header: string) => stickyRelease(web, header, "slipway_release=")?.name;
    expect(find("a=1; slipway_release=v2; b=2")).toBe("v2");
    expect(find("slipway_release=v1")).toBe("v1");
    expect(find("xslipway_release=v2")).toBeUndefined();
    expect(find("slipway_release=v22")).toBeUndefined();
    // Two cookies of that name (one per service path): the first naming a release of this service wins.
    expect(find("slipway_release=api-v7; slipway_release=v2")).toBe("v2");
  });

  it("pins only when the service is split, and lets the header override any weight", () => {
    const random = createSeededRandom(5);
    const choice = { override: undefined, cookie: undefined, setCookie: undefined as string | undefined };
    pickRelease(web, table, random, choice);
    expect(choice.setCookie).toMatch(/^slipway_release=v[12]; Path=\//);
    const forced = { override: "v3", cookie: "slipway_release=v1", setCookie: undefined };
    expect(pickRelease(web, table, random, forced)?.name).toBe("v3");
    expect(forced.setCookie).toBeUndefined();
    expect(
      pickRelease(web, table, random, { override: "nope", cookie: undefined, setCookie: undefined }),
    ).toBeUndefined();
  });

  it("round-robins targets and skips one that just refused a connection", () => {
    const v1 = web.releases[0]!;
    expect([0, 1, 2, 3].map(() => nextTargetIndex(v1, 0))).toEqual([0, 1, 2, 0]);
    v1.targets[1]!.upstream.downUntil = 1_000;
    const picks = Array.from({ length: 6 }, () => nextTargetIndex(v1, 500));
    expect(picks).not.toContain(1);
    expect(nextTargetIndex(web.releases[1]!, 0)).toBe(0);
  });

  it("compares hosts without port and case", () => {
    expect(hostnameOf("Example.COM:8080")).toBe("example.com");
    expect(hostnameOf("[::1]:80")).toBe("[::1]");
    expect(hostnameOf("plain")).toBe("plain");
  });
});
