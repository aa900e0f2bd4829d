/**
 * What the delivery files (releases, slots, rollouts, verdicts) share: the rule for a release version,
 * which every one of them names, and the id counter they draw from inside a write transaction.
 */
import { sql, type Transaction } from "kysely";

import { invalid } from "./repository-support.js";
import type { StoreDatabase } from "./schema.js";

export type Trx = Transaction<StoreDatabase>;

const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function requireVersion(value: unknown, what: string): string {
  if (typeof value !== "string" || !VERSION_PATTERN.test(value)) {
    throw invalid(
      `${what} must be 1 to 64 letters, digits and ._- starting with a letter or digit` +
        (typeof value === "string" ? ` (got ${JSON.stringify(value.slice(0, 80))})` : ""),
    );
  }
  return value;
}

export function requireOptionalVersion(value: unknown, what: string): string | null {
  return value === null ? null : requireVersion(value, what);
}

/** max + 1, inside the write transaction (writes are serialized, so no two transactions see the same max). */
export async function nextNumber(
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
