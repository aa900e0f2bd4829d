import { sql, type Selectable, type Transaction } from "kysely";

import { SlipwayError } from "../util/index.js";
import { compareAndSet, PIPELINE_RUN_RECORD, recordNotFound } from "./compare-and-set.js";
import { readQuery, type RepositoryContext } from "./context.js";
import {
  invalid,
  isPlainObject,
  requireName,
  requireOneOf,
  requireTime,
  requireWholeNumber,
  resolveLimit,
  toJson,
  validateEvents,
  write,
} from "./repository-support.js";
import type { PipelineRunsTable, StoreDatabase } from "./schema.js";
import {
  FINAL_RUN_STATUSES,
  PIPELINE_RUN_STATUSES,
  type EventInput,
  type JsonValue,
  type PipelineRepository,
  type PipelineRun,
  type PipelineRunInput,
  type PipelineRunQuery,
  type PipelineRunStatus,
  type PipelineRunUpdate,
  type DeliveryClaim,
  type PipelineTrigger,
  type TriggerKind,
} from "./types.js";
import {
  addRepository,
  findRepository,
  listRepositories,
  removeRepository,
  requireLabel,
  sealClearWebhookSecrets,
  setHookTokenHash,
  setRepositoryHeads,
} from "./watched-repositories.js";
import {
  claimDelivery,
  deliveryReplayed,
  findDelivery,
  recordDelivery,
  validateDeliveryKey,
} from "./webhook-deliveries.js";

export const DEFAULT_RUN_LIMIT = 20;
/** A record, not a list, so the compiler notices a trigger kind added to the contract but not here. */
const TRIGGER_KIND_SET: Record<TriggerKind, true> = {
  push: true,
  schedule: true,
  manual: true,
  api: true,
  rerun: true,
  local: true,
};
const TRIGGER_KINDS = Object.keys(TRIGGER_KIND_SET) as TriggerKind[];

type Trx = Transaction<StoreDatabase>;

// ---------------------------------------------------------------------------------------------------
// Validation: everything is checked before a transaction starts, so a bad request never takes the lock.

function requireOptionalText(value: unknown, what: string): string | null {
  return value === null ? null : requireName(value, `${what} (or null)`);
}

function validateInputs(value: unknown): PipelineTrigger["inputs"] {
  if (!isPlainObject(value)) throw invalid("trigger.inputs must be an object of names to values");
  const inputs: PipelineTrigger["inputs"] = {};
  for (const [name, input] of Object.entries(value)) {
    const ok =
      typeof input === "string" ||
      typeof input === "boolean" ||
      (typeof input === "number" && Number.isFinite(input));
    if (!ok) throw invalid(`trigger.inputs.${name} must be a string, a finite number or a boolean`);
    inputs[name] = input;
  }
  return inputs;
}

/** Keeps only the contract's fields, so the stored JSON has a known shape. */
function validateTrigger(value: unknown): PipelineTrigger {
  if (!isPlainObject(value)) throw invalid("trigger must be an object");
  const raw = value as Partial<PipelineTrigger>;
  const trigger: PipelineTrigger = {
    kind: requireOneOf(raw.kind, TRIGGER_KINDS, "trigger.kind"),
    actor: requireName(raw.actor, "trigger.actor"),
    ref: requireOptionalText(raw.ref, "trigger.ref"),
    sha: requireOptionalText(raw.sha, "trigger.sha"),
    branch: requireOptionalText(raw.branch, "trigger.branch"),
    tag: requireOptionalText(raw.tag, "trigger.tag"),
    repository: requireOptionalText(raw.repository, "trigger.repository"),
    inputs: validateInputs(raw.inputs),
  };
  if (raw.deliveryId !== undefined) trigger.deliveryId = requireName(raw.deliveryId, "trigger.deliveryId");
  if (raw.scheduledAt !== undefined)
    trigger.scheduledAt = requireTime(raw.scheduledAt, "trigger.scheduledAt");
  if (raw.rerunOf !== undefined) trigger.rerunOf = requireWholeNumber(raw.rerunOf, "trigger.rerunOf", 1);
  if (raw.changedPaths !== undefined) {
    const paths: unknown = raw.changedPaths;
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === "string")) {
      throw invalid("trigger.changedPaths must be a list of paths");
    }
    trigger.changedPaths = [...paths];
  }
  return trigger;
}

interface ValidRunInput {
  input: PipelineRunInput;
  status: PipelineRunStatus;
  trigger: PipelineTrigger;
  triggerJson: string;
  /** Recorded with the run, not stored in it. */
  delivery: DeliveryClaim | undefined;
  spec: string;
  state: string;
}

function validateRunInput(input: PipelineRunInput): ValidRunInput {
  if (!isPlainObject(input)) throw invalid("a run needs { pipeline, trigger, spec, … }");
  requireLabel(input.pipeline, "pipeline");
  const trigger = validateTrigger(input.trigger);
  requireWholeNumber(input.configRevision, "configRevision", 0);
  requireOptionalText(input.concurrencyGroup, "concurrencyGroup");
  const status =
    input.status === undefined
      ? "queued"
      : requireOneOf<PipelineRunStatus>(input.status, PIPELINE_RUN_STATUSES, "status");
  const delivery =
    input.trigger.delivery === undefined
      ? undefined
      : validateDeliveryKey(input.trigger.delivery, "trigger.delivery", true);
  return {
    input,
    status,
    trigger,
    delivery,
    triggerJson: toJson(trigger, "trigger"),
    spec: toJson(input.spec, "spec"),
    state: toJson(input.state, "state"),
  };
}

interface ValidRunUpdate {
  update: PipelineRunUpdate;
  state: string;
  events: EventInput[];
}

function validateRunUpdate(update: PipelineRunUpdate): ValidRunUpdate {
  if (!isPlainObject(update)) throw invalid("an update needs { id, expectedRevision, status, state }");
  requireWholeNumber(update.id, "id", 1);
  requireWholeNumber(update.expectedRevision, "expectedRevision", 1);
  requireOneOf<PipelineRunStatus>(update.status, PIPELINE_RUN_STATUSES, "status");
  if (update.markStarted !== undefined && typeof update.markStarted !== "boolean") {
    throw invalid("markStarted must be true or false");
  }
  return { update, state: toJson(update.state, "state"), events: validateEvents(update.events) };
}

// ---------------------------------------------------------------------------------------------------
// Rows to contract types.

function rowToRun(row: Selectable<PipelineRunsTable>): PipelineRun {
  return {
    id: row.id,
    pipeline: row.pipeline,
    number: row.number,
    status: row.status as PipelineRunStatus,
    trigger: JSON.parse(row.trigger) as PipelineTrigger,
    spec: JSON.parse(row.spec) as JsonValue,
    configRevision: row.config_revision,
    concurrencyGroup: row.concurrency_group,
    state: JSON.parse(row.state) as JsonValue,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    revision: row.revision,
  };
}

// ---------------------------------------------------------------------------------------------------
// Errors.

function runNotFound(id: number): SlipwayError {
  return recordNotFound(PIPELINE_RUN_RECORD, id);
}

// ---------------------------------------------------------------------------------------------------
// Shared statements.

/** max + 1, inside the write transaction (writes are serialized, so no two transactions see the same max). */
async function nextRunId(trx: Trx): Promise<number> {
  const row = await trx
    .selectFrom("pipeline_runs")
    .select(sql<number>`coalesce(max(${sql.ref("id")}), 0) + 1`.as("next"))
    .executeTakeFirstOrThrow();
  return row.next;
}

async function nextRunNumber(trx: Trx, pipeline: string): Promise<number> {
  const row = await trx
    .selectFrom("pipeline_runs")
    .select(sql<number>`coalesce(max(${sql.ref("number")}), 0) + 1`.as("next"))
    .where("pipeline", "=", pipeline)
    .executeTakeFirstOrThrow();
  return row.next;
}

// ---------------------------------------------------------------------------------------------------
// Runs.

async function createRun(ctx: RepositoryContext, raw: PipelineRunInput): Promise<PipelineRun> {
  const { input, status, trigger, delivery, triggerJson, spec, state } = validateRunInput(raw);
  const { pipeline } = input;
  return write(ctx, `creating a run of pipeline ${pipeline}`, async ({ trx, at, recordEvents }) => {
    if (delivery !== undefined) {
      const seen = await claimDelivery(trx, at, delivery);
      if (seen !== undefined) throw deliveryReplayed(delivery, seen);
    }
    const row: Selectable<PipelineRunsTable> = {
      id: await nextRunId(trx),
      pipeline,
      number: await nextRunNumber(trx, pipeline),
      status,
      trigger: triggerJson,
      spec,
      config_revision: input.configRevision,
      concurrency_group: input.concurrencyGroup,
      state,
      created_at: at,
      started_at: null,
      // A run created in a final status (say, nothing to do) is finished at once.
      finished_at: FINAL_RUN_STATUSES.includes(status) ? at : null,
      revision: 1,
    };
    await trx.insertInto("pipeline_runs").values(row).execute();
    await recordEvents([
      {
        type: "pipeline.run.created",
        actor: trigger.actor,
        objectKind: "pipeline",
        objectName: pipeline,
        payload: {
          id: row.id,
          number: row.number,
          trigger: trigger.kind,
          actor: trigger.actor,
          ref: trigger.ref,
          sha: trigger.sha,
        },
      },
    ]);
    return rowToRun(row);
  });
}

async function getRun(ctx: RepositoryContext, id: number): Promise<PipelineRun> {
  requireWholeNumber(id, "a run id", 1);
  const row = await readQuery(ctx, () =>
    ctx.db.selectFrom("pipeline_runs").selectAll().where("id", "=", id).executeTakeFirst(),
  );
  if (row === undefined) throw runNotFound(id);
  return rowToRun(row);
}

async function listRuns(ctx: RepositoryContext, query: PipelineRunQuery): Promise<PipelineRun[]> {
  if (!isPlainObject(query)) throw invalid("a run query must be an object");
  const limit = resolveLimit(query.limit, DEFAULT_RUN_LIMIT);
  let q = ctx.db.selectFrom("pipeline_runs").selectAll();
  if (query.pipeline !== undefined) q = q.where("pipeline", "=", requireLabel(query.pipeline, "pipeline"));
  if (query.statuses !== undefined) {
    const statuses: unknown = query.statuses;
    if (!Array.isArray(statuses)) throw invalid("statuses must be a list");
    for (const status of statuses) requireOneOf(status, PIPELINE_RUN_STATUSES, "each of statuses");
    // Any of none is nothing (and `in ()` is not SQL).
    if (statuses.length === 0) return [];
    q = q.where("status", "in", statuses as PipelineRunStatus[]);
  }
  if (query.concurrencyGroup !== undefined) {
    q = q.where("concurrency_group", "=", requireName(query.concurrencyGroup, "concurrencyGroup"));
  }
  if (query.before !== undefined) q = q.where("id", "<", requireWholeNumber(query.before, "before", 1));
  const rows = await readQuery(ctx, () => q.orderBy("id", "desc").limit(limit).execute());
  return rows.map(rowToRun);
}

async function updateRun(ctx: RepositoryContext, raw: PipelineRunUpdate): Promise<PipelineRun> {
  const { update, state, events } = validateRunUpdate(raw);
  const { id, expectedRevision, status } = update;
  return write(ctx, `updating pipeline run ${id}`, async ({ trx, at, recordEvents }) => {
    const { written } = await compareAndSet(PIPELINE_RUN_RECORD, {
      id,
      expectedRevision,
      read: () => trx.selectFrom("pipeline_runs").selectAll().where("id", "=", id).executeTakeFirst(),
      update: (current, revision) => {
        const row: Selectable<PipelineRunsTable> = {
          ...current,
          status,
          state,
          started_at: update.markStarted === true && current.started_at === null ? at : current.started_at,
          // Final sets it; anything else clears it (an interrupted run that was resumed is not finished).
          finished_at: FINAL_RUN_STATUSES.includes(status) ? at : null,
          revision,
        };
        const query = trx.updateTable("pipeline_runs").set({
          status: row.status,
          state: row.state,
          started_at: row.started_at,
          finished_at: row.finished_at,
          revision: row.revision,
        });
        return { query, written: row };
      },
    });
    await recordEvents(events);
    return rowToRun(written);
  });
}

/**
 * Pipeline runs (numbered per pipeline, compare-and-set on their revision), the repositories Slipway
 * watches, and the webhook deliveries it has seen. Every write runs in one serialized transaction with
 * its events.
 *
 * @example
 *   const run = await store.pipelines.createRun({ pipeline: "ci", trigger, spec, configRevision: 4,
 *     concurrencyGroup: null, state: { jobs: {} } });
 *   await store.pipelines.updateRun({ id: run.id, expectedRevision: run.revision, status: "running",
 *     state: { jobs: { build: "running" } }, markStarted: true });
 */
export function createPipelineRepository(ctx: RepositoryContext): PipelineRepository {
  return {
    createRun: (input) => createRun(ctx, input),
    getRun: (id) => getRun(ctx, id),
    listRuns: (query = {}) => listRuns(ctx, query),
    updateRun: (update) => updateRun(ctx, update),
    addRepository: (input) => addRepository(ctx, input),
    listRepositories: () => listRepositories(ctx),
    findRepository: (idOrName) => findRepository(ctx, idOrName),
    removeRepository: (idOrName, actor) => removeRepository(ctx, idOrName, actor),
    setRepositoryHeads: (id, heads) => setRepositoryHeads(ctx, id, heads),
    setHookTokenHash: (id, hash) => setHookTokenHash(ctx, id, hash),
    sealClearWebhookSecrets: (seal) => sealClearWebhookSecrets(ctx, seal),
    findDelivery: (key) => findDelivery(ctx, key),
    recordDelivery: (claim) => recordDelivery(ctx, claim),
  };
}
