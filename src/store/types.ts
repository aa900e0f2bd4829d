/**
 * The store's public contract. Everything the control plane needs after a restart lives behind it.
 * Two implementations of one code path: kysely over better-sqlite3 (WAL, the embedded default) and
 * kysely over pg (scale-out). Timestamps are ISO-8601 UTC strings; JSON payloads are plain values.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type ObjectKind = "project" | "environment" | "service";

/** One declared object as last applied (the "current" side of a plan). */
export interface StoredObject {
  kind: ObjectKind;
  name: string;
  spec: JsonValue;
  /** Config revision that last created or changed it. */
  revision: number;
}

/** One change of an apply; computed by `config`'s planner, executed by the store. */
export interface ObjectChangeInput {
  action: "create" | "update" | "delete";
  kind: ObjectKind;
  name: string;
  /** New spec for create/update; absent for delete. */
  spec?: JsonValue;
  /** Field-level diff, recorded in the event payload so timelines can show what changed. */
  fields?: JsonValue;
}

export interface ApplyInput {
  /** Revision the plan was computed against; the apply is refused (`stale_plan`) if it moved on. */
  baseRevision: number;
  author: string;
  sourceFile: string;
  sourceHash: string;
  source: string;
  gitCommit?: string | undefined;
  changes: ObjectChangeInput[];
  summary: { add: number; change: number; delete: number };
}

export interface ConfigRevision {
  revision: number;
  author: string;
  createdAt: string;
  sourceFile: string;
  sourceHash: string;
  gitCommit: string | null;
  summary: { add: number; change: number; delete: number };
}

export interface ConfigRevisionWithSource extends ConfigRevision {
  source: string;
}

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

export type TokenRole = "admin" | "operator" | "viewer";

export interface TokenRecord {
  id: string;
  name: string;
  role: TokenRole;
  /**
   * First characters of the secret, safe to show (`slw_ab12…`): the 8 characters after `slw_`, without
   * `slw_` itself — show it as `slw_${prefix}…`.
   */
  prefix: string;
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface ConfigRepository {
  /** 0 before the first apply. */
  currentRevision(): Promise<number>;
  listObjects(): Promise<StoredObject[]>;
  /**
   * Atomically: check `baseRevision` is current (else `stale_plan`), write the object changes, record
   * revision base+1, append one event per changed object plus `config.applied`. A concurrent apply that
   * loses the race gets `apply_conflict`. On any error nothing is written.
   */
  apply(input: ApplyInput): Promise<ConfigRevision>;
  /** Newest first; `before` pages back (revisions < before); limit default 100, max 1000. */
  listRevisions(opts?: { limit?: number; before?: number }): Promise<ConfigRevision[]>;
  /** `not_found` if absent. */
  getRevision(revision: number): Promise<ConfigRevisionWithSource>;
}

export interface EventRepository {
  append(event: EventInput): Promise<StoredEvent>;
  list(query?: EventQuery): Promise<StoredEvent[]>;
  /** Called after commit with each new event, in id order. Returns an unsubscribe function. */
  subscribe(listener: (event: StoredEvent) => void): () => void;
}

export interface TokenRepository {
  /** Returns the secret once; only its SHA-256 is stored. Appends `token.created`. */
  create(input: {
    name: string;
    role: TokenRole;
    createdBy: string;
  }): Promise<{ token: string; record: TokenRecord }>;
  list(): Promise<TokenRecord[]>;
  /** `not_found` for an unknown id; revoking twice is a no-op that returns the record. Appends `token.revoked`. */
  revoke(id: string, actor: string): Promise<TokenRecord>;
  /** The record for a valid, unrevoked secret (and touches lastUsedAt at most once a minute), else undefined. */
  verify(secret: string): Promise<TokenRecord | undefined>;
  /**
   * Every token ever created, revoked ones included — so revoking all tokens does not reopen a
   * "no tokens yet" first-run path.
   */
  count(): Promise<number>;
}

export interface Store {
  readonly dialect: "sqlite" | "postgres";
  /** Where the data lives, for messages: a file path, or the URL with its password masked. */
  readonly location: string;
  readonly config: ConfigRepository;
  readonly events: EventRepository;
  readonly tokens: TokenRepository;
  /** Cheap round-trip for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** `postgres://…` selects PostgreSQL; absent selects SQLite at `<dataDir>/slipway.db`. */
  databaseUrl?: string | undefined;
  dataDir: string;
  /** Injected clock for timestamps (tests). */
  now?: () => Date;
  /**
   * Told when an event listener throws or rejects; the other listeners and the writer carry on.
   * Default: `process.emitWarning`.
   */
  onListenerError?: (error: unknown, event: StoredEvent) => void;
}
