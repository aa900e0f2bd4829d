/**
 * The delivery repository's contract: releases, the per (service, environment) slot, rollouts and the
 * verdicts they recorded. The status lists are values (not only types) so the store and the API check
 * input against the same list.
 */
import type { EventInput } from "./event-types.js";
import type { JsonValue } from "./types.js";

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
