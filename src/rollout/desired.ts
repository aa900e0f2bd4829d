/**
 * What should run for one service in one environment right now, and the route table that sends it
 * traffic. Pure: the controller feeds it the slot, the active rollout and the instances the agent
 * reports, and makes the agent match the answer.
 */
import type { InstanceStatus } from "../runtime/index.js";
import type { RouteService } from "../router/index.js";
import type { Rollout, Slot } from "../store/index.js";
import { decodeStored, RolloutStateCodec } from "./codecs.js";

export type ReleaseRole = "stable" | "canary" | "previous" | "warm";

export interface DesiredRelease {
  version: string;
  role: ReleaseRole;
  instances: number;
  weight: number;
}

/** `web.production.v2.1`: service and environment names have no dots; the index is last. */
export function instanceId(service: string, env: string, version: string, index: number): string {
  return `${service}.${env}.${version}.${index}`;
}

export function parseInstanceId(
  id: string,
): { service: string; env: string; version: string; index: number } | undefined {
  const parts = id.split(".");
  if (parts.length < 4) return undefined;
  const index = Number(parts.at(-1));
  const [service, env] = parts;
  if (service === undefined || env === undefined || !Number.isInteger(index) || index < 1) return undefined;
  return { service, env, version: parts.slice(2, -1).join("."), index };
}

/**
 * - A progressing or paused rollout decides: the canary at its weight and instance count, the
 *   stable release with the rest.
 * - Otherwise (no rollout, or one that is watching) the slot decides: the stable release with all
 *   traffic at `instances`, warm releases at weight 0 until they expire.
 */
export function desiredReleases(
  slot: Slot | undefined,
  rollout: Rollout | undefined,
  instances: number,
  now: number,
): DesiredRelease[] {
  const out: DesiredRelease[] = [];
  const add = (d: DesiredRelease) => {
    if (!out.some((o) => o.version === d.version)) out.push(d);
  };
  if (rollout !== undefined && (rollout.status === "progressing" || rollout.status === "paused")) {
    const state = decodeStored(RolloutStateCodec, rollout.state, `rollout ${rollout.id}`);
    add({
      version: rollout.release,
      role: "canary",
      instances: state.canaryInstances,
      weight: rollout.previous === null ? 100 : state.weight,
    });
    if (rollout.previous !== null) {
      add({
        version: rollout.previous,
        role: "previous",
        instances: state.stableInstances,
        weight: 100 - state.weight,
      });
    }
  } else if (slot?.stable != null) {
    add({ version: slot.stable, role: "stable", instances, weight: 100 });
  }
  for (const warm of slot?.warm ?? []) {
    if (Date.parse(warm.until) > now) add({ version: warm.version, role: "warm", instances, weight: 0 });
  }
  return out;
}

/** The router's entry for one service; undefined when nothing takes traffic. */
export function routeFor(
  service: string,
  route: { path: string; host?: string | undefined },
  env: string,
  desired: readonly DesiredRelease[],
  running: readonly InstanceStatus[],
): RouteService | undefined {
  if (!desired.some((d) => d.weight > 0)) return undefined;
  return {
    name: service,
    pathPrefix: route.path,
    ...(route.host === undefined ? {} : { host: route.host }),
    releases: desired.map((d) => ({
      name: d.version,
      weight: d.weight,
      targets: running
        .filter((i) => {
          const parsed = parseInstanceId(i.id);
          return (
            parsed !== undefined &&
            i.service === service &&
            i.env === env &&
            i.release === d.version &&
            parsed.index <= d.instances &&
            i.phase !== "stopping" &&
            i.phase !== "stopped" &&
            i.phase !== "failed"
          );
        })
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .map((i) => ({ id: i.id, host: "127.0.0.1", port: i.port })),
    })),
  };
}
