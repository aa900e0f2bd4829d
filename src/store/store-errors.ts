/**
 * Recognising driver errors without importing driver classes: better-sqlite3 puts `SQLITE_…` codes on
 * `code`, pg puts SQLSTATE codes there, and Node puts `E…` system codes there. One place to read them
 * keeps the dialect differences out of the repositories.
 */

export function errorCode(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null || !("code" in e)) return undefined;
  const code = e.code;
  return typeof code === "string" ? code : undefined;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error && e.message !== "") return e.message;
  // Node reports a refused dual-stack connect as an AggregateError with an empty message.
  return errorCode(e) ?? String(e);
}

/** A primary-key or unique constraint fired (SQLite `SQLITE_CONSTRAINT_*`, PostgreSQL 23505). */
export function isUniqueViolation(e: unknown): boolean {
  const code = errorCode(e);
  return code === "23505" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE";
}

/** PostgreSQL gave up on the transaction because of a concurrent one (serialization failure, deadlock). */
export function isConcurrencyFailure(e: unknown): boolean {
  const code = errorCode(e);
  return code === "40001" || code === "40P01";
}

/** SQLite waited `busy_timeout` for another writer and gave up. */
export function isBusy(e: unknown): boolean {
  const code = errorCode(e);
  return code !== undefined && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"));
}

export function isReadOnly(e: unknown): boolean {
  const code = errorCode(e);
  return code !== undefined && (code.startsWith("SQLITE_READONLY") || code === "SQLITE_CANTOPEN");
}
