import { describe, expect, it } from "vitest";
import type { EnvironmentState } from "../agent/index.js";
import type { ServiceConfig } from "../config/index.js";
import type { InstancePhase, InstanceStatus } from "../runtime/index.js";
import type { Slot } from "../store/index.js";
import { desiredWorld, expiredWarm, reconcile, wantedTables, type ReconcileInput } from "./reconcile.js";

const NOW = Date.parse("2026-01-01T00:00:00Z");
// Only what reconcile reads of a service: its route and its instance count.
const web = { route: { path: "/" }, run: { instances: 1 } } as ServiceConfig;
const slot = (stable: string, warm: Slot["warm"] = []): Slot => ({
  service: "web",
  env: "prod",
  stable,
  warm,
  revision: 1,
  updatedAt: "",
});

function instance(release: string, phase: InstancePhase = "ready", port = 5000): InstanceStatus {
  return {
    id: `web.prod.${release}.1`,
    service: "web",
    env: "prod",
    release,
    pid: 1,
    port,
    phase,
    restarts: 0,
    ready: phase === "ready",
  };
}

/** The world with `web` live at `stable` in `prod`, the agent running `instances`, its router acknowledging them. */
function input(
  stable: string,
  instances: InstanceStatus[],
  routedTo: InstanceStatus[],
  more: Partial<ReconcileInput> = {},
): ReconcileInput {
  const world = {
    services: new Map([["web", web]]),
    environments: new Map([["prod", { listen: "127.0.0.1:8080" }]]),
    slots: new Map([["web/prod", slot(stable)]]),
    rollouts: new Map(),
  };
  const base: ReconcileInput = {
    desired: desiredWorld(world, NOW),
    services: world.services,
    environments: world.environments,
    instances,
    agentEnvs: [],
    starting: new Set(),
    stopping: new Set(),
    routed: false,
    ...more,
  };
  // The table the agent holds: when it matches what is wanted, that one (same key order), else the
  // old one, each routed instance's release with an equal share.
  const wanted = wantedTables({ ...base, instances: routedTo }).get("prod")?.routes;
  const sameTargets =
    wanted?.services.flatMap((sv) => sv.releases.flatMap((r) => r.targets.map((t) => t.id))).join() ===
    routedTo.map((i) => i.id).join();
  const routes =
    wanted !== undefined && sameTargets
      ? wanted
      : {
          services: [
            {
              name: "web",
              pathPrefix: "/",
              releases: routedTo.map((i) => ({
                name: i.release,
                weight: 100 / routedTo.length,
                targets: [{ id: i.id, host: "127.0.0.1", port: i.port }],
              })),
            },
          ],
        };
  const agentEnv: EnvironmentState = {
    name: "prod",
    listen: "127.0.0.1:8080",
    routes,
    address: { host: "127.0.0.1", port: 8080 },
  };
  return { ...base, agentEnvs: more.agentEnvs ?? [agentEnv] };
}

const kinds = (i: ReconcileInput) =>
  reconcile(i).map((a) =>
    a.kind === "start-instance"
      ? `start ${a.instance.id}`
      : a.kind === "stop-instance"
        ? `stop ${a.id}`
        : `routes ${a.steps.map((s) => `${s.kind} ${s.env}`).join(",")}`,
  );

const v1 = instance("v1");
const v2 = instance("v2", "ready", 5001);
const v2Old = { ...instance("v1"), port: 5000 };

describe("reconcile", () => {
  it.each<[string, ReconcileInput, string[]]>([
    ["steady state: what runs is wanted and routed, nothing to do", input("v1", [v1], [v1]), []],
    [
      "a missing instance is started, alone (the table waits for its port)",
      input("v1", [], []),
      ["start web.prod.v1.1"],
    ],
    [
      "a stopped leftover is started again",
      input("v1", [instance("v1", "stopped")], []),
      ["start web.prod.v1.1"],
    ],
    [
      "never a second start while one is in flight",
      input("v1", [], [], { starting: new Set(["web.prod.v1.1"]) }),
      [],
    ],
    [
      "no start of an instance whose stop is in flight",
      input("v1", [], [], { stopping: new Set(["web.prod.v1.1"]) }),
      [],
    ],
    ["a started instance goes into the table", input("v1", [v1], []), ["routes put prod"]],
    [
      "the table still sends to v1: put the table first, no stop yet",
      input("v2", [v2Old, v2], [v2Old, v2]),
      ["routes put prod"],
    ],
    [
      "once the table without v1 is acknowledged, v1 is stopped",
      input("v2", [v2Old, v2], [v2], { routed: true }),
      ["stop web.prod.v1.1"],
    ],
    [
      "an unwanted instance no table sends to is stopped with the put, after it",
      input("v2", [v2Old, v2], []),
      ["routes put prod", "stop web.prod.v1.1"],
    ],
    [
      "a put that failed (routed, old table still acknowledged) keeps v1 running",
      input("v2", [v2Old, v2], [v2Old, v2], { routed: true }),
      [],
    ],
    [
      "a stop in flight is not asked again",
      input("v2", [v2Old, v2], [v2], { stopping: new Set(["web.prod.v1.1"]) }),
      [],
    ],
  ])("%s", (_name, world, expected) => {
    expect(kinds(world)).toEqual(expected);
  });

  it("a router that does not listen sends nothing: its old table does not hold a stop", () => {
    const world = input("v2", [v2Old, v2], [v2Old, v2], { routed: true });
    const silent = world.agentEnvs.map((e) => ({ ...e, address: undefined }));
    expect(kinds({ ...world, agentEnvs: silent })).toEqual(["stop web.prod.v1.1"]);
  });
});

describe("expiredWarm", () => {
  it("retires warm releases past their time and keeps the others", () => {
    const warm = [
      { version: "v0", until: new Date(NOW - 1).toISOString() },
      { version: "v1", until: new Date(NOW + 1).toISOString() },
    ];
    const slots = new Map([["web/prod", slot("v2", warm)]]);
    expect(expiredWarm(slots, new Map(), NOW)).toEqual([
      { slot: slots.get("web/prod"), keep: [warm[1]], gone: [warm[0]] },
    ]);
  });
});
