/**
 * The triggers' public face: what starts pipeline runs besides a rerun (pushes, schedules, polling,
 * people), as the API routes, the server and the CLI see it. The implementation is triggers.ts and the
 * trigger-*.ts files it composes.
 */
import type { Logger } from "pino";
import type { LoopStats } from "../loop/index.js";
import type { DataKey } from "../secrets/index.js";
import type { PipelineRun, Store, WatchedRepository } from "../store/index.js";
import type { PipelineEngine } from "./engine-types.js";
import type { AddedRepository, AddRepositoryInput } from "./repositories.js";
import type { WebhookProvider } from "./webhooks/index.js";

export type { AddedRepository, AddRepositoryInput } from "./repositories.js";

export const POLL_INTERVAL_MS = 30_000;
export const ZERO_ID = "0".repeat(40);

export type InputValue = string | number | boolean;
export type PushSource = WebhookProvider | "local" | "poll";

/** A push as the triggers read it: a webhook's PushEvent, or one from a local hook or the poller. */
export interface TriggerPush {
  provider: PushSource;
  /** Replay protection: with a delivery id, the push is recorded with the runs it starts. */
  deliveryId: string | undefined;
  /** SHA-256 (hex) of the body a signature covered; the same body twice is a replay. */
  bodyHash?: string | null;
  /** `refs/heads/main`, `refs/tags/v1.2.0`. */
  ref: string;
  branch?: string;
  tag?: string;
  /** The commit to build; all zeros when the ref was deleted. */
  sha: string;
  before: string;
  pusher: string;
  changedPaths: string[];
  changedPathsComplete: boolean;
  deleted: boolean;
  created: boolean;
}

export interface PushOutcome {
  runs: PipelineRun[];
  /** Why nothing started, when nothing did: "no pipeline matches branch feature/x". */
  reason?: string;
  /** Each pipeline with an `on.push` that did not start, and why. */
  skipped: { pipeline: string; reason: string }[];
}

export interface ManualRunInput {
  pipeline: string;
  actor: string;
  /** `refs/heads/x`, `refs/tags/y`, or a bare branch name. */
  ref?: string | undefined;
  sha?: string | undefined;
  /** A watched repository's id or name; needed when several are watched. */
  repository?: string | undefined;
  inputs?: Record<string, InputValue> | undefined;
}

export interface ScheduleView {
  pipeline: string;
  cron: string;
  timezone: string;
  nextRun: string | null;
}

export interface Triggers {
  /** Schedules, polling, and a refresh of installed hooks to `serverUrl`. */
  start(options?: { serverUrl?: string | undefined }): Promise<void>;
  stop(): Promise<void>;
  /** The control plane's URL as given to start(), for hooks and webhook URLs. */
  readonly serverUrl: string | undefined;
  /**
   * Starts the pipelines a push matches. A push with a delivery id that was seen before (or whose
   * signed body was) throws `webhook_replayed` and starts nothing; the delivery is recorded with the
   * runs it starts (or alone when it starts none), never when starting them failed.
   */
  onPush(push: TriggerPush, repository: WatchedRepository): Promise<PushOutcome>;
  /** A repository's webhook secret, opened; `secret_unreadable` when the data key cannot. */
  webhookSecret(repository: WatchedRepository): string;
  /** A local hook's ref update, with changed paths from git. */
  readLocalPush(
    repository: WatchedRepository,
    update: { before: string; after: string; ref: string },
    pusher: string,
  ): Promise<TriggerPush>;
  startManual(input: ManualRunInput): Promise<PipelineRun>;
  /**
   * Checks the location (a path must be a git repository), stores it with its webhook secret sealed,
   * and installs the local hooks with their own token.
   */
  addRepository(input: AddRepositoryInput): Promise<AddedRepository>;
  /** Removes the local hooks (putting chained ones back), then the repository. */
  removeRepository(idOrName: string, actor: string): Promise<WatchedRepository>;
  rebuildSchedules(): Promise<void>;
  schedules(): ScheduleView[];
  /** One round of polling (tests; the poll loop calls it every 30 s). */
  pollOnce(): Promise<void>;
  /** The triggers' loops (polling), for /metrics. */
  loops(): { stats(): LoopStats }[];
}

export interface TriggersOptions {
  store: Store;
  engine: PipelineEngine;
  logger: Logger;
  /** Seals and opens the repositories' webhook secrets. */
  dataKey: DataKey;
  serverUrl?: string;
  now?: () => number;
  /** Default 30 s; 0 turns polling off. */
  pollIntervalMs?: number;
}
