import { sql } from "kysely";

import { SlipwayError } from "../util/index.js";
import { readQuery, writeTransaction, type RepositoryContext } from "./context.js";
import { rowToEvent, validateEventInput } from "./event-log.js";
import type { EventInput, EventQuery, EventRepository, StoredEvent } from "./types.js";

export const DEFAULT_EVENT_LIMIT = 100;
export const MAX_EVENT_LIMIT = 1000;

function resolveLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_EVENT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new SlipwayError("invalid_request", `limit must be a whole number from 1 to ${MAX_EVENT_LIMIT}`);
  }
  return Math.min(limit, MAX_EVENT_LIMIT);
}

async function listEvents(ctx: RepositoryContext, query: EventQuery): Promise<StoredEvent[]> {
  const limit = resolveLimit(query.limit);
  const prefixes = query.types?.filter((t) => t !== "") ?? [];
  let q = ctx.db.selectFrom("events").selectAll();
  if (query.after !== undefined) {
    if (!Number.isInteger(query.after) || query.after < 0) {
      throw new SlipwayError("invalid_request", "after must be an event id (a whole number, 0 or more)");
    }
    q = q.where("id", ">", query.after);
  }
  if (prefixes.length > 0) {
    // substr() compares exactly on both dialects; LIKE is case-insensitive on SQLite, case-sensitive on
    // PostgreSQL, and would need `%`/`_` escaping.
    q = q.where((eb) =>
      eb.or(prefixes.map((p) => eb(sql<string>`substr(${sql.ref("type")}, 1, ${p.length})`, "=", p))),
    );
  }
  // Paging forward (`after`) takes the oldest events past the cursor so a follower never skips any;
  // without a cursor the newest `limit` are the interesting ones. Either way the answer is oldest first.
  const forward = query.after !== undefined;
  const rows = await readQuery(ctx, () =>
    q
      .orderBy("id", forward ? "asc" : "desc")
      .limit(limit)
      .execute(),
  );
  const events = rows.map(rowToEvent);
  return forward ? events : events.reverse();
}

/**
 * The append-only event log: every repository writes here inside its own transactions; `append` is for
 * events that belong to no other write (a deploy step finished, an alert fired).
 *
 * @example
 *   const unsubscribe = store.events.subscribe((e) => console.log(e.id, e.type));
 *   await store.events.append({ type: "service.deployed", actor: "ci", objectKind: "service", objectName: "web" });
 *   const recent = await store.events.list({ types: ["service."], limit: 20 });
 */
export function createEventRepository(ctx: RepositoryContext): EventRepository {
  return {
    async append(event: EventInput): Promise<StoredEvent> {
      validateEventInput(event);
      const [stored] = await writeTransaction(ctx, ({ recordEvents }) => recordEvents([event]));
      if (stored === undefined) throw new Error("inserting an event returned no row");
      return stored;
    },
    list: (query: EventQuery = {}) => listEvents(ctx, query),
    subscribe: (listener) => ctx.hub.subscribe(listener),
  };
}
