import { randomBytes } from "node:crypto";
import { isAbsolute } from "node:path";

import { sql, type Selectable, type Transaction } from "kysely";

import { SlipwayError } from "../util/errors.js";
import { readQuery, type RepositoryContext } from "./context.js";
import {
  compareText,
  invalid,
  requireName,
  requireOneOf,
  requireTime,
  requireWholeNumber,
  resolveLimit,
  toJson,
  validateEvents,
  write,
} from "./repository-support.js";
import type { PipelineRunsTable, RepositoriesTable, StoreDatabase } from "./schema.js";
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
  type PipelineTrigger,
  type RepositoryInput,
  type TriggerKind,
  type WatchedRepository,
} from "./types.js";

export const DEFAULT_RUN_LIMIT = 20;
/** The same rule as a label in slipway.yaml (`config/names.ts`); repeated so the store needs no zod. */
const LABEL = /^[a-z][a-z0-9-]{0,62}$/;
const MIN_WEBHOOK_SECRET_LENGTH = 16;
const REPOSITORY_KINDS: readonly RepositoryInput["kind"][] = ["path", "url"];
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
const BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

type Trx = Transaction<StoreDatabase>;

// ---------------------------------------------------------------------------------------------------
// Validation: everything is checked before a transaction starts, so a bad request never takes the lock.

function requireLabel(value: unknown, what: string): string {
  if (typeof value !== "string" || !LABEL.test(value)) {
    throw invalid(
      `${what} must be a lowercase name of letters, digits and "-", starting with a letter, at most 63` +
        (typeof value === "string" ? ` (got ${JSON.stringify(value.slice(0, 80))})` : ""),
    );
  }
  return value;
}

function requireOptionalText(value: unknown, what: string): string | null {
  return value === null ? null : requireName(value, `${what} (or null)`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
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
  return {
    input,
    status,
    trigger,
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

function validateRepositoryInput(input: RepositoryInput): RepositoryInput {
  if (!isPlainObject(input))
    throw invalid("a repository needs { name, location, kind, webhookSecret, createdBy }");
  const kind = requireOneOf(input.kind, REPOSITORY_KINDS, "kind");
  const location = requireName(input.location, "location");
  if (kind === "path" && !isAbsolute(location)) {
    throw invalid(`a path repository's location must be an absolute path (got ${JSON.stringify(location)})`);
  }
  // Never echo the secret, not even a part of it.
  if (typeof input.webhookSecret !== "string" || input.webhookSecret.length < MIN_WEBHOOK_SECRET_LENGTH) {
    throw invalid(`webhookSecret must be at least ${MIN_WEBHOOK_SECRET_LENGTH} characters`);
  }
  return {
    name: requireLabel(input.name, "name"),
    location,
    kind,
    webhookSecret: input.webhookSecret,
    createdBy: requireName(input.createdBy, "createdBy"),
  };
}

function validateHeads(value: unknown): Record<string, string> {
  if (!isPlainObject(value)) throw invalid("heads must be an object of refs to commit ids");
  const heads: Record<string, string> = {};
  for (const [ref, sha] of Object.entries(value)) {
    if (ref === "") throw invalid("heads must not have an empty ref");
    heads[ref] = requireName(sha, `heads[${JSON.stringify(ref)}]`);
  }
  return heads;
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

function rowToRepository(row: Selectable<RepositoriesTable>): WatchedRepository {
  return {
    id: row.id,
    name: row.name,
    location: row.location,
    kind: row.kind as RepositoryInput["kind"],
    webhookSecret: row.webhook_secret,
    createdBy: row.created_by,
    createdAt: row.created_at,
    heads: JSON.parse(row.heads) as Record<string, string>,
  };
}

// ---------------------------------------------------------------------------------------------------
// Errors.

function runNotFound(id: number): SlipwayError {
  return new SlipwayError("not_found", `no pipeline run ${id}`);
}

function staleRun(id: number, expected: number, current: number): SlipwayError {
  return new SlipwayError(
    "conflict",
    `pipeline run ${id} is at revision ${current}, not ${expected}; nothing was changed`,
    {
      hint: "read the run again and retry",
      details: { runId: id, expectedRevision: expected, currentRevision: current },
    },
  );
}

function repositoryNotFound(idOrName: string): SlipwayError {
  return new SlipwayError("not_found", `no watched repository ${idOrName}`);
}

function repositoryTaken(field: "name" | "location", value: string, holder: string): SlipwayError {
  const message =
    field === "name"
      ? `a repository named ${value} already exists; nothing was added`
      : `repository ${holder} already watches ${value}; nothing was added`;
  return new SlipwayError("conflict", message, {
    hint: field === "name" ? "choose another name" : `remove ${holder} first`,
    details: { [field]: value, repository: holder },
  });
}

// ---------------------------------------------------------------------------------------------------
// Shared statements.

/** `repo_` + 10 base32 characters (50 random bits), like token ids. */
function newRepositoryId(): string {
  let id = "repo_";
  for (const byte of randomBytes(10)) id += BASE32_ALPHABET.charAt(byte & 31);
  return id;
}

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

function selectRepository(db: Pick<Trx, "selectFrom">, idOrName: string) {
  return db
    .selectFrom("repositories")
    .selectAll()
    .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
    .executeTakeFirst();
}

// ---------------------------------------------------------------------------------------------------
// Runs.

async function createRun(ctx: RepositoryContext, raw: PipelineRunInput): Promise<PipelineRun> {
  const { input, status, trigger, triggerJson, spec, state } = validateRunInput(raw);
  const { pipeline } = input;
  return write(ctx, `creating a run of pipeline ${pipeline}`, async ({ trx, at, recordEvents }) => {
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
    const current = await trx.selectFrom("pipeline_runs").selectAll().where("id", "=", id).executeTakeFirst();
    if (current === undefined) throw runNotFound(id);

    const row: Selectable<PipelineRunsTable> = {
      ...current,
      status,
      state,
      started_at: update.markStarted === true && current.started_at === null ? at : current.started_at,
      // Final sets it; anything else clears it (an interrupted run that was resumed is not finished).
      finished_at: FINAL_RUN_STATUSES.includes(status) ? at : null,
      revision: expectedRevision + 1,
    };
    // The compare-and-set itself: conditional on the revision, judged by the affected-row count.
    const result = await trx
      .updateTable("pipeline_runs")
      .set({
        status: row.status,
        state: row.state,
        started_at: row.started_at,
        finished_at: row.finished_at,
        revision: row.revision,
      })
      .where("id", "=", id)
      .where("revision", "=", expectedRevision)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw staleRun(id, expectedRevision, current.revision);

    await recordEvents(events);
    return rowToRun(row);
  });
}

// ---------------------------------------------------------------------------------------------------
// Watched repositories.

async function addRepository(ctx: RepositoryContext, raw: RepositoryInput): Promise<WatchedRepository> {
  const input = validateRepositoryInput(raw);
  return write(ctx, `adding repository ${input.name}`, async ({ trx, at, recordEvents }) => {
    const taken = await trx
      .selectFrom("repositories")
      .select(["name", "location"])
      .where((eb) => eb.or([eb("name", "=", input.name), eb("location", "=", input.location)]))
      .execute();
    const byName = taken.find((r) => r.name === input.name);
    if (byName !== undefined) throw repositoryTaken("name", input.name, byName.name);
    const byLocation = taken.find((r) => r.location === input.location);
    if (byLocation !== undefined) throw repositoryTaken("location", input.location, byLocation.name);

    const row: Selectable<RepositoriesTable> = {
      id: newRepositoryId(),
      name: input.name,
      location: input.location,
      kind: input.kind,
      webhook_secret: input.webhookSecret,
      created_by: input.createdBy,
      created_at: at,
      heads: "{}",
    };
    await trx.insertInto("repositories").values(row).execute();
    await recordEvents([
      {
        type: "repository.added",
        actor: input.createdBy,
        objectKind: "repository",
        objectName: row.name,
        // Never the secret: events are readable by every viewer.
        payload: { id: row.id, location: row.location, kind: row.kind },
      },
    ]);
    return rowToRepository(row);
  });
}

async function listRepositories(ctx: RepositoryContext): Promise<WatchedRepository[]> {
  const rows = await readQuery(ctx, () => ctx.db.selectFrom("repositories").selectAll().execute());
  // Sorted here, not in SQL: PostgreSQL orders text by its collation, SQLite by bytes.
  rows.sort((a, b) => compareText(a.name, b.name));
  return rows.map(rowToRepository);
}

async function findRepository(
  ctx: RepositoryContext,
  idOrName: string,
): Promise<WatchedRepository | undefined> {
  requireName(idOrName, "a repository id or name");
  const row = await readQuery(ctx, () => selectRepository(ctx.db, idOrName));
  return row === undefined ? undefined : rowToRepository(row);
}

async function removeRepository(ctx: RepositoryContext, idOrName: string, actor: string): Promise<void> {
  requireName(idOrName, "a repository id or name");
  requireName(actor, "actor");
  await write(ctx, `removing repository ${idOrName}`, async ({ trx, recordEvents }) => {
    const row = await selectRepository(trx, idOrName);
    if (row === undefined) throw repositoryNotFound(idOrName);
    await trx.deleteFrom("repositories").where("id", "=", row.id).execute();
    await recordEvents([
      {
        type: "repository.removed",
        actor,
        objectKind: "repository",
        objectName: row.name,
        payload: { id: row.id, location: row.location, kind: row.kind },
      },
    ]);
  });
}

async function setRepositoryHeads(
  ctx: RepositoryContext,
  id: string,
  rawHeads: Record<string, string>,
): Promise<void> {
  requireName(id, "a repository id");
  const heads = JSON.stringify(validateHeads(rawHeads));
  await write(ctx, `recording the heads of repository ${id}`, async ({ trx }) => {
    const result = await trx
      .updateTable("repositories")
      .set({ heads })
      .where("id", "=", id)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw repositoryNotFound(id);
  });
}

// ---------------------------------------------------------------------------------------------------
// Webhook deliveries.

async function recordDelivery(
  ctx: RepositoryContext,
  provider: string,
  deliveryId: string,
  repository: string,
): Promise<boolean> {
  requireName(provider, "provider");
  requireName(deliveryId, "deliveryId");
  requireName(repository, "repository");
  return write(ctx, `recording webhook delivery ${deliveryId}`, async ({ trx, at }) => {
    // Look first rather than insert and catch the key violation: on PostgreSQL a failed statement aborts
    // the whole transaction. Writes are serialized, so nobody can insert the same key in between.
    const seen = await trx
      .selectFrom("webhook_deliveries")
      .select("provider")
      .where("provider", "=", provider)
      .where("delivery_id", "=", deliveryId)
      .executeTakeFirst();
    if (seen !== undefined) return false;
    await trx
      .insertInto("webhook_deliveries")
      .values({ provider, delivery_id: deliveryId, repository, received_at: at })
      .execute();
    return true;
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
    recordDelivery: (provider, deliveryId, repository) =>
      recordDelivery(ctx, provider, deliveryId, repository),
  };
}
