/**
 * The store's public contract. Everything the control plane needs after a restart lives behind it.
 * Two implementations of one code path: kysely over better-sqlite3 (WAL, the embedded default) and
 * kysely over pg (scale-out). Timestamps are ISO-8601 UTC strings; JSON payloads are plain values.
 */
import type { ConfigRepository } from "./config-types.js";
import type { DeliveryRepository } from "./delivery-types.js";
import type { EventRepository, StoredEvent } from "./event-types.js";
import type { PipelineRepository } from "./pipeline-types.js";
import type { TokenRepository } from "./token-types.js";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

// One file per repository's contract; this file is the door the rest of the store (and index.ts) reads.
export type * from "./config-types.js";
export type * from "./delivery-types.js";
export type * from "./event-types.js";
export type * from "./pipeline-types.js";
export type * from "./token-types.js";
export {
  ACTIVE_ROLLOUT_STATUSES,
  BLOCKING_ROLLOUT_STATUSES,
  ROLLOUT_STATUSES,
  ROLLOUT_STRATEGIES,
} from "./delivery-types.js";
export { FINAL_RUN_STATUSES, PIPELINE_RUN_STATUSES } from "./pipeline-types.js";

/** A write the store could not make, for readiness reports: no paths, no driver messages. */
export interface StoreWriteFailure {
  /** ISO time it happened. */
  at: string;
  /** The driver's or the system's code: `SQLITE_FULL`, `ENOSPC`, `53100`, `57P01`, … */
  cause: string;
  /** What it means, e.g. "the disk is full". */
  reason: string;
}

export interface StoreWritability {
  writable: boolean;
  /** ISO time of this check. */
  checkedAt: string;
  /** Why the check's own write failed (absent when writable). */
  failure?: StoreWriteFailure;
  /** The last failed write of any caller, unless a write succeeded after it. */
  lastWriteError?: StoreWriteFailure;
  /** Writes that failed because of the store since it was opened. */
  failedWrites: number;
}

export interface Store {
  readonly dialect: "sqlite" | "postgres";
  /** Where the data lives, for messages: a file path, or the URL with its password masked. */
  readonly location: string;
  readonly config: ConfigRepository;
  readonly events: EventRepository;
  readonly tokens: TokenRepository;
  readonly delivery: DeliveryRepository;
  readonly pipelines: PipelineRepository;
  /** Cheap round-trip: the store answers a read. */
  ping(): Promise<void>;
  /**
   * Whether the store takes a committed write now (the heartbeat row; on SQLite also enough free disk
   * space), and the last write of any caller that failed because of the store. Never throws.
   */
  checkWritable(): Promise<StoreWritability>;
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
