import { sql, type Kysely } from "kysely";

import { SlipwayError } from "../util/index.js";
import { createConfigRepository } from "./config-repository.js";
import type { RepositoryContext } from "./context.js";
import { createDeliveryRepository } from "./delivery-repository.js";
import { EventHub, type ListenerErrorHandler } from "./event-log.js";
import { createEventRepository } from "./event-repository.js";
import { migrateToLatest } from "./migrations/index.js";
import { createPipelineRepository } from "./pipeline-repository.js";
import type { Dialect, StoreDb } from "./schema.js";
import { createSqliteErrorMapper, openSqlite, sqliteOpenError } from "./sqlite.js";
import { errorCode, isBusy, storeFault, type StoreOperation } from "./store-errors.js";
import { createTokenRepository } from "./token-repository.js";
import type { Store, StoreOptions } from "./types.js";
import { checkWritable, WriteOutcomes } from "./writability.js";

export type * from "./types.js";
export { SQLITE_FILE_NAME } from "./sqlite.js";
export { TOKEN_SECRET_PREFIX } from "./token-repository.js";
export { newRepositoryId } from "./watched-repositories.js";
export { deliveryReplayed } from "./webhook-deliveries.js";
export { defineCodec, type JsonCodec, type CodecDefinition } from "./codec.js";
export { DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT } from "./event-repository.js";
export {
  ACTIVE_ROLLOUT_STATUSES,
  BLOCKING_ROLLOUT_STATUSES,
  FINAL_RUN_STATUSES,
  PIPELINE_RUN_STATUSES,
  ROLLOUT_STATUSES,
  ROLLOUT_STRATEGIES,
} from "./types.js";

interface OpenedDatabase {
  db: StoreDb;
  dialect: Dialect;
  location: string;
  /** Maps driver errors after open. */
  mapError: (e: unknown, operation?: StoreOperation) => unknown;
  /** Maps a failed migration to a SlipwayError. */
  migrationError: (e: unknown) => unknown;
}

async function openDatabase(options: StoreOptions): Promise<OpenedDatabase> {
  const url = options.databaseUrl;
  if (url !== undefined && url !== "") return openPostgresDatabase(url);
  const { db, location } = openSqlite(options.dataDir);
  return {
    db,
    dialect: "sqlite",
    location,
    mapError: createSqliteErrorMapper(location),
    migrationError: (e) => sqliteOpenError(location, e),
  };
}

/**
 * The PostgreSQL driver (pg) is loaded only when a database URL is given, so an embedded SQLite control
 * plane does not pay its memory (issue 10: footprint).
 */
async function openPostgresDatabase(url: string): Promise<OpenedDatabase> {
  const {
    createPostgresErrorMapper,
    isPostgresUrl,
    openPostgres,
    postgresMigrationError,
    postgresUnavailable,
  } = await import("./postgres.js");
  if (!isPostgresUrl(url)) {
    // Do not echo the URL: it may carry a password.
    throw new SlipwayError(
      "store_unavailable",
      "the database URL must start with postgres:// or postgresql://",
      {
        hint: "leave the database URL unset to use SQLite in the data directory",
      },
    );
  }
  const { db, target } = await openPostgres(url);
  const mapError = createPostgresErrorMapper(target);
  // At open, a role that may not create tables or a read-only server is the setup's problem
  // (store_unwritable); an unreachable server reads as it does when connecting.
  const migrationError = (e: unknown): unknown => {
    if (e instanceof SlipwayError) return e;
    const code = errorCode(e);
    if (code === "42501" || code === "25006" || storeFault(e) === undefined) {
      return postgresMigrationError(target, e);
    }
    return postgresUnavailable(target, e);
  };
  return { db, dialect: "postgres", location: target.location, mapError, migrationError };
}

/**
 * Two processes opening a brand-new SQLite file at once race on kysely's bookkeeping tables, which it
 * creates outside the migration transaction; the loser sees SQLITE_BUSY. A later attempt finds the
 * tables (and usually the whole schema) in place.
 */
async function migrateWithRetry(db: Kysely<unknown>, dialect: Dialect, location: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      await migrateToLatest(db, dialect, location);
      return;
    } catch (e) {
      if (dialect !== "sqlite" || !isBusy(e) || Date.now() > deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
    }
  }
}

/** Last resort for a listener that throws: a process warning, visible but not fatal. */
const warnListenerError: ListenerErrorHandler = (error, event) => {
  const reason = error instanceof Error ? error.message : String(error);
  process.emitWarning(
    `an event listener threw on event ${event.id} (${event.type}): ${reason}`,
    "SlipwayStore",
  );
};

/**
 * Opens the store and brings its schema up to date. SQLite at `<dataDir>/slipway.db` unless
 * `databaseUrl` is a `postgres://` / `postgresql://` URL. Failures are SlipwayErrors:
 * `store_unwritable` (the data directory or file cannot be written), `store_unavailable` (not a
 * database, PostgreSQL unreachable or refusing us, a schema newer than this build).
 *
 * @example
 *   const store = await openStore({ dataDir: ".slipway" });
 *   try { console.log(await store.config.currentRevision()); } finally { await store.close(); }
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  const opened = await openDatabase(options);
  const { db, dialect, location } = opened;
  try {
    await migrateWithRetry(db as Kysely<unknown>, dialect, location);
  } catch (e) {
    await db.destroy();
    throw opened.migrationError(e);
  }
  const ctx: RepositoryContext = {
    db,
    dialect,
    location,
    now: options.now ?? (() => new Date()),
    hub: new EventHub(options.onListenerError ?? warnListenerError),
    mapError: opened.mapError,
    writes: new WriteOutcomes(),
  };
  return createStore(ctx);
}

function createStore(ctx: RepositoryContext): Store {
  let closing: Promise<void> | undefined;
  return {
    dialect: ctx.dialect,
    location: ctx.location,
    config: createConfigRepository(ctx),
    events: createEventRepository(ctx),
    tokens: createTokenRepository(ctx),
    delivery: createDeliveryRepository(ctx),
    pipelines: createPipelineRepository(ctx),
    async ping() {
      try {
        await sql`select 1`.execute(ctx.db);
      } catch (e) {
        const mapped = ctx.mapError(e, "read");
        throw mapped instanceof SlipwayError
          ? mapped
          : new SlipwayError("store_unavailable", `the store at ${ctx.location} did not answer`, {
              cause: e,
            });
      }
    },
    checkWritable: () => checkWritable(ctx),
    // Idempotent: the server's shutdown path and a test's cleanup may both close the same store.
    close() {
      closing ??= ctx.db.destroy();
      return closing;
    },
  };
}
