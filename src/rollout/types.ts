/**
 * The rollout engine's state, stored as the rollout's `state` JSON, and what the planner is told about
 * the world. Vocabulary (docs/reconcilers.md): the **canary** is the release being rolled out, whatever
 * the strategy; the **stable** release is the one it replaces (the rollout row's `release` and
 * `previous`); the **baseline** is the stable release's figures the judge compares the canary's with. All times are epoch milliseconds; everything is plain JSON (no NaN, no undefined values
 * that matter), because the state is written to the store on every transition and read back after a
 * restart.
 */
import type { AnalysisConfig, SampleWindow, Verdict } from "../judge/index.js";
import type { RolloutStatus, RolloutStrategy } from "../store/index.js";

/** The service's rollout settings resolved to numbers when the rollout started; they do not change under it. */
export interface RolloutPlanSpec {
  /** Instances each release runs when it takes all traffic. */
  instances: number;
  /** Resolved counts (a percentage of `instances`: surge rounds up, unavailable rounds down). */
  maxSurge: number;
  maxUnavailable: number;
  /** Canary steps; empty for other strategies. `pauseMs` null: no hold; "until-promote": wait for promote. */
  steps: { weight: number; pauseMs: number | "until-promote" | null }[];
  /** The analysis in numbers (analysis-spec.ts); null: the rollout is not judged. */
  analysis: (AnalysisConfig & { intervalMs: number }) | null;
  /** 0: no watch after promotion. */
  watchMs: number;
  keepWarmMs: number;
  progressDeadlineMs: number;
}

/**
 * - starting: the canary's instances are starting (initial, blue-green, rollback);
 * - scaling: canary instances for the next step are starting; the weight has not moved yet;
 * - step: a canary step holds its weight while the canary is judged;
 * - preview: blue-green's full canary set is up and judged on test traffic before the switch;
 * - rolling: instances are replaced a few at a time;
 * - promoting: the canary is scaled to full size before it takes all traffic;
 * - watching: promoted, judged against the stable release's last figures;
 * - done: final.
 */
export type RolloutPhase =
  "starting" | "scaling" | "step" | "preview" | "rolling" | "promoting" | "watching" | "done";

/** A window's figures kept in the state (the baseline for the watch); latencies trimmed. */
export interface StoredWindow {
  requests: number;
  errors: number;
  latenciesMs: number[];
}

export interface VerdictSummary {
  at: number;
  result: Verdict["result"];
  message: string;
  /** The window was set aside (a data-plane disruption), not judged: it neither passes nor counts as inconclusive. */
  setAside?: boolean;
}

export interface RolloutState {
  v: 2;
  spec: RolloutPlanSpec;
  phase: RolloutPhase;
  /** Canary step index (0-based); -1 before the first step. */
  step: number;
  /** Percent of the service's traffic the canary gets now. */
  weight: number;
  /** Instances of the canary and of the stable release the engine wants running now. */
  canaryInstances: number;
  stableInstances: number;
  /** When the current phase (or step) began; shifted forward by time spent paused. */
  phaseSince: number;
  /** Last progress (an instance became ready, a step advanced, a verdict passed), for the deadline. */
  progressAt: number;
  /** Ready instances of the canary last seen, to notice progress. */
  canaryReady: number;
  /** The open analysis window's start; absent when nothing is being judged. */
  windowStart?: number;
  /** A verdict passed during the current step (or preview). */
  stepPassed: boolean;
  /** Why the rollout is paused: a person asked, or a step ended inconclusive with `onInconclusive: pause`. */
  pausedBy?: "user" | "inconclusive";
  pausedAt?: number;
  /** Set by `promote`: end the current step's hold (`step`) or skip the remaining steps (`full`). */
  promote?: "step" | "full";
  watchUntil?: number;
  /** The stable release's figures from the last passing window, the watch's baseline. */
  baseline?: StoredWindow;
  lastVerdict?: VerdictSummary;
  verdicts: { pass: number; fail: number; inconclusive: number; setAside: number };
}

/** What the agent reports about one release's instances in the rollout's environment. */
export interface ReleaseObservation {
  ready: number;
  total: number;
  /** Instances that gave up (crash loop, port in use): a canary with one is rolled back. */
  failed: { id: string; message: string }[];
}

export interface Observed {
  canary: ReleaseObservation;
  stable: ReleaseObservation;
  /** Present when `windowWanted` asked for one: both releases over [windowStart, end]. */
  window?: {
    canary: SampleWindow;
    baseline: SampleWindow | null;
    end: number;
    /** The data plane was disrupted within the window (observe.ts `disruptionSince`): it is set aside. */
    disrupted?: { at: number; what: string };
  };
}

/** The parts of a stored rollout the planner reads. */
export interface PlannerRollout {
  strategy: RolloutStrategy;
  status: RolloutStatus;
  /** The canary: the release this rollout rolls out. */
  release: string;
  /** The stable release it replaces; null for a service's first release. */
  previous: string | null;
  state: RolloutState;
}

export interface PlannedEvent {
  /** e.g. `rollout.step`, `rollout.promoted`, `rollout.rolled-back`. */
  type: string;
  payload: Record<string, string | number | boolean | null>;
}

export interface Decision {
  status: RolloutStatus;
  state: RolloutState;
  reason: string | null;
  /** Set when the slot must change: on promotion or when the rollout ends. */
  slot?: { stable: string | null; warm: { version: string; until: string }[] };
  verdict?: { verdict: Verdict; windowStart: number; windowEnd: number; phase: string; step: number | null };
  events: PlannedEvent[];
}
