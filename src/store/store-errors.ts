import { SlipwayError } from "../util/index.js";

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

/**
 * A failure that is the store's, not the request's: the disk, the file, the server or the connection.
 * `cause` is the driver's code (`SQLITE_FULL`, `53100`, `ENOSPC`, …), `reason` says what it means.
 */
export interface StoreFault {
  cause: string;
  reason: string;
  /** Hint for the person who can fix it. */
  hint: string;
  /**
   * The connection broke: a write that failed this way may have committed before the answer was lost
   * (PostgreSQL), so "nothing was changed" would be a guess.
   */
  outcomeUnknown: boolean;
}

const FREE_SPACE =
  "free space on the disk that holds the store; Slipway carries on by itself once it can write";
const PG_REACH = "check that PostgreSQL is running and reachable from here, and the database URL";

/** SQLite result codes, matched by prefix: the extended ones (`SQLITE_IOERR_WRITE`) share their primary's. */
const SQLITE_FAULTS: readonly (readonly [prefix: string, reason: string, hint: string])[] = [
  ["SQLITE_FULL", "the disk is full", FREE_SPACE],
  [
    "SQLITE_IOERR",
    "the disk reported an I/O error",
    "check the disk and the kernel log (dmesg); free space if it is full",
  ],
  [
    "SQLITE_READONLY",
    "the database is read-only",
    "check the file's permissions and whether its file system is mounted read-only",
  ],
  [
    "SQLITE_CANTOPEN",
    "the database file cannot be opened",
    "check that the data directory still exists and is writable",
  ],
  [
    "SQLITE_BUSY",
    "another writer held the database for too long",
    "try again; if it persists, look for a stuck process using the same --data-dir",
  ],
  [
    "SQLITE_LOCKED",
    "another writer held the database for too long",
    "try again; if it persists, look for a stuck process using the same --data-dir",
  ],
  ["SQLITE_NOMEM", "the process ran out of memory", "give the control plane more memory"],
  ["SQLITE_CORRUPT", "the database file is damaged", "restore it from a backup"],
  ["SQLITE_NOTADB", "the database file is damaged", "restore it from a backup"],
];

const SYSTEM_FAULTS: Readonly<Record<string, readonly [reason: string, hint: string]>> = {
  ENOSPC: ["the disk is full", FREE_SPACE],
  EDQUOT: ["the disk quota is exhausted", FREE_SPACE],
  EROFS: ["the file system is read-only", "remount it read-write, or move the data directory"],
  EIO: ["the disk reported an I/O error", "check the disk and the kernel log (dmesg)"],
};

/** PostgreSQL SQLSTATEs that are about the server, by exact code or by class (first two characters). */
const PG_FAULTS: Readonly<Record<string, readonly [reason: string, hint: string]>> = {
  "53100": ["the database server's disk is full", "free space on the PostgreSQL server's disk"],
  "53200": ["the database server ran out of memory", "look at the PostgreSQL server's memory"],
  "53300": [
    "the database server has too many connections",
    "raise max_connections or lower other clients' pools",
  ],
  "53": ["the database server ran out of resources", "look at the PostgreSQL server's log"],
  "57P01": ["the database server was shut down (administrator command)", PG_REACH],
  "57P02": ["the database server crashed", PG_REACH],
  "57P03": [
    "the database server is not accepting connections yet",
    "wait for PostgreSQL to finish starting or recovering",
  ],
  "25006": [
    "the database server is read-only (a standby, or default_transaction_read_only)",
    "connect to the primary server, or make the database writable",
  ],
  "58": ["the database server reported an I/O error", "look at the PostgreSQL server's log and disk"],
  XX001: ["the database server found damaged data", "look at the PostgreSQL server's log"],
  XX002: ["the database server found a damaged index", "look at the PostgreSQL server's log"],
  "08": ["the connection to the database server failed", PG_REACH],
};

/** pg's own messages for a lost connection carry no code. */
const PG_CONNECTION_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|Client was closed|connection error/i;

/**
 * Classifies a driver error as the store's fault, or undefined when it is about the request (a
 * constraint, a bad query): those stay as they are. Codes of the two drivers never collide.
 */
export function storeFault(e: unknown): StoreFault | undefined {
  const code = errorCode(e);
  if (code !== undefined) {
    const sqlite = SQLITE_FAULTS.find(([prefix]) => code.startsWith(prefix));
    if (sqlite !== undefined)
      return { cause: code, reason: sqlite[1], hint: sqlite[2], outcomeUnknown: false };
    const system = SYSTEM_FAULTS[code];
    if (system !== undefined)
      return { cause: code, reason: system[0], hint: system[1], outcomeUnknown: false };
    const server = PG_FAULTS[code] ?? PG_FAULTS[code.slice(0, 2)];
    if (server !== undefined) {
      const broken = code.startsWith("08") || code.startsWith("57P");
      return { cause: code, reason: server[0], hint: server[1], outcomeUnknown: broken };
    }
    // Node socket errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, …) on the way to PostgreSQL.
    if (/^E[A-Z]+$/.test(code)) {
      return {
        cause: code,
        reason: "the connection to the database server failed",
        hint: PG_REACH,
        outcomeUnknown: true,
      };
    }
    return undefined;
  }
  if (e instanceof Error && PG_CONNECTION_MESSAGE.test(e.message)) {
    return {
      cause: "connection",
      reason: "the connection to the database server was lost",
      hint: PG_REACH,
      outcomeUnknown: true,
    };
  }
  return undefined;
}

export type StoreOperation = "read" | "write";

/**
 * The coded error for a store fault: `store_unavailable` (503), the driver's code and message in the
 * text (`redact` cuts secrets out of the driver's message first), and the fault in `details`.
 */
export function storeUnavailable(
  where: string,
  operation: StoreOperation,
  fault: StoreFault,
  e: unknown,
  redact: (text: string) => string = (text) => text,
): SlipwayError {
  const said = redact(errorMessage(e));
  const what = operation === "write" ? `cannot write to ${where}` : `cannot read from ${where}`;
  const outcome =
    operation === "read"
      ? ""
      : fault.outcomeUnknown
        ? "; whether the change was saved is unknown"
        : "; nothing was changed";
  const driver = said === fault.cause ? fault.cause : `${fault.cause}: ${said}`;
  return new SlipwayError("store_unavailable", `${what}: ${fault.reason} (${driver})${outcome}`, {
    hint: fault.hint,
    details: { cause: fault.cause, reason: fault.reason },
    cause: e,
  });
}
