/**
 * The compare-and-set write every revisioned record goes through (rollouts, pipeline runs): a caller
 * says which revision it read; the update is conditional on that revision and judged by the number of
 * rows it changed, so a stale writer is refused (`stale_write`) instead of silently overwriting a newer
 * state, and an unknown id is `not_found`. Written once so the rule, and the errors a client sees, are
 * the same for every record (STYLE.md lesson 4).
 *
 * Slots are not here on purpose: they are keyed by service and environment, revision 0 means "create",
 * and a missing slot is a conflict at revision 0 rather than `not_found`.
 */
import { sql, type UpdateQueryBuilder, type UpdateResult } from "kysely";

import { SlipwayError } from "../util/index.js";
import type { StoreDatabase } from "./schema.js";

/** Tables whose rows carry a numeric `id` and a `revision`. */
export type RevisionedTable = "rollouts" | "pipeline_runs";

/** How one kind of revisioned record is named in errors. */
export interface RevisionedRecord<K extends RevisionedTable> {
  table: K;
  /** In messages: "rollout 7 is at revision 3 …", "no pipeline run 7". */
  noun: string;
  /** In the hint: "read the run again and retry". */
  hintNoun: string;
  /** The key of the id in the error's details: `rolloutId`, `runId`. */
  idDetail: string;
}

export const ROLLOUT_RECORD: RevisionedRecord<"rollouts"> = {
  table: "rollouts",
  noun: "rollout",
  hintNoun: "rollout",
  idDetail: "rolloutId",
};

export const PIPELINE_RUN_RECORD: RevisionedRecord<"pipeline_runs"> = {
  table: "pipeline_runs",
  noun: "pipeline run",
  hintNoun: "run",
  idDetail: "runId",
};

export function recordNotFound(record: RevisionedRecord<RevisionedTable>, id: number): SlipwayError {
  return new SlipwayError("not_found", `no ${record.noun} ${id}`);
}

export function staleRevision(
  record: RevisionedRecord<RevisionedTable>,
  id: number,
  expected: number,
  current: number,
): SlipwayError {
  return new SlipwayError(
    "stale_write",
    `${record.noun} ${id} is at revision ${current}, not ${expected}; nothing was changed`,
    {
      hint: `read the ${record.hintNoun} again and retry`,
      details: { [record.idDetail]: id, expectedRevision: expected, currentRevision: current },
    },
  );
}

/** The update `compareAndSet` guards, and the row as it will read once written. */
export interface GuardedUpdate<K extends RevisionedTable, Written> {
  /** The row's columns set (`revision` to the next revision among them), without a where clause. */
  query: UpdateQueryBuilder<StoreDatabase, K, K, UpdateResult>;
  written: Written;
}

export interface CompareAndSetOptions<K extends RevisionedTable, Row extends { revision: number }, Written> {
  id: number;
  /** The revision the caller read; the row is written only if it is still at it. */
  expectedRevision: number;
  /** Reads the row by id inside the write transaction; `undefined` when there is none. */
  read: () => Promise<Row | undefined>;
  /**
   * Builds the update from the row read; the helper adds `where id = ? and revision = ?`. It may throw
   * to refuse the change; nothing is written then. Trap: it runs even when the revision moved (the
   * update then changes no row), so a check that only makes sense for a current caller compares
   * `current.revision` itself.
   */
  update: (
    current: Row,
    nextRevision: number,
  ) => GuardedUpdate<K, Written> | Promise<GuardedUpdate<K, Written>>;
}

/**
 * Runs the compare-and-set inside a write transaction; returns the row as read and as written. Throws
 * `not_found` for an unknown id and `stale_write` (with the current revision in details) for a stale one.
 *
 * @example
 *   const { written } = await compareAndSet(PIPELINE_RUN_RECORD, {
 *     id, expectedRevision,
 *     read: () => trx.selectFrom("pipeline_runs").selectAll().where("id", "=", id).executeTakeFirst(),
 *     update: (run, revision) => ({
 *       query: trx.updateTable("pipeline_runs").set({ status, revision }),
 *       written: { ...run, status, revision },
 *     }),
 *   });
 */
export async function compareAndSet<K extends RevisionedTable, Row extends { revision: number }, Written>(
  record: RevisionedRecord<K>,
  options: CompareAndSetOptions<K, Row, Written>,
): Promise<{ current: Row; written: Written }> {
  const { id, expectedRevision } = options;
  const current = await options.read();
  if (current === undefined) throw recordNotFound(record, id);
  const { query, written } = await options.update(current, expectedRevision + 1);
  // Raw SQL for the guard: kysely cannot type a column reference on a table chosen by a type parameter.
  const result = await query
    .where(sql<boolean>`${sql.ref("id")} = ${id} and ${sql.ref("revision")} = ${expectedRevision}`)
    .executeTakeFirst();
  if (result.numUpdatedRows === 0n) throw staleRevision(record, id, expectedRevision, current.revision);
  return { current, written };
}
