import { sql, type Selectable, type Transaction } from "kysely";

import { SlipwayError } from "../util/index.js";
import type { Dialect, EventsTable, StoreDatabase } from "./schema.js";
import type { EventInput, JsonValue, StoredEvent } from "./types.js";

/** Arbitrary but fixed: "slipway" in ASCII, so it is recognisable in pg_locks. */
const WRITE_LOCK_KEY = 0x736c69707761;

/** Rows per INSERT, well under SQLite's and PostgreSQL's bound-parameter limits. */
const INSERT_CHUNK = 500;

/**
 * `unknown`, not `void`: the contract's listeners return void, but an async function fits that type too,
 * and its rejection must be caught rather than become an unhandled rejection.
 */
export type EventListener = (event: StoredEvent) => unknown;
export type ListenerErrorHandler = (error: unknown, event: StoredEvent) => void;

/**
 * In-process fan-out of committed events. Writers call `publish` only after their transaction
 * committed, so a listener never sees an event that was rolled back. A listener that throws (or
 * rejects) is reported to `onListenerError` and does not stop the others or fail the writer.
 */
export class EventHub {
  /** Entries, not the functions: the same function subscribed twice is two independent subscriptions. */
  readonly #listeners = new Set<{ listener: EventListener }>();
  readonly #onListenerError: ListenerErrorHandler;

  constructor(onListenerError: ListenerErrorHandler) {
    this.#onListenerError = onListenerError;
  }

  subscribe(listener: EventListener): () => void {
    const entry = { listener };
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  publish(events: readonly StoredEvent[]): void {
    const ordered = [...events].sort((a, b) => a.id - b.id);
    for (const event of ordered) {
      for (const { listener } of [...this.#listeners]) this.#deliver(listener, event);
    }
  }

  #deliver(listener: EventListener, event: StoredEvent): void {
    try {
      const result = listener(event);
      if (result instanceof Promise) {
        result.catch((e: unknown) => {
          this.#report(e, event);
        });
      }
    } catch (e) {
      this.#report(e, event);
    }
  }

  #report(error: unknown, event: StoredEvent): void {
    try {
      this.#onListenerError(error, event);
    } catch {
      // The error reporter itself failed; there is nowhere left to report to, and the writer must go on.
    }
  }
}

/**
 * Makes event-writing transactions take turns on PostgreSQL, so event ids become visible in id order:
 * without it, a transaction holding id 10 may commit after one holding id 11, and a reader paging with
 * `after=11` would never see 10. The lock also serialises applies, so a racing apply reads the winner's
 * revision and fails with `stale_plan`. SQLite needs nothing here: every transaction is `BEGIN IMMEDIATE`.
 */
export async function serializeWrites(trx: Transaction<StoreDatabase>, dialect: Dialect): Promise<void> {
  if (dialect === "postgres") await sql`select pg_advisory_xact_lock(${WRITE_LOCK_KEY})`.execute(trx);
}

export function validateEventInput(event: EventInput): void {
  if (typeof event.type !== "string" || event.type.trim() === "") {
    throw new SlipwayError("invalid_request", "an event needs a non-empty type, e.g. `service.deployed`");
  }
  if (typeof event.actor !== "string" || event.actor.trim() === "") {
    throw new SlipwayError("invalid_request", `event ${event.type} needs a non-empty actor`);
  }
}

export function rowToEvent(row: Selectable<EventsTable>): StoredEvent {
  return {
    id: row.id,
    at: row.at,
    type: row.type,
    actor: row.actor,
    objectKind: row.object_kind,
    objectName: row.object_name,
    payload: JSON.parse(row.payload) as JsonValue,
  };
}

/** Inserts inside the caller's transaction; the caller publishes the result after commit. */
export async function insertEvents(
  trx: Transaction<StoreDatabase>,
  at: string,
  events: readonly EventInput[],
): Promise<StoredEvent[]> {
  const stored: StoredEvent[] = [];
  for (let i = 0; i < events.length; i += INSERT_CHUNK) {
    const rows = events.slice(i, i + INSERT_CHUNK).map((event) => ({
      at,
      type: event.type,
      actor: event.actor,
      object_kind: event.objectKind ?? null,
      object_name: event.objectName ?? null,
      payload: JSON.stringify(event.payload ?? null),
    }));
    const inserted = await trx.insertInto("events").values(rows).returningAll().execute();
    stored.push(...inserted.map(rowToEvent));
  }
  // Neither SQLite nor PostgreSQL promises RETURNING order; ids are assigned in insertion order.
  return stored.sort((a, b) => a.id - b.id);
}
