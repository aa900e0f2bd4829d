/**
 * What the rollout controller does while the store cannot record its decisions (a full disk, a
 * read-only or unreachable database). The controller writes every decision before it acts, so a
 * decision that cannot be written is not acted on: the rollout holds where it is, as the store last
 * recorded it (no step, no promotion, no rollback), and the data plane goes on serving that. When a
 * write succeeds again the rollout continues from there, with its clocks moved on by the time it was
 * held, exactly as a resume after a pause does: the outage must not eat its step's pause or trip its
 * progress deadline.
 *
 * This class keeps the bookkeeping out of the driver: when each rollout's first decision failed, one
 * log line per outage (and one when it ends), the counts for /metrics, and the backoff between tries.
 */
import type { Logger } from "pino";
import { SlipwayError } from "../util/index.js";
import type { RolloutState } from "./types.js";

/** First retry after a failed write, doubled after each failure up to the cap. */
const FIRST_RETRY_MS = 500;
/** Bounded so a rollout goes on within a few seconds of the store becoming writable again. */
const MAX_RETRY_MS = 5_000;

/** A failure that is the store's (disk full, read-only, unreachable), not a bug or a lost race. */
export function isStoreUnavailable(err: unknown): err is SlipwayError {
  return err instanceof SlipwayError && (err.code === "store_unavailable" || err.code === "store_unwritable");
}

/**
 * A rollout's state with its clocks moved on by `ms`: the phase's start, the last progress, and the
 * pause's start (so a later resume does not count the held time twice). Windows of traffic are not
 * moved: the traffic in them was real and is judged.
 */
export function holdTimers(state: RolloutState, ms: number): RolloutState {
  if (ms <= 0) return state;
  return {
    ...state,
    phaseSince: state.phaseSince + ms,
    progressAt: state.progressAt + ms,
    ...(state.pausedAt === undefined ? {} : { pausedAt: state.pausedAt + ms }),
  };
}

export interface StoreHoldView {
  /** Rollouts whose last decision could not be recorded. */
  held: number;
  /** ISO time the first of them could not be recorded; null when none is held. */
  since: string | null;
  /** Why, as the store said it; null when none is held. */
  reason: string | null;
  /** Decisions (and other controller writes) the store refused since start. */
  unrecorded: number;
}

export class StoreHold {
  readonly #logger: Logger;
  /** Rollout id → when its first unrecorded decision was made (epoch ms). */
  readonly #held = new Map<number, number>();
  #since: number | undefined;
  #reason: string | null = null;
  #cause: string | null = null;
  #loggedCause: string | undefined;
  #retryAt = 0;
  #retryMs = FIRST_RETRY_MS;
  #unrecorded = 0;
  #lastFailure = 0;
  /** Whether this outage held a rollout; one that only failed reads ends without a word. */
  #heldAny = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** True while the last write failed and its backoff has not run out: make no decision now. */
  waiting(now: number): boolean {
    return this.#since !== undefined && now < this.#retryAt;
  }

  /** How long a rollout's decisions have been waiting for the store (0 when they are not). */
  heldFor(rolloutId: number, now: number): number {
    const since = this.#held.get(rolloutId);
    return since === undefined ? 0 : Math.max(0, now - since);
  }

  /**
   * A write the store refused. `rolloutId` when it was a rollout's decision (that rollout is held from
   * now on); undefined for the controller's other writes (warm releases expiring) and failed reads.
   */
  failed(err: SlipwayError, now: number, rolloutId?: number): void {
    this.#unrecorded += 1;
    this.#lastFailure = now;
    if (rolloutId !== undefined && !this.#held.has(rolloutId)) {
      this.#held.set(rolloutId, now);
      this.#heldAny = true;
    }
    this.#since ??= now;
    this.#reason = err.message;
    this.#retryAt = now + this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
    const cause = (err.details as { cause?: string } | undefined)?.cause ?? err.code;
    this.#cause = cause;
    // Once per outage, and again only if the cause changes (a full disk that became an I/O error).
    if (cause === this.#loggedCause) return;
    this.#loggedCause = cause;
    this.#logger.error(
      { err, cause, held: [...this.#held.keys()] },
      "cannot record rollout decisions: rollouts hold where they are (no step, no promotion, no rollback) " +
        "and go on once the store can be written",
    );
  }

  /** A write went through: that rollout goes on; when none is held any more, the outage is over. */
  recorded(rolloutId: number | undefined, now: number): void {
    if (rolloutId !== undefined) this.#held.delete(rolloutId);
    if (this.#since === undefined || this.#held.size > 0) return;
    if (this.#heldAny) {
      this.#logger.info(
        { heldMs: now - this.#since },
        "the store records rollout decisions again; rollouts go on from where they were",
      );
    }
    this.#heldAny = false;
    this.#since = undefined;
    this.#reason = null;
    this.#cause = null;
    this.#loggedCause = undefined;
    this.#retryAt = 0;
    this.#retryMs = FIRST_RETRY_MS;
  }

  /**
   * End of a tick that began at `startedAt`: rollouts no longer active (a command ended one) wait for
   * nothing; and when the tick met no refusal and nothing is held (the outage was a failed read or a
   * warm release's expiry), the outage is over.
   */
  tickDone(active: ReadonlySet<number>, startedAt: number, now: number): void {
    for (const id of this.#held.keys()) if (!active.has(id)) this.#held.delete(id);
    if (this.#lastFailure < startedAt) this.recorded(undefined, now);
  }

  /** The store's code for the last refusal (`SQLITE_FULL`, `25006`, …), null when nothing is held. */
  cause(): string | null {
    return this.#cause;
  }

  view(): StoreHoldView {
    return {
      held: this.#held.size,
      since: this.#since === undefined ? null : new Date(this.#since).toISOString(),
      reason: this.#reason,
      unrecorded: this.#unrecorded,
    };
  }
}
