/**
 * What the agent is asked to run for one instance of a release: the release's command, environment
 * variables (secrets filled in from the control plane's values) and health probes, in the release's
 * artifact directory. Pure, so what reaches the agent is read in one place.
 */
import type { InstanceSpecInput } from "../agent/index.js";
import { parseDuration, type ServiceConfig } from "../config/index.js";
import type { Release } from "../store/index.js";
import type { WantedInstance } from "./reconcile.js";

export function instanceSpecFor(
  instance: WantedInstance,
  release: Release,
  config: ServiceConfig,
  secret: (name: string) => string | undefined,
): InstanceSpecInput {
  const envVars: Record<string, string> = { ...(config.run.env ?? {}) };
  for (const name of config.run.secrets ?? []) {
    const value = secret(name);
    if (value !== undefined) envVars[name] = value;
  }
  const health = config.health;
  return {
    id: instance.id,
    service: instance.service,
    env: instance.env,
    release: instance.version,
    command: config.run.command,
    cwd: release.artifactDir,
    envVars,
    stopTimeoutMs: parseDuration(config.run.stopTimeout),
    ...(health === undefined
      ? {}
      : {
          health: {
            ...(health.readiness === undefined ? {} : { readiness: health.readiness }),
            ...(health.liveness === undefined ? {} : { liveness: health.liveness }),
          },
        }),
  };
}
