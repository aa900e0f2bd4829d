/**
 * Pushes (webhooks, the local git hooks, the poller): every applied pipeline whose `on.push` matches
 * starts (GitHub Actions semantics, webhooks/filter.ts), as trigger kind `push` with actor
 * `<provider>:<pusher>`. For a local push the changed paths come from git (`git diff --name-only
 * before after`; for a new ref, the tip commit's files, complete only for a root commit). A deleted ref
 * starts nothing. A push with a delivery id is refused when seen before, and recorded with its runs.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import {
  deliveryReplayed,
  type DeliveryClaim,
  type PipelineRun,
  type PipelineTrigger,
  type Store,
  type WatchedRepository,
} from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import { appliedPipelines } from "./applied-config.js";
import type { PipelineEngine } from "./engine-types.js";
import { git, gitOrUndefined, isZeroId, pushDeliveryId } from "./trigger-git.js";
import { defaultInputs } from "./trigger-inputs.js";
import type { PushOutcome, TriggerPush } from "./trigger-types.js";
import { explainPushMatch } from "./webhooks/index.js";

export interface PushDeps {
  store: Store;
  engine: PipelineEngine;
  logger: Logger;
}

export async function startPush(
  deps: PushDeps,
  push: TriggerPush,
  repository: WatchedRepository,
): Promise<PushOutcome> {
  const delivery = await claim(deps.store, push, repository);
  const { failed, ...outcome } = await startMatching(deps, push, repository, delivery);
  if (delivery !== undefined && outcome.runs.length === 0 && !failed) {
    // Nothing started and nothing failed to: record the delivery alone, so that a replay is refused.
    // (Runs record it in their own transaction; a failure leaves it unrecorded, to be redelivered.)
    if (!(await deps.store.pipelines.recordDelivery(delivery))) await refuseReplay(deps.store, delivery);
  }
  deps.logger.info(
    {
      repository: repository.name,
      ref: push.ref,
      sha: push.sha,
      provider: push.provider,
      runs: outcome.runs.map((r) => r.id),
    },
    outcome.runs.length === 0 ? "push started no pipeline" : "push started pipeline runs",
  );
  return outcome;
}

/** The delivery this push records, after checking it is not a replay; undefined without an id. */
async function claim(
  store: Store,
  push: TriggerPush,
  repository: WatchedRepository,
): Promise<DeliveryClaim | undefined> {
  if (push.deliveryId === undefined) return undefined;
  const delivery: DeliveryClaim = {
    provider: push.provider,
    deliveryId: push.deliveryId,
    repository: repository.id,
    bodyHash: push.bodyHash ?? null,
    claim: randomUUID(),
  };
  await refuseReplay(store, delivery, false);
  return delivery;
}

/** Throws `webhook_replayed` when the delivery was seen (always, when `certain`: a write said so). */
async function refuseReplay(store: Store, delivery: DeliveryClaim, certain = true): Promise<void> {
  const seen = await store.pipelines.findDelivery(delivery);
  if (seen !== undefined) throw deliveryReplayed(delivery, seen);
  if (certain) {
    throw new SlipwayError("webhook_replayed", `delivery ${delivery.deliveryId} was processed already`);
  }
}

async function startMatching(
  deps: PushDeps,
  push: TriggerPush,
  repository: WatchedRepository,
  delivery: DeliveryClaim | undefined,
): Promise<PushOutcome & { failed: boolean }> {
  const what =
    push.tag !== undefined
      ? `tag ${push.tag}`
      : push.branch !== undefined
        ? `branch ${push.branch}`
        : push.ref;
  const none = (reason: string) => ({ runs: [], reason, skipped: [], failed: false });
  if (push.deleted) return none(`${what} was deleted; a deletion starts nothing`);
  const pipelines = (await appliedPipelines(deps.store)).filter((p) => p.spec.on?.push !== undefined);
  if (pipelines.length === 0) return none("no pipeline has an on.push trigger");
  const runs: PipelineRun[] = [];
  const skipped: PushOutcome["skipped"] = [];
  let failed = false;
  for (const { name, spec } of pipelines) {
    const match = explainPushMatch(spec.on?.push ?? {}, push);
    if (!match.matched) {
      skipped.push({ pipeline: name, reason: match.reason });
      continue;
    }
    const trigger: PipelineTrigger = {
      kind: "push",
      actor: push.provider === "poll" ? "system:poll" : `${push.provider}:${push.pusher}`,
      ref: push.ref,
      sha: push.sha,
      branch: push.branch ?? null,
      tag: push.tag ?? null,
      repository: repository.id,
      inputs: defaultInputs(spec),
      changedPaths: push.changedPaths,
      ...(delivery === undefined ? {} : { deliveryId: delivery.deliveryId, delivery }),
    };
    try {
      runs.push(await deps.engine.startRun({ pipeline: name, trigger }));
    } catch (err) {
      // A replay that won a race with this attempt, or a fault: not a reason to skip one pipeline.
      if (!(err instanceof SlipwayError) || err.code === "webhook_replayed") throw err;
      skipped.push({ pipeline: name, reason: err.message });
      failed = true;
    }
  }
  if (runs.length > 0) return { runs, skipped, failed };
  return { runs, skipped, reason: `no pipeline matches ${what}`, failed };
}

/** A local hook's ref update as a push, with the paths it changed from git. */
export async function readLocalPush(
  logger: Logger,
  repository: WatchedRepository,
  update: { before: string; after: string; ref: string },
  pusher: string,
): Promise<TriggerPush> {
  const { before, after, ref } = update;
  const deleted = isZeroId(after);
  const created = isZeroId(before);
  const push: TriggerPush = {
    provider: "local",
    deliveryId: pushDeliveryId("local", repository.id, after, ref),
    ref,
    sha: after,
    before,
    pusher,
    changedPaths: [],
    changedPathsComplete: deleted,
    deleted,
    created,
  };
  if (ref.startsWith("refs/heads/")) push.branch = ref.slice(11);
  else if (ref.startsWith("refs/tags/")) push.tag = ref.slice(10);
  if (deleted || repository.kind !== "path") return push;
  const loc = repository.location;
  try {
    if (created) {
      const files = await git(["-C", loc, "show", "--name-only", "--format=", after, "--"]);
      push.changedPaths = lines(files);
      // Complete only for a root commit; a new branch may carry more commits than its tip.
      const parents = await git(["-C", loc, "rev-list", "--parents", "-n", "1", after]);
      push.changedPathsComplete = parents.split(/\s+/).length === 1;
    } else {
      push.changedPaths = lines(await git(["-C", loc, "diff", "--name-only", before, after, "--"]));
      push.changedPathsComplete = true;
    }
    // A tag push peels to its commit (an annotated tag's object is not a commit).
    if (push.tag !== undefined) {
      push.sha =
        (await gitOrUndefined(["-C", loc, "rev-parse", "--verify", "-q", `${after}^{commit}`])) ?? after;
    }
  } catch (err) {
    logger.warn({ err, repository: repository.name, ref }, "could not list the paths a push changed");
  }
  return push;
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}
