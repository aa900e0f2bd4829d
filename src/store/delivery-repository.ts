/**
 * The delivery repository: one door (`store.delivery`) onto releases, slots, rollouts and verdicts,
 * each in its own file. They share one repository because a rollout update writes several of them in
 * one transaction (its own row, its slot, the verdict that caused it).
 */
import type { RepositoryContext } from "./context.js";
import type { DeliveryRepository } from "./types.js";
import { createRelease, getRelease, listReleases } from "./releases.js";
import { startRollout, updateRollout, getRollout, listRollouts } from "./rollouts.js";
import { getSlot, listSlots, updateSlot } from "./slots.js";
import { listVerdicts } from "./verdicts.js";

/**
 * Releases, the slot each service has in each environment, and the rollouts (with their verdicts) that
 * move a slot from one release to the next. Rollouts and slots are compare-and-set on their revision;
 * every write runs in one serialized transaction with its events.
 *
 * @example
 *   await store.delivery.createRelease({ service: "web", version: "1.4.0", … });
 *   const rollout = await store.delivery.startRollout({ service: "web", env: "prod", release: "1.4.0",
 *     previous: "1.3.2", strategy: "canary", status: "progressing", state: {}, createdBy: "ana" });
 *   await store.delivery.updateRollout({ id: rollout.id, expectedRevision: rollout.revision,
 *     status: "paused", state: { step: 1 } });
 */
export function createDeliveryRepository(ctx: RepositoryContext): DeliveryRepository {
  return {
    createRelease: (input) => createRelease(ctx, input),
    getRelease: (service, version) => getRelease(ctx, service, version),
    listReleases: (service) => listReleases(ctx, service),
    getSlot: (service, env) => getSlot(ctx, service, env),
    listSlots: () => listSlots(ctx),
    updateSlot: (service, env, expectedRevision, next, events) =>
      updateSlot(ctx, service, env, expectedRevision, next, events),
    startRollout: (input, events) => startRollout(ctx, input, events),
    updateRollout: (update) => updateRollout(ctx, update),
    getRollout: (id) => getRollout(ctx, id),
    listRollouts: (query = {}) => listRollouts(ctx, query),
    listVerdicts: (rolloutId, options = {}) => listVerdicts(ctx, rolloutId, options),
  };
}
