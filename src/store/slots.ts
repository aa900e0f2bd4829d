/**
 * Slots: which release of a service is stable in an environment, and which earlier ones are kept warm
 * until a time (for a fast rollback). A slot is compare-and-set on its revision; revision 0 creates it.
 * A rollout moves its slot in the same transaction as its own update (`writeSlot`).
 */
import type { Selectable } from "kysely";

import { SlipwayError } from "../util/index.js";
import { readQuery, type RepositoryContext } from "./context.js";
import {
  compareText,
  invalid,
  requireName,
  requireTime,
  requireWholeNumber,
  validateEvents,
  write,
} from "./repository-support.js";
import type { SlotsTable } from "./schema.js";
import { type EventInput, type Slot, type WarmRelease } from "./types.js";
import { requireOptionalVersion, requireVersion, type Trx } from "./delivery-support.js";

export type SlotValue = { stable: string | null; warm: WarmRelease[] };

export function validateSlotValue(next: unknown, what: string): SlotValue {
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

export function selectSlot(db: Pick<Trx, "selectFrom">, service: string, env: string) {
  return db
    .selectFrom("slots")
    .selectAll()
    .where("service", "=", service)
    .where("env", "=", env)
    .executeTakeFirst();
}

/** Writes a slot unconditionally (revision + 1), creating it at revision 1 when missing. */
export async function writeSlot(
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

export async function getSlot(
  ctx: RepositoryContext,
  service: string,
  env: string,
): Promise<Slot | undefined> {
  requireName(service, "service");
  requireName(env, "env");
  const row = await readQuery(ctx, () => selectSlot(ctx.db, service, env));
  return row === undefined ? undefined : rowToSlot(row);
}

export async function listSlots(ctx: RepositoryContext): Promise<Slot[]> {
  const rows = await readQuery(ctx, () => ctx.db.selectFrom("slots").selectAll().execute());
  // Sorted here, not in SQL: PostgreSQL orders text by its collation, SQLite by bytes.
  rows.sort((a, b) => compareText(a.service, b.service) || compareText(a.env, b.env));
  return rows.map(rowToSlot);
}

export async function updateSlot(
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
