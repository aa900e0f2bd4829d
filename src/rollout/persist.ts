/**
 * Writing a rollout decision: the rollout's new status, state, verdict and events in one
 * compare-and-set write. The controller writes before it acts, so what the agent is made to do is
 * always what the store recorded; a command (service.ts) writes the same way.
 */
import type { Logger } from "pino";
import type { Rollout, Store } from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import { RolloutStateCodec, toStored, VerdictCodec } from "./codecs.js";
import type { Decision } from "./types.js";

const STOPPING_EVENTS = new Set(["rollout.rolled-back", "rollout.aborted", "rollout.failed"]);

/** Writes `decision` over `rollout`; undefined when another writer moved it first (the caller re-reads). */
export async function persistDecision(
  store: Store,
  logger: Logger,
  rollout: Rollout,
  decision: Decision,
  actor: string,
): Promise<Rollout | undefined> {
  const d = decision;
  const where = `rollout ${rollout.id}`;
  try {
    const written = await store.delivery.updateRollout({
      id: rollout.id,
      expectedRevision: rollout.revision,
      status: d.status,
      state: toStored(RolloutStateCodec, d.state, where),
      reason: d.reason ?? rollout.reason,
      ...(d.slot === undefined ? {} : { slot: d.slot }),
      ...(d.verdict === undefined
        ? {}
        : {
            verdict: {
              step: d.verdict.step,
              phase: d.verdict.phase,
              result: d.verdict.verdict.result,
              windowStart: new Date(d.verdict.windowStart).toISOString(),
              windowEnd: new Date(d.verdict.windowEnd).toISOString(),
              verdict: toStored(VerdictCodec, d.verdict.verdict, `${where}'s verdict`),
            },
          }),
      events: d.events.map((e) => ({
        type: e.type,
        actor,
        objectKind: "service",
        objectName: rollout.service,
        payload: { id: rollout.id, env: rollout.env, release: rollout.release, ...e.payload },
      })),
    });
    if (d.events.some((e) => STOPPING_EVENTS.has(e.type))) {
      logger.warn(
        { rollout: rollout.id, service: rollout.service, env: rollout.env, reason: d.reason },
        "rollout stopped",
      );
    }
    return written;
  } catch (err) {
    if (err instanceof SlipwayError && (err.code === "stale_write" || err.code === "rollout_in_progress"))
      return undefined;
    throw err;
  }
}
