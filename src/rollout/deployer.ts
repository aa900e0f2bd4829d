/**
 * The pipeline's deploy steps, served by the rollout side of the control plane: create the release and
 * start its rollout, follow it until it is promoted or rolled back, abort it when the step is cancelled.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Deployer } from "../pipeline/index.js";
import type { Store } from "../store/index.js";
import type { DeliveryService } from "./delivery-service.js";
import { decodeStored, RolloutStateCodec } from "./codecs.js";

const POLL_MS = 250;

export function createDeployer(store: Store, service: DeliveryService): Deployer {
  return {
    async deploy(input) {
      const { rollout } = await service.deploy(
        {
          service: input.service,
          env: input.env,
          version: input.version,
          artifact: input.artifact,
          ...(input.commit === null ? {} : { commit: input.commit }),
        },
        input.actor,
      );
      return { rolloutId: rollout.id, release: rollout.release };
    },
    async wait(rolloutId, signal, progress) {
      let last = "";
      for (;;) {
        const r = await store.delivery.getRollout(rolloutId);
        const s = decodeStored(RolloutStateCodec, r.state, `rollout ${r.id}`);
        const line = `${r.status} · ${s.phase}${s.step >= 0 && s.spec.steps.length > 0 ? ` · step ${Math.min(s.step + 1, s.spec.steps.length)}/${s.spec.steps.length}` : ""} · ${s.weight}% to ${r.release}${s.lastVerdict === undefined ? "" : ` · last verdict ${s.lastVerdict.result}`}`;
        if (line !== last) {
          progress(line);
          last = line;
        }
        if (r.status !== "progressing" && r.status !== "paused")
          return { status: r.status, reason: r.reason };
        if (signal.aborted) return { status: r.status, reason: "stopped waiting" };
        await sleep(POLL_MS, undefined, { signal }).catch(() => undefined);
      }
    },
    async abort(serviceName, env, actor) {
      await service.command(serviceName, env, "abort", actor);
    },
    async buildArtifact(serviceName) {
      const objects = await store.config.listObjects();
      const found = objects.find((o) => o.kind === "service" && o.name === serviceName);
      return (found?.spec as { build?: { artifact?: string } } | undefined)?.build?.artifact;
    },
    async envUrl(env) {
      const objects = await store.config.listObjects();
      const found = objects.find((o) => o.kind === "environment" && o.name === env);
      const listen = (found?.spec as { router?: { listen?: string } } | undefined)?.router?.listen;
      return listen === undefined ? undefined : `http://${listen}`;
    },
  };
}
