/**
 * The pipeline repository's contract: runs (their jobs and steps live in the run's `state` JSON, owned
 * by the runner), watched repositories, and webhook deliveries seen (replay protection).
 */
import type { EventInput } from "./event-types.js";
import type { JsonValue } from "./types.js";

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
