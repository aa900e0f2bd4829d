import { describe, expect, it } from "vitest";
import type { InstancePhase, InstanceStatus } from "../runtime/index.js";
import type { Rollout, RolloutStatus, Slot } from "../store/index.js";
import { desiredReleases, instanceId, parseInstanceId, routeFor, type DesiredRelease } from "./desired.js";
import { initialState } from "./planner.js";
import type { RolloutPlanSpec, RolloutState } from "./types.js";

const T0 = 1_700_000_000_000;
const M = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

const SPEC: RolloutPlanSpec = {
  instances: 3,
  maxSurge: 1,
  maxUnavailable: 0,
  steps: [{ weight: 20, pauseMs: null }],
  analysis: null,
  watchMs: 0,
  keepWarmMs: 5 * M,
  progressDeadlineMs: 10 * M,
};

function slot(stable: string | null, warm: { version: string; until: number }[] = []): Slot {
  return {
    service: "web",
    env: "production",
    stable,
    warm: warm.map((w) => ({ version: w.version, until: iso(w.until) })),
    revision: 1,
    updatedAt: iso(T0),
  };
}

function rollout(
  status: RolloutStatus,
  state: Partial<RolloutState>,
  options: { release?: string; previous?: string | null } = {},
): Rollout {
  const base = {
    strategy: "canary" as const,
    release: options.release ?? "v2",
    previous: options.previous === undefined ? "v1" : options.previous,
  };
  const full: RolloutState = { ...initialState(base, SPEC, T0), ...state };
  return {
    ...base,
    id: 1,
    service: "web",
    env: "production",
    status,
    state: full as unknown as Rollout["state"],
    reason: null,
    createdBy: "alice",
    createdAt: iso(T0),
    updatedAt: iso(T0),
    finishedAt: null,
    revision: 1,
  };
}

function instance(release: string, index: number, phase: InstancePhase = "ready", port = 4000 + index) {
  const status: InstanceStatus = {
    id: instanceId("web", "production", release, index),
    service: "web",
    env: "production",
    release,
    pid: 100 + index,
    port,
    phase,
    restarts: 0,
    ready: phase === "ready",
  };
  return status;
}

const totalWeight = (d: readonly DesiredRelease[]) => d.reduce((sum, r) => sum + r.weight, 0);

describe("instanceId and parseInstanceId", () => {
  it("round-trips, including versions with dots", () => {
    for (const version of ["v2", "1.4.2", "2024.06.01-rc.1", "v1..2", ""]) {
      for (const index of [1, 3, 100]) {
        const id = instanceId("web", "production", version, index);
        expect(parseInstanceId(id)).toEqual({ service: "web", env: "production", version, index });
      }
    }
    expect(instanceId("web", "production", "v2.1", 3)).toBe("web.production.v2.1.3");
  });

  it("refuses ids that are not instance ids", () => {
    expect(parseInstanceId("web.production.1")).toBeUndefined();
    expect(parseInstanceId("web")).toBeUndefined();
    expect(parseInstanceId("")).toBeUndefined();
    expect(parseInstanceId("web.production.v2.x")).toBeUndefined();
    expect(parseInstanceId("web.production.v2.0")).toBeUndefined();
    expect(parseInstanceId("web.production.v2.-1")).toBeUndefined();
    expect(parseInstanceId("web.production.v2.1.5")).toEqual({
      service: "web",
      env: "production",
      version: "v2.1",
      index: 5,
    });
  });
});

describe("desiredReleases", () => {
  it("a progressing rollout runs the canary and the previous release, weights summing to 100", () => {
    for (const weight of [0, 20, 50, 100]) {
      const d = desiredReleases(
        slot("v1"),
        rollout("progressing", { weight, canaryInstances: 1, stableInstances: 3 }),
        3,
        T0,
      );
      expect(d).toEqual([
        { version: "v2", role: "canary", instances: 1, weight },
        { version: "v1", role: "previous", instances: 3, weight: 100 - weight },
      ]);
      expect(totalWeight(d)).toBe(100);
    }
  });

  it("a paused rollout decides too", () => {
    const d = desiredReleases(slot("v1"), rollout("paused", { weight: 20, canaryInstances: 1 }), 3, T0);
    expect(d.map((r) => [r.version, r.role, r.weight])).toEqual([
      ["v2", "canary", 20],
      ["v1", "previous", 80],
    ]);
  });

  it("a first release takes all traffic whatever its weight says", () => {
    const d = desiredReleases(
      slot(null),
      rollout("progressing", { weight: 0, canaryInstances: 2 }, { previous: null }),
      3,
      T0,
    );
    expect(d).toEqual([{ version: "v2", role: "canary", instances: 2, weight: 100 }]);
  });

  it("a progressing rollout keeps other unexpired warm releases at weight 0, once each", () => {
    const d = desiredReleases(
      slot("v1", [
        { version: "v0", until: T0 + M },
        { version: "v1", until: T0 + M },
      ]),
      rollout("progressing", { weight: 20, canaryInstances: 1, stableInstances: 3 }),
      3,
      T0,
    );
    expect(d.map((r) => [r.version, r.role, r.weight])).toEqual([
      ["v2", "canary", 20],
      ["v1", "previous", 80],
      ["v0", "warm", 0],
    ]);
  });

  it("with no rollout, the slot's stable takes all traffic at full size, warm ones at weight 0", () => {
    const d = desiredReleases(slot("v2", [{ version: "v1", until: T0 + 5 * M }]), undefined, 3, T0);
    expect(d).toEqual([
      { version: "v2", role: "stable", instances: 3, weight: 100 },
      { version: "v1", role: "warm", instances: 3, weight: 0 },
    ]);
    expect(totalWeight(d)).toBe(100);
  });

  it("a watching or finished rollout leaves it to the slot", () => {
    for (const status of ["watching", "succeeded", "rolled-back", "aborted", "failed"] as const) {
      const d = desiredReleases(
        slot("v2", [{ version: "v1", until: T0 + M }]),
        rollout(status, { weight: 100, canaryInstances: 3, stableInstances: 0 }),
        3,
        T0,
      );
      expect(d).toEqual([
        { version: "v2", role: "stable", instances: 3, weight: 100 },
        { version: "v1", role: "warm", instances: 3, weight: 0 },
      ]);
    }
  });

  it("drops warm releases once they expire", () => {
    const s = slot("v3", [
      { version: "v2", until: T0 + M },
      { version: "v1", until: T0 },
      { version: "v0", until: T0 - 1 },
    ]);
    expect(desiredReleases(s, undefined, 2, T0).map((r) => r.version)).toEqual(["v3", "v2"]);
    expect(desiredReleases(s, undefined, 2, T0 + M).map((r) => r.version)).toEqual(["v3"]);
  });

  it("a warm release that is also stable appears once, as stable", () => {
    const d = desiredReleases(slot("v2", [{ version: "v2", until: T0 + M }]), undefined, 2, T0);
    expect(d).toEqual([{ version: "v2", role: "stable", instances: 2, weight: 100 }]);
  });

  it("nothing runs before the first deploy", () => {
    expect(desiredReleases(undefined, undefined, 2, T0)).toEqual([]);
    expect(desiredReleases(slot(null), undefined, 2, T0)).toEqual([]);
  });
});

describe("routeFor", () => {
  const route = { path: "/" };

  it("targets the ready instances of each release, sorted by id", () => {
    const desired: DesiredRelease[] = [
      { version: "v2", role: "canary", instances: 2, weight: 30 },
      { version: "v1", role: "previous", instances: 3, weight: 70 },
    ];
    const running = [
      instance("v1", 3),
      instance("v2", 2, "ready", 5002),
      instance("v1", 1),
      instance("v2", 1, "ready", 5001),
      instance("v1", 2),
    ];
    expect(routeFor("web", route, "production", desired, running)).toEqual({
      name: "web",
      pathPrefix: "/",
      releases: [
        {
          name: "v2",
          weight: 30,
          targets: [
            { id: "web.production.v2.1", host: "127.0.0.1", port: 5001 },
            { id: "web.production.v2.2", host: "127.0.0.1", port: 5002 },
          ],
        },
        {
          name: "v1",
          weight: 70,
          targets: [1, 2, 3].map((i) => ({
            id: `web.production.v1.${i}`,
            host: "127.0.0.1",
            port: 4000 + i,
          })),
        },
      ],
    });
  });

  it("drops stopping, stopped and failed instances, keeps the others", () => {
    const desired: DesiredRelease[] = [{ version: "v1", role: "stable", instances: 8, weight: 100 }];
    const phases: InstancePhase[] = [
      "starting",
      "running",
      "ready",
      "unready",
      "backoff",
      "stopping",
      "stopped",
      "failed",
    ];
    const running = phases.map((phase, i) => instance("v1", i + 1, phase));
    const targets = routeFor("web", route, "production", desired, running)?.releases[0]?.targets;
    expect(targets?.map((t) => t.id)).toEqual([1, 2, 3, 4, 5].map((i) => `web.production.v1.${i}`));
  });

  it("drops instances above the desired count (old ones leave the table when asked to stop)", () => {
    const desired: DesiredRelease[] = [
      { version: "v2", role: "canary", instances: 2, weight: 67 },
      { version: "v1", role: "previous", instances: 1, weight: 33 },
    ];
    const running = [
      instance("v1", 1),
      instance("v1", 2),
      instance("v1", 3),
      instance("v2", 1),
      instance("v2", 2),
    ];
    const r = routeFor("web", route, "production", desired, running);
    expect(r?.releases.map((x) => [x.name, x.targets.map((t) => t.id)])).toEqual([
      ["v2", ["web.production.v2.1", "web.production.v2.2"]],
      ["v1", ["web.production.v1.1"]],
    ]);
  });

  it("ignores instances of other services, environments and releases, and unparseable ids", () => {
    const desired: DesiredRelease[] = [{ version: "v1", role: "stable", instances: 3, weight: 100 }];
    const running: InstanceStatus[] = [
      instance("v1", 1),
      { ...instance("v1", 2), service: "api", id: instanceId("api", "production", "v1", 2) },
      { ...instance("v1", 3), env: "staging", id: instanceId("web", "staging", "v1", 3) },
      instance("v9", 1),
      { ...instance("v1", 2), id: "garbage" },
    ];
    const targets = routeFor("web", route, "production", desired, running)?.releases[0]?.targets;
    expect(targets?.map((t) => t.id)).toEqual(["web.production.v1.1"]);
  });

  it("keeps a release at weight 0 (reachable by header) when another one takes traffic", () => {
    const desired: DesiredRelease[] = [
      { version: "v2", role: "stable", instances: 1, weight: 100 },
      { version: "v1", role: "warm", instances: 1, weight: 0 },
    ];
    const r = routeFor("web", route, "production", desired, [instance("v2", 1), instance("v1", 1)]);
    expect(r?.releases.map((x) => [x.name, x.weight, x.targets.length])).toEqual([
      ["v2", 100, 1],
      ["v1", 0, 1],
    ]);
  });

  it("passes the host through only when set", () => {
    const desired: DesiredRelease[] = [{ version: "v1", role: "stable", instances: 1, weight: 100 }];
    const withHost = routeFor("web", { path: "/api", host: "shop.example" }, "production", desired, []);
    expect(withHost).toEqual({
      name: "web",
      host: "shop.example",
      pathPrefix: "/api",
      releases: [{ name: "v1", weight: 100, targets: [] }],
    });
    const without = routeFor("web", { path: "/api", host: undefined }, "production", desired, []);
    expect(without).not.toHaveProperty("host");
  });

  it("is undefined when no release takes traffic", () => {
    expect(routeFor("web", route, "production", [], [instance("v1", 1)])).toBeUndefined();
    const warmOnly: DesiredRelease[] = [{ version: "v1", role: "warm", instances: 1, weight: 0 }];
    expect(routeFor("web", route, "production", warmOnly, [instance("v1", 1)])).toBeUndefined();
  });

  it("follows desiredReleases through a canary", () => {
    const desired = desiredReleases(
      slot("v1"),
      rollout("progressing", { weight: 20, canaryInstances: 1, stableInstances: 3 }),
      3,
      T0,
    );
    const running = [
      instance("v1", 1),
      instance("v1", 2),
      instance("v1", 3),
      instance("v2", 1),
      instance("v2", 2, "starting"),
    ];
    const r = routeFor("web", route, "production", desired, running);
    expect(r?.releases.map((x) => [x.name, x.weight, x.targets.length])).toEqual([
      ["v2", 20, 1],
      ["v1", 80, 3],
    ]);
  });
});
