/**
 * What the controller reads before it decides: the store's view (applied services and environments,
 * slots, active rollouts), and per rollout what the agent tells about its releases (instances, crash
 * loops with their last log lines, traffic windows). Reading only: nothing here changes the world.
 */
import type { AgentClient, AgentState, StatsWindowJson } from "../agent/index.js";
import type { ServiceConfig } from "../config/index.js";
import type { SampleWindow } from "../judge/index.js";
import type { InstanceStatus } from "../runtime/index.js";
import type { Rollout, Store } from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import { decodeStored, EnvironmentRouterCodec, ReleaseConfigCodec } from "./codecs.js";
import { slotKey, type World } from "./controller-types.js";
import { parseInstanceId } from "./desired.js";
import type { ReleaseObservation } from "./types.js";

/** Restarts of a canary's instance after which the rollout treats it as failed. */
const CRASH_LOOP_RESTARTS = 3;

/** The world of one tick, around the agent's state already read. */
export async function readWorld(store: Store, agentState: AgentState): Promise<World> {
  const [objects, slots, active] = await Promise.all([
    store.config.listObjects(),
    store.delivery.listSlots(),
    store.delivery.listRollouts({ active: true, limit: 1000 }),
  ]);
  const services = new Map<string, ServiceConfig>();
  const environments = new Map<string, { listen: string }>();
  for (const o of objects) {
    if (o.kind === "service") {
      services.set(o.name, decodeStored(ReleaseConfigCodec, o.spec, `service ${o.name}`));
    }
    if (o.kind === "environment") {
      const spec = EnvironmentRouterCodec.decode(o.spec, `environment ${o.name}`);
      environments.set(o.name, { listen: spec.router.listen });
    }
  }
  return {
    agentState,
    services,
    environments,
    slots: new Map(slots.map((s) => [slotKey(s.service, s.env), s])),
    rollouts: new Map(active.map((r) => [slotKey(r.service, r.env), r])),
  };
}

/** One release's instances in one environment, as the planner counts them. */
export function observeRelease(
  instances: readonly InstanceStatus[],
  service: string,
  env: string,
  release: string,
): ReleaseObservation {
  const mine = instances.filter(
    (i) =>
      i.service === service && i.env === env && i.release === release && parseInstanceId(i.id) !== undefined,
  );
  return {
    ready: mine.filter((i) => i.ready).length,
    total: mine.filter((i) => i.phase !== "stopped" && i.phase !== "failed").length,
    failed: mine
      .filter((i) => i.phase === "failed")
      .map((i) => ({ id: i.id, message: i.message ?? i.reason ?? "failed" })),
  };
}

/**
 * A canary's instance that keeps crashing counts as failed for the rollout long before the
 * runtime gives up on it (its backoff can take half a minute): users should not wait on a release
 * that cannot start. The reason carries the instance's last log lines.
 */
export async function crashLooping(
  client: () => Promise<AgentClient>,
  instances: readonly InstanceStatus[],
  rollout: Rollout,
): Promise<ReleaseObservation["failed"]> {
  const out: ReleaseObservation["failed"] = [];
  for (const i of instances) {
    if (i.service !== rollout.service || i.env !== rollout.env || i.release !== rollout.release) continue;
    if (i.phase !== "backoff" || i.restarts < CRASH_LOOP_RESTARTS) continue;
    let tail: string[] = [];
    try {
      tail = await (await client()).logs(i.id, { tail: 5 });
    } catch {
      // The reason is still clear without the lines.
    }
    out.push({
      id: i.id,
      message:
        `restarted ${i.restarts} times without becoming ready (${i.message ?? i.reason ?? "exited"})` +
        (tail.length === 0 ? "" : `\nlast ${tail.length} log lines:\n${tail.join("\n")}`),
    });
  }
  return out;
}

/** One release's traffic since `since`, as the router counted it; nothing served yet is an empty window. */
/** A release's window as the agent measured it; `partial` says why it may miss requests (edge workers). */
export type TrafficWindow = SampleWindow & { partial?: string };

export async function trafficWindow(
  client: AgentClient,
  env: string,
  service: string,
  release: string,
  since: number,
): Promise<TrafficWindow> {
  let w: StatsWindowJson;
  try {
    w = await client.stats(env, service, release, { sinceMs: since });
  } catch (err) {
    if (err instanceof SlipwayError && err.code === "not_found")
      return { requests: 0, errors: 0, latenciesMs: [] };
    throw err;
  }
  // The router decides who is to blame for a client that left: `errors` already holds the requests
  // a release kept waiting past its threshold (`abandoned`), so a hanging canary cannot pass an
  // error-rate check, while `aborted` (clients that left early) is no error: no client can make one.
  const window = { requests: w.requests, errors: w.errors, latenciesMs: w.latenciesMs };
  if (w.partial !== true) return window;
  const why = (w.partialWorkers ?? []).map((p) =>
    p.reason === "restarted"
      ? `router worker ${p.index} restarted`
      : `router worker ${p.index} did not answer`,
  );
  return { ...window, partial: why.length > 0 ? why.join(", ") : "a router worker's figures are missing" };
}

/**
 * The latest disruption of the data plane at or after `since`, if any: the node agent restarted (its
 * `startedAt` is later), the edge holding the router listeners restarted or was upgraded (its
 * statistics start anew), or the controller could not reach the agent (`lostAt`, the last failed read). A
 * traffic window that spans one is the infrastructure's, not the release's, and is set aside
 * (planner.ts `setAside`).
 */
export function disruptionSince(
  agentState: AgentState,
  lostAt: number | undefined,
  since: number,
): { at: number; what: string } | undefined {
  const found: { at: number; what: string }[] = [];
  const started = Date.parse(agentState.agent.startedAt);
  if (Number.isFinite(started) && started >= since)
    found.push({ at: started, what: "the node agent restarted" });
  const edgeStarted = Date.parse(agentState.edge?.startedAt ?? "");
  if (Number.isFinite(edgeStarted) && edgeStarted >= since) {
    // A new edge (respawned, or upgraded by handover) starts its statistics from nothing.
    found.push({ at: edgeStarted, what: "the edge (router process) restarted" });
  }
  if (lostAt !== undefined && lostAt >= since)
    found.push({ at: lostAt, what: "the node agent could not be reached" });
  return found.sort((a, b) => b.at - a.at)[0];
}

/**
 * Why a window just read is not the release's to answer for, if it is not: a disruption since its start
 * ({@link disruptionSince}), or figures the edge could not gather whole (a router worker did not answer,
 * or was restarted within it).
 */
export function windowDisruption(
  agentState: AgentState,
  lostAt: number | undefined,
  since: number,
  now: number,
  windows: readonly (TrafficWindow | null)[],
): { at: number; what: string } | undefined {
  const partial = windows.find((w) => w?.partial !== undefined)?.partial;
  return (
    disruptionSince(agentState, lostAt, since) ??
    (partial === undefined ? undefined : { at: now, what: partial })
  );
}
