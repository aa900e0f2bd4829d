/**
 * Rollouts: the move of a service's slot in an environment from one release to the next. At most one
 * rollout owns a slot (progressing or paused) at a time; starting one supersedes any that is only
 * watching. Updates are compare-and-set on the revision (`compareAndSet`) and carry, in the same
 * transaction, the slot change and the verdict they caused.
 */
import type { Selectable } from "kysely";

import { SlipwayError } from "../util/index.js";
import { compareAndSet, recordNotFound, ROLLOUT_RECORD } from "./compare-and-set.js";
import { readQuery, type RepositoryContext } from "./context.js";
import {
  invalid,
  requireName,
  requireOneOf,
  requireWholeNumber,
  resolveLimit,
  toJson,
  validateEvents,
  write,
} from "./repository-support.js";
import type { RolloutsTable } from "./schema.js";
import {
  ACTIVE_ROLLOUT_STATUSES,
  BLOCKING_ROLLOUT_STATUSES,
  ROLLOUT_STATUSES,
  ROLLOUT_STRATEGIES,
  type EventInput,
  type JsonValue,
  type Rollout,
  type RolloutInput,
  type RolloutQuery,
  type RolloutStatus,
  type RolloutStrategy,
  type RolloutUpdate,
} from "./types.js";
import { nextNumber, requireOptionalVersion, requireVersion } from "./delivery-support.js";
import { selectSlot, validateSlotValue, writeSlot, type SlotValue } from "./slots.js";
import { insertVerdict, validateVerdict, type ValidVerdict } from "./verdicts.js";

export const DEFAULT_ROLLOUT_LIMIT = 20;
const FINAL_ROLLOUT_STATUSES: readonly RolloutStatus[] = ROLLOUT_STATUSES.filter(
  (s) => !ACTIVE_ROLLOUT_STATUSES.includes(s),
);

function requireReason(value: unknown, what: string): string | null | undefined {
  if (value !== undefined && value !== null && typeof value !== "string") {
    throw invalid(`${what} must be a string or null`);
  }
  return value;
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

function rolloutNotFound(id: number): SlipwayError {
  return recordNotFound(ROLLOUT_RECORD, id);
}

export async function startRollout(
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

export async function updateRollout(ctx: RepositoryContext, raw: RolloutUpdate): Promise<Rollout> {
  const { update, state, reason, slot, verdict, events } = validateRolloutUpdate(raw);
  const { id, expectedRevision, status } = update;
  return write(ctx, `updating rollout ${id}`, async ({ trx, at, recordEvents }) => {
    const { current, written } = await compareAndSet(ROLLOUT_RECORD, {
      id,
      expectedRevision,
      read: () => trx.selectFrom("rollouts").selectAll().where("id", "=", id).executeTakeFirst(),
      update: async (current, revision) => {
        // Moving into progressing/paused must not make a second owner of the slot. Only checked for a
        // caller whose revision is current; a stale one gets the revision conflict.
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
          revision,
        };
        const query = trx.updateTable("rollouts").set({
          status: row.status,
          state: row.state,
          reason: row.reason,
          updated_at: row.updated_at,
          finished_at: row.finished_at,
          revision: row.revision,
        });
        return { query, written: row };
      },
    });
    if (slot !== undefined) await writeSlot(trx, current.service, current.env, slot, at);
    if (verdict !== undefined) await insertVerdict(trx, id, at, verdict);
    await recordEvents(events);
    return rowToRollout(written);
  });
}

export async function getRollout(ctx: RepositoryContext, id: number): Promise<Rollout> {
  requireWholeNumber(id, "a rollout id", 1);
  const row = await readQuery(ctx, () =>
    ctx.db.selectFrom("rollouts").selectAll().where("id", "=", id).executeTakeFirst(),
  );
  if (row === undefined) throw rolloutNotFound(id);
  return rowToRollout(row);
}

export async function listRollouts(ctx: RepositoryContext, query: RolloutQuery): Promise<Rollout[]> {
  const limit = resolveLimit(query.limit, DEFAULT_ROLLOUT_LIMIT);
  let q = ctx.db.selectFrom("rollouts").selectAll();
  if (query.service !== undefined) q = q.where("service", "=", requireName(query.service, "service"));
  if (query.env !== undefined) q = q.where("env", "=", requireName(query.env, "env"));
  if (query.active === true) q = q.where("status", "in", [...ACTIVE_ROLLOUT_STATUSES]);
  const rows = await readQuery(ctx, () => q.orderBy("id", "desc").limit(limit).execute());
  return rows.map(rowToRollout);
}
