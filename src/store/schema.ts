import type { Generated, Kysely } from "kysely";

/**
 * Row shapes as the database holds them. Portable on purpose: timestamps are ISO-8601 text (they sort
 * correctly as strings), JSON is text, numbers are integers. Repositories convert rows to the contract's
 * types in `types.ts`; nothing outside `src/store/` sees these.
 */
export interface ConfigRevisionsTable {
  revision: number;
  author: string;
  created_at: string;
  source_file: string;
  source_hash: string;
  source: string;
  git_commit: string | null;
  /** JSON: `{ add, change, delete }`. */
  summary: string;
}

export interface ObjectsTable {
  kind: string;
  name: string;
  /** JSON. */
  spec: string;
  revision: number;
}

export interface EventsTable {
  id: Generated<number>;
  at: string;
  type: string;
  actor: string;
  object_kind: string | null;
  object_name: string | null;
  /** JSON. */
  payload: string;
}

export interface TokensTable {
  id: string;
  name: string;
  role: string;
  prefix: string;
  token_hash: string;
  created_at: string;
  created_by: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface ReleasesTable {
  service: string;
  version: string;
  /** Creation order (max + 1 in the write transaction); "newest first" sorts on it. */
  seq: number;
  artifact_dir: string;
  artifact_hash: string;
  artifact_bytes: number;
  artifact_files: number;
  git_commit: string | null;
  /** JSON: the service's spec when the release was created. */
  config: string;
  config_revision: number;
  created_by: string;
  created_at: string;
}

export interface SlotsTable {
  service: string;
  env: string;
  stable: string | null;
  /** JSON: `[{ version, until }]`. */
  warm: string;
  revision: number;
  updated_at: string;
}

export interface RolloutsTable {
  /** max + 1 in the write transaction. */
  id: number;
  service: string;
  env: string;
  release_version: string;
  previous_version: string | null;
  strategy: string;
  status: string;
  /** JSON: the rollout engine's state. */
  state: string;
  reason: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  revision: number;
}

export interface VerdictsTable {
  /** max + 1 in the write transaction. */
  id: number;
  rollout_id: number;
  at: string;
  step: number | null;
  phase: string;
  result: string;
  window_start: string;
  window_end: string;
  /** JSON: the judge's whole verdict. */
  verdict: string;
}

export interface PipelineRunsTable {
  /** max + 1 in the write transaction. */
  id: number;
  pipeline: string;
  /** 1, 2, 3 … per pipeline (the pipeline's max + 1 in the write transaction). */
  number: number;
  status: string;
  /** JSON: the contract's `PipelineTrigger`. */
  trigger: string;
  /** JSON: the pipeline's config when the run was created. */
  spec: string;
  config_revision: number;
  concurrency_group: string | null;
  /** JSON: the runner's state (jobs, steps, outputs, artifacts). */
  state: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  revision: number;
}

export interface RepositoriesTable {
  /** `repo_` + 10 random base32 characters. */
  id: string;
  name: string;
  location: string;
  kind: string;
  /** Legacy (before 0004): the clear secret, "" once sealed and in every newer row. */
  webhook_secret: string;
  /** Sealed under the data key for `repositories.webhook_secret:<id>`; null until a legacy row is sealed. */
  webhook_secret_sealed: string | null;
  /** SHA-256 (hex) of the local hook's token; null without hooks. */
  hook_token_hash: string | null;
  created_by: string;
  created_at: string;
  /** JSON: `{ ref: sha }`, what the poller last saw. */
  heads: string;
}

export interface WebhookDeliveriesTable {
  provider: string;
  delivery_id: string;
  /** The watched repository's id (not a foreign key: deliveries outlive a removed repository). */
  repository: string;
  received_at: string;
  /** SHA-256 (hex) of the signed body; null for local and polled pushes. */
  body_hash: string | null;
  /** The attempt that recorded it (its runs share the claim); null for rows before 0004. */
  claim: string | null;
}

/** One row (id 1), written by the writability check (`Store.checkWritable`). */
export interface StoreHeartbeatTable {
  id: number;
  beat_at: string;
}

export interface StoreDatabase {
  config_revisions: ConfigRevisionsTable;
  objects: ObjectsTable;
  events: EventsTable;
  tokens: TokensTable;
  releases: ReleasesTable;
  slots: SlotsTable;
  rollouts: RolloutsTable;
  verdicts: VerdictsTable;
  pipeline_runs: PipelineRunsTable;
  repositories: RepositoriesTable;
  webhook_deliveries: WebhookDeliveriesTable;
  store_heartbeat: StoreHeartbeatTable;
}

export type StoreDb = Kysely<StoreDatabase>;

export type Dialect = "sqlite" | "postgres";
