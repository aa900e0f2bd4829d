/**
 * Verdicts: what the judge concluded about a rollout step (pass, fail, inconclusive) over a window, kept
 * with the rollout so a person can see why it was promoted or rolled back. A verdict is written only with
 * the rollout update it caused (`insertVerdict`), never on its own.
 */
import type { Selectable } from "kysely";

import { readQuery, type RepositoryContext } from "./context.js";
import {
  requireName,
  requireOneOf,
  requireTime,
  requireWholeNumber,
  resolveLimit,
  toJson,
} from "./repository-support.js";
import type { VerdictsTable } from "./schema.js";
import { type JsonValue, type StoredVerdict, type VerdictInput } from "./types.js";
import { nextNumber, type Trx } from "./delivery-support.js";

export const DEFAULT_VERDICT_LIMIT = 50;
const VERDICT_RESULTS: readonly VerdictInput["result"][] = ["pass", "fail", "inconclusive"];

export interface ValidVerdict {
  input: VerdictInput;
  verdict: string;
}

export function validateVerdict(input: VerdictInput): ValidVerdict {
  if (input.step !== null) requireWholeNumber(input.step, "verdict.step (or null)", 0);
  requireName(input.phase, "verdict.phase");
  requireOneOf(input.result, VERDICT_RESULTS, "verdict.result");
  requireTime(input.windowStart, "verdict.windowStart");
  requireTime(input.windowEnd, "verdict.windowEnd");
  return { input, verdict: toJson(input.verdict, "verdict.verdict") };
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

/** Records a verdict for rollout `rolloutId`, inside the transaction of the rollout update it caused. */
export async function insertVerdict(
  trx: Trx,
  rolloutId: number,
  at: string,
  verdict: ValidVerdict,
): Promise<void> {
  await trx
    .insertInto("verdicts")
    .values({
      id: await nextNumber(trx, "verdicts", "id"),
      rollout_id: rolloutId,
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

export async function listVerdicts(
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
