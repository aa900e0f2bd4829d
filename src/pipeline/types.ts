/**
 * The pipeline runner's state, stored as a run's `state` JSON: one entry per job with its steps. Plain
 * JSON, rewritten on every transition (compare-and-set on the run's revision), read back after a
 * restart.
 */
import type { JsonValue } from "../store/index.js";

export const WORK_STATUSES = [
  "pending",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "skipped",
  "cancelled",
  "interrupted",
] as const;
/**
 * - pending: not started (its needs are not done, or the run is queued);
 * - running; waiting: an approval step waits for people;
 * - succeeded, failed, skipped (its `if` was false), cancelled, interrupted (the control plane stopped
 *   under it; a resume runs it again).
 */
export type WorkStatus = (typeof WORK_STATUSES)[number];
export const FINAL_WORK: readonly WorkStatus[] = [
  "succeeded",
  "failed",
  "skipped",
  "cancelled",
  "interrupted",
];

export type StepKind = "run" | "gate" | "deploy" | "approval" | "artifact" | "cache";

export interface StepState {
  index: number;
  name: string;
  kind: StepKind;
  status: WorkStatus;
  /** 1-based; > 1 after a retry. */
  attempt: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number | null;
  /** The process group while the step runs, so a restarted control plane can kill what it left. */
  pgid?: number;
  /** One line for people: "exit 1", "line coverage 84.2% ≥ 80%", "deployed v12: rollout 4 succeeded". */
  summary?: string;
  /** Structured results: coverage and test figures, the rollout id, approvals. */
  details?: JsonValue;
  logBytes?: number;
  truncated?: boolean;
  /** Allowed to fail: the job goes on and stays successful. */
  continueOnError?: boolean;
}

export interface ArtifactRef {
  name: string;
  /** `sha256:<hex>` of the files. */
  hash: string;
  /** Where the content-addressed copy lives. */
  dir: string;
  files: number;
  bytes: number;
  /** The workspace paths it was made from. */
  paths: string[];
}

export interface Approval {
  by: string;
  at: string;
}

export interface JobState {
  name: string;
  needs: string[];
  status: WorkStatus;
  attempt: number;
  startedAt?: string;
  finishedAt?: string;
  outputs: Record<string, string>;
  /** Outputs refused because they held a secret (masked names), as GitHub Actions skips them. */
  skippedOutputs?: string[];
  artifacts: ArtifactRef[];
  steps: StepState[];
  /** Why it failed, was skipped or cancelled. */
  reason?: string;
  /** The failing step's last log lines, for the run summary. */
  tail?: string[];
  /** Kept from this earlier run by a rerun of the failed jobs. */
  carriedFrom?: number;
  approvals?: Approval[];
  /** While an approval step waits. */
  waiting?: {
    step: number;
    since: string;
    until: string | null;
    count: number;
    approvers: string[] | null;
    allowSelfApproval: boolean;
  };
}

export interface RunState {
  v: 1;
  jobs: JobState[];
  /** The run's checkout. */
  workspace?: string;
  /** A failure of the run itself (no checkout, bad secret), not of a job. */
  error?: string;
}
