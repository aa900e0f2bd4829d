/**
 * Turns a stream of probe results into a health state. Pure and clock-free: the monitor feeds results,
 * decides about grace and timing, and asks for the state.
 */

/** "unknown" until the first threshold is reached after a (re)start. */
export type HealthState = "unknown" | "healthy" | "unhealthy";

export interface HealthThresholds {
  /** Consecutive passes that make the target healthy (from unknown or unhealthy). */
  healthyAfter: number;
  /** Consecutive failures that make the target unhealthy (from unknown or healthy). */
  unhealthyAfter: number;
}

export interface HealthTransition {
  from: HealthState;
  to: HealthState;
  /** The streak that caused the change, e.g. 3 failures in a row. */
  streak: number;
}

/**
 * Consecutive successes / failures → healthy / unhealthy, with hysteresis: one pass does not undo
 * `unhealthyAfter - 1` failures, it resets the failure streak.
 *
 * @example
 *   const tracker = new HealthTracker({ healthyAfter: 1, unhealthyAfter: 2 });
 *   tracker.record(true); // { from: "unknown", to: "healthy", streak: 1 }
 *   tracker.record(false); // undefined (one failure is not enough)
 *   tracker.record(false); // { from: "healthy", to: "unhealthy", streak: 2 }
 */
export class HealthTracker {
  readonly #thresholds: HealthThresholds;
  #state: HealthState = "unknown";
  #successes = 0;
  #failures = 0;

  constructor(thresholds: HealthThresholds) {
    // Only the two thresholds: callers pass whole probe configs (interval, timeout…) as thresholds.
    for (const name of ["healthyAfter", "unhealthyAfter"] as const) {
      const value = thresholds[name];
      // A threshold of 0 would flip the state without any evidence; the config schema already refuses it.
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`${name} must be a positive integer; found ${String(value)}`);
      }
    }
    this.#thresholds = { healthyAfter: thresholds.healthyAfter, unhealthyAfter: thresholds.unhealthyAfter };
  }

  get state(): HealthState {
    return this.#state;
  }

  /** Passes in a row, 0 after a failure. */
  get successes(): number {
    return this.#successes;
  }

  /** Failures in a row, 0 after a pass. */
  get failures(): number {
    return this.#failures;
  }

  /** Feeds one result; returns the transition it caused, if any. */
  record(ok: boolean): HealthTransition | undefined {
    if (ok) {
      this.#successes += 1;
      this.#failures = 0;
      if (this.#state !== "healthy" && this.#successes >= this.#thresholds.healthyAfter) {
        return this.#moveTo("healthy", this.#successes);
      }
    } else {
      this.#failures += 1;
      this.#successes = 0;
      if (this.#state !== "unhealthy" && this.#failures >= this.#thresholds.unhealthyAfter) {
        return this.#moveTo("unhealthy", this.#failures);
      }
    }
    return undefined;
  }

  /** Back to "unknown" with no streaks, e.g. when the process behind the target was restarted. */
  reset(): void {
    this.#state = "unknown";
    this.#successes = 0;
    this.#failures = 0;
  }

  #moveTo(to: HealthState, streak: number): HealthTransition {
    const from = this.#state;
    this.#state = to;
    return { from, to, streak };
  }
}
