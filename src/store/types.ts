/**
 * The store's public contract. Everything the control plane needs after a restart lives behind it.
 * Two implementations of one code path: kysely over better-sqlite3 (WAL, the embedded default) and
 * kysely over pg (scale-out). Timestamps are ISO-8601 UTC strings; JSON payloads are plain values.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type ObjectKind = "project" | "environment" | "service" | "pipeline";

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

// ---------------------------------------------------------------------------------------------------
// Delivery: releases, the per (service, environment) slot, rollouts and the verdicts they recorded.

/** What a release is made of; immutable once created. */
export interface ReleaseInput {
  service: string;
  /** Unique per service: letters, digits and `._-`, starting with a letter or digit, at most 64. */
  version: string;
  /** Absolute path of the artifact's copy in the release store (`<dataDir>/releases/...`). */
  artifactDir: string;
  /** `sha256:<hex>` over the artifact's files (paths, modes, contents). */
  artifactHash: string;
  artifactBytes: number;
  artifactFiles: number;
  /** The git commit the artifact was built from, when known. */
  commit: string | null;
  /** The service's spec as applied when the release was created (command, env, health, rollout). */
  config: JsonValue;
  /** Config revision that spec came from. */
  configRevision: number;
  createdBy: string;
}

export interface Release extends ReleaseInput {
  createdAt: string;
}

/** A release kept running at weight 0 so a rollback to it is instant, until `until` (ISO time). */
export interface WarmRelease {
  version: string;
  until: string;
}

/** What one service runs in one environment outside (and between) rollouts. */
export interface Slot {
  service: string;
  env: string;
  /** The release that takes all traffic when no rollout is active; null before the first deploy. */
  stable: string | null;
  warm: WarmRelease[];
  /** Compare-and-set counter, +1 on every write. */
  revision: number;
  updatedAt: string;
}

export const ROLLOUT_STATUSES = [
  "progressing",
  "paused",
  "watching",
  "succeeded",
  "rolled-back",
  "aborted",
  "failed",
] as const;
/**
 * - progressing / paused: the rollout owns the slot; no other deploy may start.
 * - watching: promoted (the new release takes all traffic and is the slot's stable), still judged
 *   against the old release's figures; a new deploy supersedes the watch.
 * - succeeded, rolled-back, aborted, failed: final.
 */
export type RolloutStatus = (typeof ROLLOUT_STATUSES)[number];
export const ACTIVE_ROLLOUT_STATUSES: readonly RolloutStatus[] = ["progressing", "paused", "watching"];
/** Statuses that block another deploy of the same service to the same environment. */
export const BLOCKING_ROLLOUT_STATUSES: readonly RolloutStatus[] = ["progressing", "paused"];

export const ROLLOUT_STRATEGIES = ["initial", "rolling", "blue-green", "canary", "rollback"] as const;
export type RolloutStrategy = (typeof ROLLOUT_STRATEGIES)[number];

export interface RolloutInput {
  service: string;
  env: string;
  /** The version being rolled out. */
  release: string;
  /** The slot's stable release when the rollout started (what a rollback returns to). */
  previous: string | null;
  strategy: RolloutStrategy;
  status: RolloutStatus;
  /** The rollout engine's own state (phase, step, weights, analysis window …), opaque to the store. */
  state: JsonValue;
  reason?: string | null;
  createdBy: string;
}

export interface Rollout extends Omit<RolloutInput, "reason"> {
  id: number;
  reason: string | null;
  createdAt: string;
  updatedAt: string;
  /** Set when the status became final. */
  finishedAt: string | null;
  /** Compare-and-set counter, +1 on every write. */
  revision: number;
}

export interface VerdictInput {
  /** 0-based canary step, or null outside steps (pre-promotion, watch). */
  step: number | null;
  /** The engine's phase when it judged, e.g. `analysis`, `preview`, `watch`. */
  phase: string;
  result: "pass" | "fail" | "inconclusive";
  /** The measured window, ISO times. */
  windowStart: string;
  windowEnd: string;
  /** The judge's whole Verdict: values, limits, samples, p-values, which check decided. */
  verdict: JsonValue;
}

export interface StoredVerdict extends VerdictInput {
  id: number;
  rolloutId: number;
  at: string;
}

export interface RolloutUpdate {
  id: number;
  /** The revision read; the write is refused with `conflict` when the stored one differs. */
  expectedRevision: number;
  status: RolloutStatus;
  state: JsonValue;
  reason?: string | null;
  /** Written in the same transaction (the active rollout owns its slot). */
  slot?: { stable: string | null; warm: WarmRelease[] };
  verdict?: VerdictInput;
  events?: EventInput[];
}

export interface RolloutQuery {
  service?: string;
  env?: string;
  /** Only progressing, paused and watching ones. */
  active?: boolean;
  /** Default 20, max 1000; newest first. */
  limit?: number;
}

export interface DeliveryRepository {
  /**
   * Creates a release and appends `release.created`. The same version with the same artifact hash is
   * not an error: the stored release comes back with `created: false` and nothing is written. The same
   * version with another hash is `conflict` (releases are immutable).
   */
  createRelease(input: ReleaseInput): Promise<{ release: Release; created: boolean }>;
  getRelease(service: string, version: string): Promise<Release | undefined>;
  /** Newest first. */
  listReleases(service: string): Promise<Release[]>;

  getSlot(service: string, env: string): Promise<Slot | undefined>;
  listSlots(): Promise<Slot[]>;
  /**
   * Writes a slot outside a rollout (a warm release expired, a service was removed): compare-and-set
   * on `expectedRevision` (0 creates it); `conflict` when it moved. Appends `events`.
   */
  updateSlot(
    service: string,
    env: string,
    expectedRevision: number,
    next: { stable: string | null; warm: WarmRelease[] },
    events?: EventInput[],
  ): Promise<Slot>;

  /**
   * In one transaction: refuses with `conflict` (details `{ rolloutId }`) when the slot has a
   * progressing or paused rollout; ends a watching one as `succeeded` ("superseded by rollout N");
   * creates the slot (stable null) when missing; inserts the rollout (id = previous max + 1); appends
   * `rollout.started` (payload: id, release, previous, strategy) plus `events`.
   */
  startRollout(input: RolloutInput, events?: EventInput[]): Promise<Rollout>;
  /**
   * Compare-and-set on the rollout's revision; `conflict` when it moved, `not_found` for an unknown id.
   * A final status sets `finishedAt`. The slot, the verdict and the events are written in the same
   * transaction.
   */
  updateRollout(update: RolloutUpdate): Promise<Rollout>;
  /** `not_found` when absent. */
  getRollout(id: number): Promise<Rollout>;
  listRollouts(query?: RolloutQuery): Promise<Rollout[]>;
  /** The newest `limit` (default 50, max 1000) verdicts of a rollout, oldest first. */
  listVerdicts(rolloutId: number, options?: { limit?: number }): Promise<StoredVerdict[]>;
}

// ---------------------------------------------------------------------------------------------------
// Pipelines: runs (their jobs and steps live in the run's `state` JSON, owned by the runner),
// watched repositories, and webhook deliveries seen (replay protection).

export const PIPELINE_RUN_STATUSES = [
  "queued",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "cancelled",
  "interrupted",
] as const;
/**
 * - queued: created, waiting for its concurrency group or a runner slot;
 * - running: jobs are running; waiting: nothing runs, a job waits for an approval;
 * - succeeded, failed, cancelled: final; interrupted: the control plane stopped under it (final until
 *   someone resumes it, which creates no new run: the same run goes back to queued).
 */
export type PipelineRunStatus = (typeof PIPELINE_RUN_STATUSES)[number];
export const FINAL_RUN_STATUSES: readonly PipelineRunStatus[] = [
  "succeeded",
  "failed",
  "cancelled",
  "interrupted",
];

export type TriggerKind = "push" | "schedule" | "manual" | "api" | "rerun" | "local";

export interface PipelineTrigger {
  kind: TriggerKind;
  /** Who: `token:ci`, `local:alice`, `github:octocat`, `system:schedule`. */
  actor: string;
  /** `refs/heads/main`, `refs/tags/v1.2.0`, or null (e.g. a schedule on the default branch). */
  ref: string | null;
  sha: string | null;
  branch: string | null;
  tag: string | null;
  /** The watched repository's id, when the run came from one. */
  repository: string | null;
  inputs: Record<string, string | number | boolean>;
  deliveryId?: string;
  /** For schedules: the planned fire time (ISO). */
  scheduledAt?: string;
  /** For reruns: the run whose failed jobs are repeated. */
  rerunOf?: number;
  /** Paths the push changed (for path filters and the run page). */
  changedPaths?: string[];
  /**
   * The delivery that caused the run: recorded in `webhook_deliveries` in the run's own transaction, so
   * a delivery is recorded only with what it caused. Not stored in the run.
   */
  delivery?: DeliveryClaim;
}

/** What makes a delivery a replay: its id per provider, or (when signed) its body per repository. */
export interface DeliveryKey {
  /** `github`, `gitlab`, `gitea`, `local`, `poll`. */
  provider: string;
  deliveryId: string;
  /** The watched repository's id. */
  repository: string;
  /** SHA-256 (hex) of the body a signature or token covered; null when nothing was signed. */
  bodyHash: string | null;
}

/** A delivery as one attempt records it; the runs that attempt starts share the random `claim`. */
export interface DeliveryClaim extends DeliveryKey {
  claim: string;
}

/** A delivery seen before, and what matched: its id, or the same body under another id. */
export interface SeenDelivery {
  provider: string;
  deliveryId: string;
  receivedAt: string;
  match: "delivery_id" | "body";
  claim: string | null;
}

export interface PipelineRunInput {
  pipeline: string;
  trigger: PipelineTrigger;
  /** The pipeline's config as applied when the run was created. */
  spec: JsonValue;
  configRevision: number;
  /** The concurrency group after interpolation, or null. */
  concurrencyGroup: string | null;
  /** The runner's state (jobs, steps, outputs, artifacts), opaque to the store. */
  state: JsonValue;
  status?: PipelineRunStatus;
}

export interface PipelineRun extends Omit<PipelineRunInput, "status"> {
  id: number;
  /** 1, 2, 3 … per pipeline. */
  number: number;
  status: PipelineRunStatus;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Compare-and-set counter. */
  revision: number;
}

export interface PipelineRunUpdate {
  id: number;
  expectedRevision: number;
  status: PipelineRunStatus;
  state: JsonValue;
  /** Set startedAt (when still null) to the transaction time. */
  markStarted?: boolean;
  events?: EventInput[];
}

export interface PipelineRunQuery {
  pipeline?: string;
  statuses?: PipelineRunStatus[];
  concurrencyGroup?: string;
  /** Only runs with id < before (paging back). */
  before?: number;
  /** Default 20, max 1000; newest first. */
  limit?: number;
}

export interface RepositoryInput {
  /** `repo_` + 10 base32 characters; generated when absent (see `newRepositoryId`). */
  id?: string;
  /** A label, unique. */
  name: string;
  /** An absolute path of a local repository, or a clone URL. */
  location: string;
  kind: "path" | "url";
  /**
   * The webhook secret (GitHub/Gitea HMAC key, GitLab token) SEALED under the data key for the context
   * `repositories.webhook_secret:<id>` (src/secrets). The store never sees it in clear.
   */
  sealedWebhookSecret: string;
  /** SHA-256 (hex) of the local git hook's token, or null when no hook is installed. */
  hookTokenHash?: string | null;
  createdBy: string;
}

export interface WatchedRepository {
  id: string;
  name: string;
  location: string;
  kind: "path" | "url";
  /** Null only for a row an earlier version wrote in clear, until the next start seals it. */
  sealedWebhookSecret: string | null;
  hookTokenHash: string | null;
  createdBy: string;
  createdAt: string;
  /** What the poller last saw: ref → sha. */
  heads: Record<string, string>;
}

export interface PipelineRepository {
  /**
   * Creates a run with number = the pipeline's highest + 1 (status `queued` unless given) and appends
   * `pipeline.run.created` (objectKind "pipeline", objectName pipeline, payload: id, number, trigger
   * kind, actor, ref, sha). With `trigger.delivery`, the delivery is recorded in the same transaction;
   * `webhook_replayed` (nothing written) when another attempt recorded it.
   */
  createRun(input: PipelineRunInput): Promise<PipelineRun>;
  /** `not_found` when absent. */
  getRun(id: number): Promise<PipelineRun>;
  listRuns(query?: PipelineRunQuery): Promise<PipelineRun[]>;
  /**
   * Compare-and-set on revision (`conflict` when it moved, `not_found` for an unknown id); a final
   * status sets finishedAt (and clears it for a non-final one: a resumed run). Events appended in the
   * same transaction.
   */
  updateRun(update: PipelineRunUpdate): Promise<PipelineRun>;

  /** `conflict` when the name or the location is taken. Appends `repository.added`. */
  addRepository(input: RepositoryInput): Promise<WatchedRepository>;
  listRepositories(): Promise<WatchedRepository[]>;
  /** By id or name; undefined when absent. */
  findRepository(idOrName: string): Promise<WatchedRepository | undefined>;
  /** Appends `repository.removed`; `not_found` when absent. */
  removeRepository(idOrName: string, actor: string): Promise<void>;
  /** Replaces the heads the poller saw. */
  setRepositoryHeads(id: string, heads: Record<string, string>): Promise<void>;
  /** Replaces the local hook's token hash (a reinstalled hook gets a new token); `not_found` when absent. */
  setHookTokenHash(id: string, hash: string | null): Promise<void>;
  /**
   * Seals the webhook secrets that rows written before migration 0004 hold in clear, all in one
   * transaction: `seal(id, clear)` returns the sealed value, and the clear column is emptied. Returns
   * the ids sealed (none when every row is sealed already). If `seal` throws, nothing is written.
   */
  sealClearWebhookSecrets(seal: (id: string, clear: string) => string): Promise<string[]>;

  /** The delivery this one repeats (same provider and id, or same repository and body), if any. */
  findDelivery(key: DeliveryKey): Promise<SeenDelivery | undefined>;
  /**
   * Records a delivery that started no run. True when recorded now or by the same claim before (its
   * runs' transaction); false when another attempt recorded it (a replay), and then nothing is written.
   */
  recordDelivery(claim: DeliveryClaim): Promise<boolean>;
}

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
