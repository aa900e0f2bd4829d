import type { Transaction } from "kysely";

import { insertEvents, serializeWrites, type EventHub } from "./event-log.js";
import type { Dialect, StoreDatabase, StoreDb } from "./schema.js";
import { storeFault, type StoreOperation } from "./store-errors.js";
import type { EventInput, StoredEvent } from "./types.js";
import type { WriteOutcomes } from "./writability.js";

/** What every repository shares; built once by `openStore`. */
export interface RepositoryContext {
  db: StoreDb;
  dialect: Dialect;
  location: string;
  now: () => Date;
  hub: EventHub;
  /**
   * Turns a driver failure that is the store's (disk full, read-only, locked too long, connection lost)
   * into `store_unavailable` carrying the driver's code; returns anything else unchanged.
   */
  mapError: (e: unknown, operation?: StoreOperation) => unknown;
  /** How the last writes went, for readiness. */
  writes: WriteOutcomes;
}

/** Records events inside the current transaction; they are published after it commits. */
export type RecordEvents = (events: readonly EventInput[]) => Promise<StoredEvent[]>;

export interface WriteScope {
  trx: Transaction<StoreDatabase>;
  /** The transaction's timestamp, from the injected clock, for every row it writes. */
  at: string;
  recordEvents: RecordEvents;
}

/**
 * One write transaction: takes the write lock, lets `work` write and record events, commits, and only
 * then hands the events to subscribers. On any error nothing is written and nothing is published.
 */
export async function writeTransaction<T>(
  ctx: RepositoryContext,
  work: (scope: WriteScope) => Promise<T>,
): Promise<T> {
  const recorded: StoredEvent[] = [];
  let result: T;
  try {
    result = await ctx.db.transaction().execute(async (trx) => {
      await serializeWrites(trx, ctx.dialect);
      // Read the clock after waiting for the lock, so timestamps follow commit (and event id) order.
      const at = ctx.now().toISOString();
      const recordEvents: RecordEvents = async (events) => {
        const stored = await insertEvents(trx, at, events);
        recorded.push(...stored);
        return stored;
      };
      return work({ trx, at, recordEvents });
    });
  } catch (e) {
    const mapped = ctx.mapError(e, "write");
    ctx.writes.failed(mapped, ctx.now().toISOString());
    throw mapped;
  }
  ctx.writes.succeeded();
  ctx.hub.publish(recorded);
  return result;
}

/** Tries of a read whose connection broke; see readQuery. */
const READ_TRIES = 3;

/**
 * Runs a read, mapping "database gone" failures like writes do. A read whose connection broke
 * (PostgreSQL restarted or failed over, a backend terminated) is sent again: a read changes nothing,
 * so the caller gets the answer instead of a 503 for a fault that is already over. Trap: a terminated
 * backend first answers 57P01 on a socket that is still open, so the pool takes the connection back as
 * healthy and may hand it out again just before the socket closes (`Connection terminated`); hence up to
 * three tries a few milliseconds apart, by which time the pool has dropped it. A server that is really
 * gone fails every try at once.
 */
export async function readQuery<T>(ctx: RepositoryContext, query: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await query();
    } catch (e) {
      if (attempt >= READ_TRIES || storeFault(e)?.outcomeUnknown !== true) throw ctx.mapError(e, "read");
    }
    await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
  }
}
