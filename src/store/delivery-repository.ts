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
import type { ReleasesTable, RolloutsTable, SlotsTable, StoreDatabase, VerdictsTable } from "./schema.js";
import {
  ACTIVE_ROLLOUT_STATUSES,
  BLOCKING_ROLLOUT_STATUSES,
  ROLLOUT_STATUSES,
  ROLLOUT_STRATEGIES,
  type DeliveryRepository,
  type EventInput,
  type JsonValue,
  type Release,
  type ReleaseInput,
  type Rollout,
  type RolloutInput,
  type RolloutQuery,
  type RolloutStatus,
  type RolloutStrategy,
  type RolloutUpdate,
  type Slot,
  type StoredVerdict,
  type VerdictInput,
  type WarmRelease,
} from "./types.js";

export const DEFAULT_ROLLOUT_LIMIT = 20;
export const DEFAULT_VERDICT_LIMIT = 50;
const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ARTIFACT_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;
const VERDICT_RESULTS: readonly VerdictInput["result"][] = ["pass", "fail", "inconclusive"];
const FINAL_ROLLOUT_STATUSES: readonly RolloutStatus[] = ROLLOUT_STATUSES.filter(
  (s) => !ACTIVE_ROLLOUT_STATUSES.includes(s),
);

type Trx = Transaction<StoreDatabase>;
type SlotValue = { stable: string | null; warm: WarmRelease[] };

// ---------------------------------------------------------------------------------------------------
// Validation: everything is checked before a transaction starts, so a bad request never takes the lock.

function requireVersion(value: unknown, what: string): string {
  if (typeof value !== "string" || !VERSION_PATTERN.test(value)) {
    throw invalid(
      `${what} must be 1 to 64 letters, digits and ._- starting with a letter or digit` +
        (typeof value === "string" ? ` (got ${JSON.stringify(value.slice(0, 80))})` : ""),
    );
  }
  return value;
}

function requireOptionalVersion(value: unknown, what: string): string | null {
  return value === null ? null : requireVersion(value, what);
}

function requireReason(value: unknown, what: string): string | null | undefined {
  if (value !== undefined && value !== null && typeof value !== "string") {
    throw invalid(`${what} must be a string or null`);
  }
  return value;
}

function validateSlotValue(next: unknown, what: string): SlotValue {
  if (typeof next !== "object" || next === null) throw invalid(`${what} must be { stable, warm }`);
  const { stable, warm } = next as Partial<SlotValue>;
  if (stable === undefined) throw invalid(`${what}.stable must be a version or null`);
  if (!Array.isArray(warm)) throw invalid(`${what}.warm must be a list`);
  return {
    stable: requireOptionalVersion(stable, `${what}.stable`),
    // Only the contract's fields are kept, so the stored JSON has a known shape.
    warm: warm.map((entry: unknown, i) => {
      if (typeof entry !== "object" || entry === null)
        throw invalid(`${what}.warm[${i}] must be { version, until }`);
      const w = entry as Partial<WarmRelease>;
      return {
        version: requireVersion(w.version, `${what}.warm[${i}].version`),
        until: requireTime(w.until, `${what}.warm[${i}].until`),
      };
    }),
  };
}

interface ValidRelease {
  input: ReleaseInput;
  config: string;
}

function validateRelease(input: ReleaseInput): ValidRelease {
  requireName(input.service, "service");
  requireVersion(input.version, "version");
  requireName(input.artifactDir, "artifactDir");
  if (typeof input.artifactHash !== "string" || !ARTIFACT_HASH_PATTERN.test(input.artifactHash)) {
    throw invalid("artifactHash must be sha256: followed by 64 lowercase hex digits");
  }
  requireWholeNumber(input.artifactBytes, "artifactBytes", 0);
  requireWholeNumber(input.artifactFiles, "artifactFiles", 0);
  if (input.commit !== null) requireName(input.commit, "commit (or null)");
  requireWholeNumber(input.configRevision, "configRevision", 0);
  requireName(input.createdBy, "createdBy");
  return { input, config: toJson(input.config, "config") };
}

interface ValidRolloutInput {
  input: RolloutInput;
  state: string;
  reason: string | null;
}

function validateRolloutInput(input: RolloutInput): ValidRolloutInput {
  requireName(input.service, "service");
  requireName(input.env, "env");
  requireVersion(input.release, "release");
  requireOptionalVersion(input.previous, "previous");
  requireOneOf<RolloutStrategy>(input.strategy, ROLLOUT_STRATEGIES, "strategy");
  requireOneOf<RolloutStatus>(input.status, ROLLOUT_STATUSES, "status");
  const reason = requireReason(input.reason, "reason") ?? null;
  requireName(input.createdBy, "createdBy");
  return { input, state: toJson(input.state, "state"), reason };
}

interface ValidVerdict {
  input: VerdictInput;
  verdict: string;
}

function validateVerdict(input: VerdictInput): ValidVerdict {
  if (input.step !== null) requireWholeNumber(input.step, "verdict.step (or null)", 0);
  requireName(input.phase, "verdict.phase");
  requireOneOf(input.result, VERDICT_RESULTS, "verdict.result");
  requireTime(input.windowStart, "verdict.windowStart");
  requireTime(input.windowEnd, "verdict.windowEnd");
  return { input, verdict: toJson(input.verdict, "verdict.verdict") };
}

interface ValidRolloutUpdate {
  update: RolloutUpdate;
  state: string;
  reason: string | null | undefined;
  slot: SlotValue | undefined;
  verdict: ValidVerdict | undefined;
  events: EventInput[];
}

function validateRolloutUpdate(update: RolloutUpdate): ValidRolloutUpdate {
  requireWholeNumber(update.id, "id", 1);
  requireWholeNumber(update.expectedRevision, "expectedRevision", 1);
  requireOneOf<RolloutStatus>(update.status, ROLLOUT_STATUSES, "status");
  return {
    update,
    state: toJson(update.state, "state"),
    reason: requireReason(update.reason, "reason"),
    slot: update.slot === undefined ? undefined : validateSlotValue(update.slot, "slot"),
    verdict: update.verdict === undefined ? undefined : validateVerdict(update.verdict),
    events: validateEvents(update.events),
  };
}

// ---------------------------------------------------------------------------------------------------
// Rows to contract types.

function rowToRelease(row: Selectable<ReleasesTable>): Release {
  return {
    service: row.service,
    version: row.version,
    artifactDir: row.artifact_dir,
    artifactHash: row.artifact_hash,
    artifactBytes: row.artifact_bytes,
    artifactFiles: row.artifact_files,
    commit: row.git_commit,
    config: JSON.parse(row.config) as JsonValue,
    configRevision: row.config_revision,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

function rowToSlot(row: Selectable<SlotsTable>): Slot {
  return {
    service: row.service,
    env: row.env,
    stable: row.stable,
    warm: JSON.parse(row.warm) as WarmRelease[],
    revision: row.revision,
    updatedAt: row.updated_at,
  };
}

function rowToRollout(row: Selectable<RolloutsTable>): Rollout {
  return {
    id: row.id,
    service: row.service,
    env: row.env,
    release: row.release_version,
    previous: row.previous_version,
    strategy: row.strategy as RolloutStrategy,
    status: row.status as RolloutStatus,
    state: JSON.parse(row.state) as JsonValue,
    reason: row.reason,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
    revision: row.revision,
  };
}

function rowToVerdict(row: Selectable<VerdictsTable>): StoredVerdict {
  return {
    id: row.id,
    rolloutId: row.rollout_id,
    at: row.at,
    step: row.step,
    phase: row.phase,
    result: row.result as VerdictInput["result"],
    windowStart: row.window_start,
    windowEnd: row.window_end,
    verdict: JSON.parse(row.verdict) as JsonValue,
  };
}

// ---------------------------------------------------------------------------------------------------
// Errors.

function releaseConflict(input: ReleaseInput, stored: Selectable<ReleasesTable>): SlipwayError {
  return new SlipwayError(
    "release_immutable",
    `release ${input.version} of ${input.service} already exists with another artifact (${stored.artifact_hash}); releases are immutable`,
    {
      hint: "give the new build another version",
      details: { service: input.service, version: input.version, artifactHash: stored.artifact_hash },
    },
  );
}

function slotConflict(service: string, env: string, expected: number, current: number): SlipwayError {
  return new SlipwayError(
    "stale_write",
    `the slot of ${service} in ${env} is at revision ${current}, not ${expected}; nothing was changed`,
    {
      hint: "read the slot again and retry",
      details: { service, env, expectedRevision: expected, currentRevision: current },
    },
  );
}

function blockedByRollout(service: string, env: string, blocker: Selectable<RolloutsTable>): SlipwayError {
  return new SlipwayError(
    "rollout_in_progress",
    `${service} in ${env} already has rollout ${blocker.id} (${blocker.status}, release ${blocker.release_version}); nothing was started`,
    {
      hint: `wait for rollout ${blocker.id} to finish, or abort it first`,
      details: { rolloutId: blocker.id },
    },
  );
}

function staleRollout(id: number, expected: number, current: number): SlipwayError {
  return new SlipwayError(
    "stale_write",
    `rollout ${id} is at revision ${current}, not ${expected}; nothing was changed`,
    {
      hint: "read the rollout again and retry",
      details: { rolloutId: id, expectedRevision: expected, currentRevision: current },
    },
  );
}

function rolloutNotFound(id: number): SlipwayError {
  return new SlipwayError("not_found", `no rollout ${id}`);
}

// ---------------------------------------------------------------------------------------------------
// Shared statements.

/** max + 1, inside the write transaction (writes are serialized, so no two transactions see the same max). */
async function nextNumber(
  trx: Trx,
  table: "releases" | "rollouts" | "verdicts",
  column: "seq" | "id",
): Promise<number> {
  const row = await trx
    .selectFrom(table)
    .select(sql<number>`coalesce(max(${sql.ref(column)}), 0) + 1`.as("next"))
    .executeTakeFirstOrThrow();
  return row.next;
}

function selectSlot(db: Pick<Trx, "selectFrom">, service: string, env: string) {
  return db
    .selectFrom("slots")
    .selectAll()
    .where("service", "=", service)
    .where("env", "=", env)
    .executeTakeFirst();
}

/** Writes a slot unconditionally (revision + 1), creating it at revision 1 when missing. */
async function writeSlot(
  trx: Trx,
  service: string,
  env: string,
  next: SlotValue,
  at: string,
): Promise<Selectable<SlotsTable>> {
  const warm = JSON.stringify(next.warm);
  const current = await selectSlot(trx, service, env);
  if (current === undefined) {
    const row = { service, env, stable: next.stable, warm, revision: 1, updated_at: at };
    await trx.insertInto("slots").values(row).execute();
    return row;
  }
  const row = { ...current, stable: next.stable, warm, revision: current.revision + 1, updated_at: at };
  await trx
    .updateTable("slots")
    .set({ stable: row.stable, warm: row.warm, revision: row.revision, updated_at: at })
    .where("service", "=", service)
    .where("env", "=", env)
    .execute();
  return row;
}

// ---------------------------------------------------------------------------------------------------
// Releases.

async function createRelease(
  ctx: RepositoryContext,
  raw: ReleaseInput,
): Promise<{ release: Release; created: boolean }> {
  const { input, config } = validateRelease(raw);
  return write(ctx, `creating release ${input.version} of ${input.service}`, async (scope) => {
    const { trx, at, recordEvents } = scope;
    const existing = await trx
      .selectFrom("releases")
      .selectAll()
      .where("service", "=", input.service)
      .where("version", "=", input.version)
      .executeTakeFirst();
    if (existing !== undefined) {
      if (existing.artifact_hash !== input.artifactHash) throw releaseConflict(input, existing);
      return { release: rowToRelease(existing), created: false };
    }
    const row: Selectable<ReleasesTable> = {
      service: input.service,
      version: input.version,
      seq: await nextNumber(trx, "releases", "seq"),
      artifact_dir: input.artifactDir,
      artifact_hash: input.artifactHash,
      artifact_bytes: input.artifactBytes,
      artifact_files: input.artifactFiles,
      git_commit: input.commit,
      config,
      config_revision: input.configRevision,
      created_by: input.createdBy,
      created_at: at,
    };
    await trx.insertInto("releases").values(row).execute();
    await recordEvents([
      {
        type: "release.created",
        actor: input.createdBy,
        objectKind: "service",
        objectName: input.service,
        payload: { version: input.version, artifactHash: input.artifactHash, commit: input.commit },
      },
    ]);
    return { release: rowToRelease(row), created: true };
  });
}

async function getRelease(
  ctx: RepositoryContext,
  service: string,
  version: string,
): Promise<Release | undefined> {
  requireName(service, "service");
  requireVersion(version, "version");
  const row = await readQuery(ctx, () =>
    ctx.db
      .selectFrom("releases")
      .selectAll()
      .where("service", "=", service)
      .where("version", "=", version)
      .executeTakeFirst(),
  );
  return row === undefined ? undefined : rowToRelease(row);
}

async function listReleases(ctx: RepositoryContext, service: string): Promise<Release[]> {
  requireName(service, "service");
  const rows = await readQuery(ctx, () =>
    ctx.db.selectFrom("releases").selectAll().where("service", "=", service).orderBy("seq", "desc").execute(),
  );
  return rows.map(rowToRelease);
}

// ---------------------------------------------------------------------------------------------------
// Slots.

async function getSlot(ctx: RepositoryContext, service: string, env: string): Promise<Slot | undefined> {
  requireName(service, "service");
  requireName(env, "env");
  const row = await readQuery(ctx, () => selectSlot(ctx.db, service, env));
  return row === undefined ? undefined : rowToSlot(row);
}

async function listSlots(ctx: RepositoryContext): Promise<Slot[]> {
  const rows = await readQuery(ctx, () => ctx.db.selectFrom("slots").selectAll().execute());
  // Sorted here, not in SQL: PostgreSQL orders text by its collation, SQLite by bytes.
  rows.sort((a, b) => compareText(a.service, b.service) || compareText(a.env, b.env));
  return rows.map(rowToSlot);
}

async function updateSlot(
  ctx: RepositoryContext,
  service: string,
  env: string,
  expectedRevision: number,
  rawNext: SlotValue,
  rawEvents: EventInput[] | undefined,
): Promise<Slot> {
  requireName(service, "service");
  requireName(env, "env");
  requireWholeNumber(expectedRevision, "expectedRevision", 0);
  const next = validateSlotValue(rawNext, "slot");
  const events = validateEvents(rawEvents);
  const warm = JSON.stringify(next.warm);
  return write(ctx, `updating the slot of ${service} in ${env}`, async ({ trx, at, recordEvents }) => {
    const row = { service, env, stable: next.stable, warm, revision: expectedRevision + 1, updated_at: at };
    if (expectedRevision === 0) {
      const current = await selectSlot(trx, service, env);
      if (current !== undefined) throw slotConflict(service, env, 0, current.revision);
      await trx.insertInto("slots").values(row).execute();
    } else {
      const result = await trx
        .updateTable("slots")
        .set({ stable: row.stable, warm: row.warm, revision: row.revision, updated_at: at })
        .where("service", "=", service)
        .where("env", "=", env)
        .where("revision", "=", expectedRevision)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) {
        const current = await selectSlot(trx, service, env);
        throw slotConflict(service, env, expectedRevision, current?.revision ?? 0);
      }
    }
    await recordEvents(events);
    return rowToSlot(row);
  });
}

// ---------------------------------------------------------------------------------------------------
// Rollouts.

async function startRollout(
  ctx: RepositoryContext,
  raw: RolloutInput,
  rawEvents: EventInput[] | undefined,
): Promise<Rollout> {
  const { input, state, reason } = validateRolloutInput(raw);
  const events = validateEvents(rawEvents);
  const { service, env } = input;
  return write(ctx, `starting a rollout of ${service} in ${env}`, async ({ trx, at, recordEvents }) => {
    const active = await trx
      .selectFrom("rollouts")
      .selectAll()
      .where("service", "=", service)
      .where("env", "=", env)
      .where("status", "in", [...ACTIVE_ROLLOUT_STATUSES])
      .orderBy("id")
      .execute();
    const blocker = active.find((r) => BLOCKING_ROLLOUT_STATUSES.includes(r.status as RolloutStatus));
    if (blocker !== undefined) throw blockedByRollout(service, env, blocker);

    const id = await nextNumber(trx, "rollouts", "id");
    const recorded: EventInput[] = [];
    // What is left is watching: the new deploy supersedes the watch, which counts as a success.
    for (const watching of active) {
      const supersededReason = `superseded by rollout ${id}`;
      await trx
        .updateTable("rollouts")
        .set((eb) => ({
          status: "succeeded",
          reason: supersededReason,
          updated_at: at,
          finished_at: at,
          revision: eb("revision", "+", 1),
        }))
        .where("id", "=", watching.id)
        .execute();
      recorded.push({
        type: "rollout.succeeded",
        actor: input.createdBy,
        objectKind: "service",
        objectName: service,
        payload: { id: watching.id, env, release: watching.release_version, reason: supersededReason },
      });
    }

    if ((await selectSlot(trx, service, env)) === undefined) {
      await trx
        .insertInto("slots")
        .values({ service, env, stable: null, warm: "[]", revision: 1, updated_at: at })
        .execute();
    }

    const row: Selectable<RolloutsTable> = {
      id,
      service,
      env,
      release_version: input.release,
      previous_version: input.previous,
      strategy: input.strategy,
      status: input.status,
      state,
      reason,
      created_by: input.createdBy,
      created_at: at,
      updated_at: at,
      finished_at: FINAL_ROLLOUT_STATUSES.includes(input.status) ? at : null,
      revision: 1,
    };
    await trx.insertInto("rollouts").values(row).execute();
    recorded.push({
      type: "rollout.started",
      actor: input.createdBy,
      objectKind: "service",
      objectName: service,
      payload: { id, env, release: input.release, previous: input.previous, strategy: input.strategy },
    });
    await recordEvents([...recorded, ...events]);
    return rowToRollout(row);
  });
}

async function updateRollout(ctx: RepositoryContext, raw: RolloutUpdate): Promise<Rollout> {
  const { update, state, reason, slot, verdict, events } = validateRolloutUpdate(raw);
  const { id, expectedRevision, status } = update;
  return write(ctx, `updating rollout ${id}`, async ({ trx, at, recordEvents }) => {
    const current = await trx.selectFrom("rollouts").selectAll().where("id", "=", id).executeTakeFirst();
    if (current === undefined) throw rolloutNotFound(id);

    // Moving into progressing/paused must not make a second owner of the slot. Only checked for a caller
    // whose revision is current; a stale one gets the revision conflict below.
    if (
      current.revision === expectedRevision &&
      BLOCKING_ROLLOUT_STATUSES.includes(status) &&
      !BLOCKING_ROLLOUT_STATUSES.includes(current.status as RolloutStatus)
    ) {
      const blocker = await trx
        .selectFrom("rollouts")
        .selectAll()
        .where("service", "=", current.service)
        .where("env", "=", current.env)
        .where("status", "in", [...BLOCKING_ROLLOUT_STATUSES])
        .where("id", "!=", id)
        .executeTakeFirst();
      if (blocker !== undefined) throw blockedByRollout(current.service, current.env, blocker);
    }

    const row: Selectable<RolloutsTable> = {
      ...current,
      status,
      state,
      reason: reason === undefined ? current.reason : reason,
      updated_at: at,
      finished_at: FINAL_ROLLOUT_STATUSES.includes(status) ? at : null,
      revision: expectedRevision + 1,
    };
    // The compare-and-set itself: conditional on the revision, judged by the affected-row count.
    const result = await trx
      .updateTable("rollouts")
      .set({
        status: row.status,
        state: row.state,
        reason: row.reason,
        updated_at: row.updated_at,
        finished_at: row.finished_at,
        revision: row.revision,
      })
      .where("id", "=", id)
      .where("revision", "=", expectedRevision)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw staleRollout(id, expectedRevision, current.revision);

    if (slot !== undefined) await writeSlot(trx, current.service, current.env, slot, at);
    if (verdict !== undefined) {
      await trx
        .insertInto("verdicts")
        .values({
          id: await nextNumber(trx, "verdicts", "id"),
          rollout_id: id,
          at,
          step: verdict.input.step,
          phase: verdict.input.phase,
          result: verdict.input.result,
          window_start: verdict.input.windowStart,
          window_end: verdict.input.windowEnd,
          verdict: verdict.verdict,
        })
        .execute();
    }
    await recordEvents(events);
    return rowToRollout(row);
  });
}

async function getRollout(ctx: RepositoryContext, id: number): Promise<Rollout> {
  requireWholeNumber(id, "a rollout id", 1);
  const row = await readQuery(ctx, () =>
    ctx.db.selectFrom("rollouts").selectAll().where("id", "=", id).executeTakeFirst(),
  );
  if (row === undefined) throw rolloutNotFound(id);
  return rowToRollout(row);
}

async function listRollouts(ctx: RepositoryContext, query: RolloutQuery): Promise<Rollout[]> {
  const limit = resolveLimit(query.limit, DEFAULT_ROLLOUT_LIMIT);
  let q = ctx.db.selectFrom("rollouts").selectAll();
  if (query.service !== undefined) q = q.where("service", "=", requireName(query.service, "service"));
  if (query.env !== undefined) q = q.where("env", "=", requireName(query.env, "env"));
  if (query.active === true) q = q.where("status", "in", [...ACTIVE_ROLLOUT_STATUSES]);
  const rows = await readQuery(ctx, () => q.orderBy("id", "desc").limit(limit).execute());
  return rows.map(rowToRollout);
}

async function listVerdicts(
  ctx: RepositoryContext,
  rolloutId: number,
  options: { limit?: number },
): Promise<StoredVerdict[]> {
  requireWholeNumber(rolloutId, "a rollout id", 1);
  const limit = resolveLimit(options.limit, DEFAULT_VERDICT_LIMIT);
  const rows = await readQuery(ctx, () =>
    ctx.db
      .selectFrom("verdicts")
      .selectAll()
      .where("rollout_id", "=", rolloutId)
      .orderBy("id", "desc")
      .limit(limit)
      .execute(),
  );
  return rows.map(rowToVerdict).reverse();
}

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
