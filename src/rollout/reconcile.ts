/**
 * What the agent must do so that what runs matches what the rollouts and slots want: which instances to
 * start, which route tables to put and which instances to stop. Pure, like planner.ts: the world goes
 * in, actions come out, and the executor (reconcile-executor.ts) performs them in order and feeds what
 * they changed back in. This is where zero downtime is decided, so its rules are tested as a table
 * (reconcile.test.ts), without processes:
 *
 * - an instance is started once: not while a start or a stop of it is in flight, nor twice in a pass;
 * - route tables are put once the new instances are started (their ports go into the tables);
 * - an instance is stopped only when nothing wants it AND no listening router's acknowledged table
 *   sends it traffic: the table that leaves it out is put first, and the stop comes in the pass after
 *   the agent acknowledged it (a put that failed keeps the instance running);
 * - a world that already matches yields no action.
 */
import type { EnvironmentSpec, EnvironmentState } from "../agent/index.js";
import type { ServiceConfig } from "../config/index.js";
import type { InstanceStatus } from "../runtime/index.js";
import type { RouteTable } from "../router/index.js";
import type { Rollout, Slot } from "../store/index.js";
import { slotKey, type SlotView, type World } from "./controller-types.js";
import { desiredReleases, instanceId, routeFor, type DesiredRelease } from "./desired.js";
import { planRouters, type RouterStep } from "./routers.js";

export interface WantedInstance {
  id: string;
  service: string;
  env: string;
  version: string;
  index: number;
}

/** What should run: every wanted instance by id, and each slot's releases (by slotKey). */
export interface DesiredWorld {
  wanted: ReadonlyMap<string, WantedInstance>;
  bySlot: ReadonlyMap<string, readonly DesiredRelease[]>;
}

export interface ReconcileInput {
  desired: DesiredWorld;
  services: ReadonlyMap<string, ServiceConfig>;
  environments: ReadonlyMap<string, { listen: string }>;
  /** The instances the agent reported, with the ones started earlier in this pass. */
  instances: readonly InstanceStatus[];
  /** The agent's environments: each listener and the route table it acknowledged. */
  agentEnvs: readonly EnvironmentState[];
  /** Instances whose start is in flight, or was tried earlier in this pass (a failed one waits a tick). */
  starting: ReadonlySet<string>;
  /** Instances whose stop is in flight (a stop waits up to the instance's stop timeout). */
  stopping: ReadonlySet<string>;
  /** The route tables were put earlier in this pass: those that failed wait for the next tick. */
  routed: boolean;
}

export type ReconcileAction =
  | { kind: "start-instance"; instance: WantedInstance }
  /** Put and delete listeners in `steps`' order (routers.ts orders them so addresses are freed first). */
  | { kind: "put-routes"; steps: RouterStep[] }
  | { kind: "stop-instance"; id: string };

/** The warm releases of a slot that expired: the slot is written without them. */
export interface RetireWarm {
  slot: Slot;
  keep: Slot["warm"];
  gone: Slot["warm"];
}

/** Every (service, environment) pair's releases now, and the instances they want. */
export function desiredWorld(
  world: Pick<World, "services" | "environments" | "slots" | "rollouts">,
  now: number,
): DesiredWorld {
  const wanted = new Map<string, WantedInstance>();
  const bySlot = new Map<string, DesiredRelease[]>();
  for (const [env] of world.environments) {
    for (const [service, config] of world.services) {
      const k = slotKey(service, env);
      const desired = desiredReleases(world.slots.get(k), world.rollouts.get(k), config.run.instances, now);
      bySlot.set(k, desired);
      for (const d of desired) {
        for (let index = 1; index <= d.instances; index += 1) {
          const id = instanceId(service, env, d.version, index);
          wanted.set(id, { id, service, env, version: d.version, index });
        }
      }
    }
  }
  return { wanted, bySlot };
}

/** The route table every declared environment should have, from the instances that run now. */
export function wantedTables(input: ReconcileInput): Map<string, EnvironmentSpec> {
  const tables = new Map<string, EnvironmentSpec>();
  for (const [envName, env] of input.environments) {
    const routes: RouteTable = { services: [] };
    for (const [serviceName, service] of input.services) {
      const desired = input.desired.bySlot.get(slotKey(serviceName, envName)) ?? [];
      const entry = routeFor(serviceName, service.route, envName, desired, input.instances);
      if (entry !== undefined) routes.services.push(entry);
    }
    tables.set(envName, { listen: env.listen, routes });
  }
  return tables;
}

/**
 * The next actions, in the order they must happen. Starts come alone (the tables wait for their
 * ports); then the route puts, followed by the stops that no acknowledged table can contradict. The
 * executor calls it again after each batch with what changed, until it answers nothing.
 *
 * @example
 *   // v1 → v2 done: the agent's table still sends to v1's instance, so first the table, no stop yet.
 *   reconcile({ ..., instances: [v1, v2], agentEnvs: [tableWith(v1)], routed: false })
 *   // → [{ kind: "put-routes", … }]; once acknowledged (agentEnvs: [tableWith(v2)]): [{ kind: "stop-instance", id: v1 }]
 */
export function reconcile(input: ReconcileInput): ReconcileAction[] {
  const starts = missingInstances(input).map((instance): ReconcileAction => ({
    kind: "start-instance",
    instance,
  }));
  if (starts.length > 0) return starts;
  const actions: ReconcileAction[] = [];
  if (!input.routed) {
    const wanted = wantedTables(input);
    const steps = planRouters(input.agentEnvs, wanted);
    if (steps.length > 0) actions.push({ kind: "put-routes", steps });
  }
  for (const id of unneededInstances(input)) actions.push({ kind: "stop-instance", id });
  return actions;
}

/** Wanted instances the agent does not run (a stopped leftover of an earlier try is started again). */
function missingInstances(input: ReconcileInput): WantedInstance[] {
  const byId = new Map(input.instances.map((i) => [i.id, i]));
  return [...input.desired.wanted.values()].filter((w) => {
    const existing = byId.get(w.id);
    if (existing !== undefined && existing.phase !== "stopped") return false;
    return !input.starting.has(w.id) && !input.stopping.has(w.id);
  });
}

/** Instances nothing wants and no listening router sends traffic to, by the tables it acknowledged. */
function unneededInstances(input: ReconcileInput): string[] {
  const routed = new Set<string>();
  for (const env of input.agentEnvs) {
    if (env.address === undefined) continue;
    for (const service of env.routes.services)
      for (const release of service.releases) for (const target of release.targets) routed.add(target.id);
  }
  const out: string[] = [];
  for (const instance of input.instances) {
    if (input.desired.wanted.has(instance.id) || input.stopping.has(instance.id)) continue;
    if (routed.has(instance.id) || out.includes(instance.id)) continue;
    out.push(instance.id);
  }
  return out;
}

/** Warm releases past their time, per slot; a slot whose rollout is still deciding keeps its own. */
export function expiredWarm(
  slots: ReadonlyMap<string, Slot>,
  rollouts: ReadonlyMap<string, Rollout>,
  now: number,
): RetireWarm[] {
  const out: RetireWarm[] = [];
  for (const [k, slot] of slots) {
    const rollout = rollouts.get(k);
    if (rollout !== undefined && rollout.status !== "watching") continue;
    const keep = slot.warm.filter((w) => Date.parse(w.until) > now);
    if (keep.length === slot.warm.length) continue;
    out.push({ slot, keep, gone: slot.warm.filter((w) => !keep.includes(w)) });
  }
  return out;
}

/** What `status` shows per slot: each desired release with its instances as they run now. */
export function slotViews(
  desired: DesiredWorld,
  slots: ReadonlyMap<string, Slot>,
  instances: readonly InstanceStatus[],
): Map<string, SlotView> {
  const views = new Map<string, SlotView>();
  for (const [k, releases] of desired.bySlot) {
    const [service = "", env = ""] = k.split("/");
    if (releases.length === 0 && slots.get(k) === undefined) continue;
    views.set(k, {
      service,
      env,
      stable: slots.get(k)?.stable ?? null,
      releases: releases.map((d) => {
        const mine = instances.filter(
          (i) => i.service === service && i.env === env && i.release === d.version,
        );
        return { ...d, ready: mine.filter((i) => i.ready).length, running: mine };
      }),
    });
  }
  return views;
}
