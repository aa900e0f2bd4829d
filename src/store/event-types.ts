/**
 * The event log's contract: an append-only record of what happened (who, to what, with what payload),
 * read back by query and pushed to subscribers after the write that recorded it commits.
 */
import type { JsonValue } from "./types.js";

export interface EventInput {
  /** Dotted, past tense: `config.applied`, `service.created`, `token.revoked`. */
  type: string;
  actor: string;
  objectKind?: string | undefined;
  objectName?: string | undefined;
  payload?: JsonValue | undefined;
}

export interface StoredEvent {
  id: number;
  at: string;
  type: string;
  actor: string;
  objectKind: string | null;
  objectName: string | null;
  payload: JsonValue;
}

export interface EventQuery {
  /** Only events with id > after. */
  after?: number | undefined;
  /**
   * At most `limit` events (default 100, max 1000), always returned oldest first. With `after`: the
   * FIRST `limit` events after it (so callers can page forward); without: the NEWEST `limit` events.
   */
  limit?: number | undefined;
  /** Type prefixes, e.g. ["config.", "token.created"]. */
  types?: string[] | undefined;
}

export interface EventRepository {
  append(event: EventInput): Promise<StoredEvent>;
  list(query?: EventQuery): Promise<StoredEvent[]>;
  /** Called after commit with each new event, in id order. Returns an unsubscribe function. */
  subscribe(listener: (event: StoredEvent) => void): () => void;
}
