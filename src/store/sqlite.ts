import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync } from "node:fs";
import { join, resolve } from "node:path";

import Database from "better-sqlite3";
import {
  CompiledQuery,
  Kysely,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDialectConfig,
} from "kysely";

import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, SlipwayError } from "../util/index.js";
import type { StoreDatabase, StoreDb } from "./schema.js";
import {
  errorCode,
  errorMessage,
  isBusy,
  isReadOnly,
  storeFault,
  storeUnavailable,
  type StoreOperation,
} from "./store-errors.js";

export const SQLITE_FILE_NAME = "slipway.db";

/** How long a transaction waits for another connection's write lock before giving up (SQLITE_BUSY). */
const WRITE_LOCK_WAIT_MS = 5_000;
/**
 * SQLite's own busy wait is a synchronous sleep that blocks Node's event loop (every HTTP request), and
 * with two connections in one process it cannot even succeed: the holder cannot run while we sleep. So
 * the real waiting happens asynchronously in `beginTransaction`; this short timeout only covers the rare
 * statements outside a transaction (WAL recovery, `lastUsedAt` touches, migration bookkeeping).
 */
const BUSY_TIMEOUT_MS = 200;

const DATA_DIR_HINT = "choose a writable directory with --data-dir or SLIPWAY_DATA_DIR";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Every transaction starts with `BEGIN IMMEDIATE`. Kysely's default `BEGIN` is deferred: two connections
 * can both read, then both try to upgrade to a write lock, and the loser fails at once with
 * SQLITE_BUSY_SNAPSHOT. Taking the write lock up front makes the second writer wait and then read what
 * the first committed — which is what turns a racing apply into a clean `stale_plan`. Every transaction
 * in the store writes, so nothing is lost by it. The wait is a non-blocking retry loop (see above).
 */
class ImmediateSqliteDriver extends SqliteDriver {
  readonly #database: Database.Database;

  constructor(config: SqliteDialectConfig & { database: Database.Database }) {
    super(config);
    this.#database = config.database;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    // A rollback that failed (see below) can leave the connection inside a transaction; end it first, or
    // every later BEGIN would fail with "cannot start a transaction within a transaction".
    if (this.#database.inTransaction) this.#database.exec("rollback");
    const deadline = Date.now() + WRITE_LOCK_WAIT_MS;
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      try {
        this.#database.pragma("busy_timeout = 0");
        await connection.executeQuery(CompiledQuery.raw("begin immediate"));
        return;
      } catch (e) {
        if (!isBusy(e) || Date.now() + delay > deadline) throw e;
      } finally {
        this.#database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      }
      await sleep(delay);
    }
  }

  /**
   * Trap: on SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM (and BUSY in some cases) SQLite rolls the
   * transaction back by itself, and the explicit ROLLBACK kysely then sends fails with "cannot rollback -
   * no transaction is active". Kysely throws that instead of the error that caused it, hiding the cause.
   * So: roll back only a transaction that is still open, and never let a failed rollback replace the
   * original error (kysely rethrows the original when this returns). A transaction left open by a failed
   * rollback is ended at the next begin.
   */
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.#database.inTransaction) return;
    try {
      await connection.executeQuery(CompiledQuery.raw("rollback"));
    } catch {
      // The original error is the one to report; see above.
    }
  }
}

/**
 * SQLite does support transactional DDL; kysely's adapter says it does not, which makes its migrator run
 * without a transaction or a lock — two processes opening one file would both run `0001`. Saying yes
 * puts the whole migration run inside one (immediate) transaction, which is the lock.
 */
class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class SlipwaySqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig & { database: Database.Database };

  constructor(config: SqliteDialectConfig & { database: Database.Database }) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalSqliteAdapter();
  }
}

function unwritable(path: string, e: unknown): SlipwayError {
  const reason = errorMessage(e);
  return new SlipwayError("store_unwritable", `cannot write the Slipway database at ${path}: ${reason}`, {
    hint: DATA_DIR_HINT,
    details: { path, reason },
    cause: e,
  });
}

/** Creates the data directory and checks we may write there before SQLite reports a vaguer error. */
function prepareDataDir(dataDir: string, file: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    accessSync(dataDir, constants.W_OK | constants.X_OK);
    if (existsSync(file)) accessSync(file, constants.R_OK | constants.W_OK);
    // SQLite would create it 0644; an empty file is a new database to it, and the -wal and -shm files
    // it creates later copy the database file's mode, so all three stay owner-only.
    else closeSync(openSync(file, "a", PRIVATE_FILE_MODE));
  } catch (e) {
    // Node names the path that failed (the directory, a parent that is a file, or slipway.db itself).
    const failed = (e as NodeJS.ErrnoException).path;
    throw unwritable(failed ?? dataDir, e);
  }
}

/** Maps what better-sqlite3 throws while opening or migrating to the store's error codes. */
export function sqliteOpenError(file: string, e: unknown): unknown {
  if (e instanceof SlipwayError) return e;
  const code = errorCode(e);
  if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT") {
    return new SlipwayError(
      "store_unavailable",
      `${file} is not a usable SQLite database: ${errorMessage(e)}`,
      {
        hint: "move the file away (Slipway creates a new database), or point --data-dir elsewhere",
        details: { path: file },
        cause: e,
      },
    );
  }
  if (isReadOnly(e) || code === "SQLITE_IOERR" || code?.startsWith("SQLITE_IOERR_") === true) {
    return unwritable(file, e);
  }
  if (code?.startsWith("SQLITE_BUSY") === true) {
    return new SlipwayError("store_unavailable", `${file} is locked by another process`, {
      hint: "another Slipway may be migrating or holding a long write; try again",
      details: { path: file },
      cause: e,
    });
  }
  return new SlipwayError("store_unavailable", `cannot open ${file}: ${errorMessage(e)}`, {
    details: { path: file },
    cause: e,
  });
}

function openDatabaseFile(file: string): Database.Database {
  const database = new Database(file);
  try {
    // journal_mode is the first statement to read the file, so a garbage file fails here (SQLITE_NOTADB).
    database.pragma("journal_mode = WAL");
    database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    database.pragma("foreign_keys = ON");
    // NORMAL is durable across application crashes in WAL mode; only a power loss can drop the last commits.
    database.pragma("synchronous = NORMAL");
    return database;
  } catch (e) {
    database.close();
    throw e;
  }
}

/** Opens (creating when absent) `<dataDir>/slipway.db`. Migrations are the caller's next step. */
export function openSqlite(dataDir: string): { db: StoreDb; location: string } {
  const dir = resolve(dataDir);
  const file = join(dir, SQLITE_FILE_NAME);
  prepareDataDir(dir, file);
  let database: Database.Database;
  try {
    database = openDatabaseFile(file);
  } catch (e) {
    throw sqliteOpenError(file, e);
  }
  const db = new Kysely<StoreDatabase>({ dialect: new SlipwaySqliteDialect({ database }) });
  return { db, location: file };
}

/**
 * Error mapping after open for SQLite: a full disk, an I/O error, a file that became read-only or a lock
 * held too long is `store_unavailable` carrying SQLite's code; anything else (a constraint) stays as is.
 */
export function createSqliteErrorMapper(file: string): (e: unknown, operation?: StoreOperation) => unknown {
  return (e, operation = "write") => {
    if (e instanceof SlipwayError) return e;
    const fault = storeFault(e);
    return fault === undefined ? e : storeUnavailable(file, operation, fault, e);
  };
}
